from pathlib import Path

from django.core.management.base import BaseCommand

from datasets.demo import load_demo_registry
from registry.demo import DEMO_FILE


class Command(BaseCommand):
    help = (
        "Load the demo registry (real companies and mines, illustrative attestations, flows "
        "and passports), marked as demo. Only into an empty registry."
    )

    def add_arguments(self, parser):
        parser.add_argument("--file", type=Path, default=DEMO_FILE)

    def handle(self, *args, file: Path, **options):
        counts = load_demo_registry(file)
        if counts is None:
            self.stdout.write(
                "Demo data not loaded: the registry already holds companies, organisations, "
                "attestations or passports (demo data goes only into an empty registry)."
            )
            return
        summary = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Demo data (illustrative, marked demo): {summary}."))
