from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Load every kind of reference data (idempotent): the taxonomy and its standards."

    def handle(self, *args, **options):
        call_command("load_taxonomy", stdout=self.stdout)
