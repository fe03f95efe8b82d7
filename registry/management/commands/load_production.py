from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from registry.production import ProductionFileError, default_path, load_production


class Command(BaseCommand):
    help = "Load USGS production by country from the reference CSV, read in place (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--file", type=Path, default=None, help=f"default: {default_path()}")

    def handle(self, *args, file, **options):
        path = file or default_path()
        try:
            rows = load_production(path)
        except (ProductionFileError, FileNotFoundError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Production statistics: {rows} rows from {path}."))
