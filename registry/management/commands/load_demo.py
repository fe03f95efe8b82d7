from pathlib import Path

from django.core.management.base import BaseCommand

from registry.demo import DEMO_FILE, FLOWS_FILE, load_demo, load_demo_flows


class Command(BaseCommand):
    help = "Load the demo registry: real companies, mines and illustrative attestations."

    def add_arguments(self, parser):
        parser.add_argument("--file", type=Path, default=DEMO_FILE)

    def handle(self, *args, file: Path, **options):
        counts = load_demo(file)
        if FLOWS_FILE.exists():
            counts.update(load_demo_flows(FLOWS_FILE))
        from passports.demo import load_demo_passports

        counts.update(load_demo_passports())
        summary = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Demo data: {summary}."))
