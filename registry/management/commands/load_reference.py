from django.core.management import call_command
from django.core.management.base import BaseCommand

from registry.reference import load_expectation_profiles


class Command(BaseCommand):
    help = "Load every kind of reference data (idempotent): taxonomy, standards, profiles."

    def handle(self, *args, **options):
        call_command("load_taxonomy", stdout=self.stdout)
        created = load_expectation_profiles()
        self.stdout.write(self.style.SUCCESS(f"Expectation profiles: {created} created."))
