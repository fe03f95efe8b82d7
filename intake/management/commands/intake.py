"""Import a file from the command line, with a progress bar (on stderr)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from intake import services


class Command(BaseCommand):
    help = (
        "Import FILE (CSV or XLSX): a dry run lists every problem; without --dry-run it "
        "writes all rows or none. Runs as staff unless --user names the importer."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--kind", help="The kind of file (default: read from the file)")
        parser.add_argument("--dry-run", action="store_true", help="Check only, write nothing")
        parser.add_argument("--json", action="store_true", help="Print the summary as JSON")
        parser.add_argument("--user", help="Import as this user (their organisation's rules)")

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No file {path}.")
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"No user {options['user']!r}.")
        quiet = options["json"] or options["verbosity"] == 0
        try:
            with path.open("rb") as handle:
                job = services.job_create(
                    user=user,
                    upload=File(handle, name=path.name),
                    kind=options["kind"],
                    dry_run=options["dry_run"],
                    run_later=False,
                )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from exc
        bar = None if quiet and not sys.stderr.isatty() else _Bar(sys.stderr)
        job = services.run_job(job.pk, on_progress=bar.update if bar else None)
        if bar:
            bar.close()
        job.refresh_from_db()
        summary = _summary(job)
        if options["json"]:
            self.stdout.write(json.dumps(summary, indent=2, default=str))
        else:
            self._print(job, summary)
        if job.status == job.Status.FAILED:
            raise CommandError(job.error)

    def _print(self, job, summary):
        self.stdout.write(
            f"Import #{job.pk}: {job.kind}, {job.status}, {'dry run' if job.dry_run else 'commit'}"
        )
        for table, counts in summary["tables"].items():
            self.stdout.write(
                f"  {table}: {counts['rows']} rows, {counts['created']} created, "
                f"{counts['updated']} updated, {counts['matched']} matched"
            )
        for p in summary["problems"][:50]:
            where = p.get("cell") or (f"row {p['row']}" if "row" in p else "")
            column = f" [{p['column']}]" if p.get("column") else ""
            self.stdout.write(
                f"  {p['severity']}: {p.get('sheet', '')} {where}{column}: {p['message']}"
            )
        if len(summary["problems"]) > 50:
            self.stdout.write(f"  ... and {len(summary['problems']) - 50} more (--json for all)")
        self.stdout.write("Written." if summary["written"] else "Nothing written.")


def _summary(job) -> dict:
    """kind, version, company, counts per table, problems, written."""
    s = job.summary or {}
    return {
        "job": job.pk,
        "kind": job.kind,
        "version": s.get("version"),
        "company": s.get("company"),
        "status": job.status,
        "dry_run": job.dry_run,
        "tables": s.get("tables", {}),
        "problems": job.problems,
        "written": bool(s.get("written")),
        "error": job.error or None,
    }


class _Bar:
    """A progress bar on a terminal (one line, redrawn), or a line now and then."""

    def __init__(self, stream, width: int = 30):
        self.stream, self.width, self.tty = stream, width, stream.isatty()
        self.last = -1

    def update(self, done: int, total: int | None) -> None:
        percent = min(int(done * 100 / total), 100) if total else 0
        if percent == self.last and not self.tty:
            return
        self.last = percent
        filled = self.width * percent // 100
        line = f"[{'#' * filled}{'.' * (self.width - filled)}] {percent:3d}% {done} rows"
        if self.tty:
            self.stream.write("\r" + line)
        elif percent % 10 == 0:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
