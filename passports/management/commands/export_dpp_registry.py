"""Every passport's record for the EU digital product passport registry, as JSON or CSV."""

import contextlib
import csv
import json

from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder

from passports import registry_record


def _write(out, fmt: str) -> int:
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=registry_record.FIELDS)
        writer.writeheader()
        for record in registry_record.all_records():
            writer.writerow(record)
            count += 1
        return count
    out.write("[")
    for record in registry_record.all_records():
        out.write(("," if count else "") + "\n" + json.dumps(record, cls=DjangoJSONEncoder))
        count += 1
    out.write("\n]\n")
    return count


class Command(BaseCommand):
    help = "Export the EU DPP registry records of all published passports (JSON or CSV)."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=("json", "csv"), default="json")
        parser.add_argument("--output", help="A file to write (default: standard output)")
        parser.add_argument(
            "--submit",
            action="store_true",
            help="Also send them to DPP_REGISTRY_URL (off while it is empty)",
        )

    def handle(self, *args, **options):
        with contextlib.ExitStack() as stack:
            out = self.stdout
            out.ending = ""  # the records' own line ends
            if options["output"]:
                try:
                    out = stack.enter_context(
                        open(options["output"], "w", encoding="utf-8", newline="")  # noqa: SIM115
                    )
                except OSError as exc:
                    raise CommandError(f"Cannot write {options['output']}: {exc}") from exc
            count = _write(out, options["format"])
        self.stderr.write(f"{count} registry records exported.")
        if options["submit"]:
            try:
                result = registry_record.submit()
            except registry_record.SubmissionFailed as exc:
                raise CommandError(str(exc)) from exc
            self.stderr.write(result.message)
