from django.core.management import call_command
from django.core.management.base import BaseCommand

from passports.reference import load_attributes
from registry.production import load_production
from registry.reference import load_expectation_profiles, load_rules


class Command(BaseCommand):
    help = (
        "Load every reference dataset (taxonomy, standards, profiles, rules, USGS production, "
        "Battery Pass attributes) per version of its file: new records are added, records "
        "still as loaded are updated, records a person changed are left alone. Says which."
    )

    def handle(self, *args, **options):
        call_command("load_taxonomy", stdout=self.stdout)
        for report in (
            load_expectation_profiles(),
            load_rules(),
            load_production(),
            load_attributes(),
        ):
            self.stdout.write("\n".join(report.lines()))
