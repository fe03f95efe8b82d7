from django.core.management import call_command
from django.core.management.base import BaseCommand

from registry.production import load_production
from registry.reference import load_expectation_profiles, load_rules


class Command(BaseCommand):
    help = (
        "Load every kind of reference data (idempotent): taxonomy, standards, profiles, "
        "rules, USGS production."
    )

    def handle(self, *args, **options):
        call_command("load_taxonomy", stdout=self.stdout)
        created = load_expectation_profiles()
        self.stdout.write(self.style.SUCCESS(f"Expectation profiles: {created} created."))
        self.stdout.write(self.style.SUCCESS(f"Rules: {load_rules()} created."))
        rows = load_production()
        self.stdout.write(self.style.SUCCESS(f"Production statistics: {rows} rows loaded."))
        from passports.reference import load_attributes

        count = load_attributes()
        self.stdout.write(self.style.SUCCESS(f"Battery Pass attributes: {count} loaded."))
