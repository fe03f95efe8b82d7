from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from taxonomy.services import STANDARDS_FILE, ReferenceDataError, load_standards


class Command(BaseCommand):
    help = (
        "Load the taxonomy matrix and the reference standards, per version; what people "
        "changed is kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("--file", type=Path, default=STANDARDS_FILE)

    def handle(self, *args, file: Path, **options):
        try:
            report = load_standards(file)
        except (ReferenceDataError, FileNotFoundError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Taxonomy: {report.cells} cells; the file holds {report.standards} standards, "
            f"{report.standard_cells} judgements, {report.links} links."
        )
        self.stdout.write("\n".join(report.lines()))
