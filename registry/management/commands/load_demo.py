from pathlib import Path

from django.core.management.base import BaseCommand

from registry.demo import DEMO_FILE, load_demo


class Command(BaseCommand):
    help = "Load the demo registry: real companies, mines and illustrative attestations."

    def add_arguments(self, parser):
        parser.add_argument("--file", type=Path, default=DEMO_FILE)

    def handle(self, *args, file: Path, **options):
        counts = load_demo(file)
        summary = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Demo data: {summary}."))
