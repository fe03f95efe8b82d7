from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from registry.production import ProductionFileError, default_path, load_production


class Command(BaseCommand):
    help = (
        "Load USGS production by country from a CSV, per version; figures corrected by a "
        "person are kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("--file", type=Path, default=None, help=f"default: {default_path()}")

    def handle(self, *args, file, **options):
        path = file or default_path()
        try:
            report = load_production(path)
        except (ProductionFileError, FileNotFoundError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Production statistics: {report.total} rows from {path}.")
        self.stdout.write("\n".join(report.lines()))
