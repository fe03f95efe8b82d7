"""Benchmark bulk imports: a generated production or relationships file of N rows is
imported (a commit) and the command prints rows per second and peak memory.

Everything it writes is rolled back at the end (unless --keep): run it on a registry
with the reference data loaded (minerals, stages).
"""

from __future__ import annotations

import csv
import datetime as dt
import gc
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_countries import countries

from intake import services
from intake.tables import TABLES
from registry.models import Company
from taxonomy.models import Cell, Mineral


class _Rollback(Exception):
    pass


def _rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def production_file(path: Path, rows: int) -> None:
    codes = [code for code, _ in countries][:240]
    years = range(1800, 2200)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(TABLES["production"].columns)
        n = 0
        for product in ("cobalt", "cobalt hydroxide", "cobalt sulfate", "cobalt metal"):
            for stage in ("mining", "refining"):
                for year in years:
                    for code in codes:
                        if n == rows:
                            return
                        amount = f"{(n % 997) + 0.5}"
                        writer.writerow(
                            ["cobalt", stage, product, year, code, "", amount, "kt", "bench"]
                        )
                        n += 1
    if n < rows:
        raise CommandError(f"At most {n} distinct production rows can be generated.")


def relationships_file(path: Path, rows: int) -> None:
    """Suppliers (mines) to buyers (refiners): no cycle, every row a new flow."""
    buyers = max(rows // 1000, 1)
    suppliers = -(-rows // buyers)
    refining = Cell.objects.get(code="application.refining")
    mining = Cell.objects.get(code="application.mining")
    made = Company.objects.bulk_create(
        [Company(legal_name=f"Bench buyer {i}", country="FI") for i in range(buyers)]
        + [Company(legal_name=f"Bench supplier {i}", country="CD") for i in range(suppliers)]
    )
    for company in made:
        company.stages.add(refining if company.legal_name.startswith("Bench buyer") else mining)
    start = dt.date(2025, 1, 1).isoformat()
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(TABLES["relationships"].columns)
        n = 0
        for s in range(suppliers):
            for b in range(buyers):
                if n == rows:
                    return
                writer.writerow(
                    [
                        f"Bench supplier {s}",
                        f"Bench buyer {b}",
                        "cobalt",
                        "mining",
                        "intermediate",
                        start,
                        "",
                        f"{(n % 50) + 1}",
                        "t",
                        "",
                        "",
                    ]
                )
                n += 1


class Command(BaseCommand):
    help = "Import a generated N-row production or relationships file; print rows/s and memory."

    def add_arguments(self, parser):
        parser.add_argument(
            "--table", choices=["production", "relationships"], default="production"
        )
        parser.add_argument("--rows", type=int, default=100_000)
        parser.add_argument("--dry-run", action="store_true", help="Time the dry run instead")
        parser.add_argument(
            "--tracemalloc",
            action="store_true",
            help="Also measure Python's peak allocations (slower)",
        )
        parser.add_argument("--keep", action="store_true", help="Keep what was imported")

    def handle(self, *args, **options):
        if not Mineral.objects.filter(code="cobalt").exists():
            raise CommandError("Load the reference data first (manage.py load_reference).")
        rows, table = options["rows"], options["table"]
        result = {}
        try:
            with transaction.atomic():
                with tempfile.TemporaryDirectory() as folder:
                    path = Path(folder) / f"{table}.csv"
                    (production_file if table == "production" else relationships_file)(path, rows)
                    size = path.stat().st_size
                    with path.open("rb") as handle:
                        job = services.job_create(
                            user=None,
                            upload=File(handle, name=path.name),
                            kind=table,
                            dry_run=options["dry_run"],
                            run_later=False,
                        )
                gc.collect()
                rss_before = _rss_kb()
                if options["tracemalloc"]:
                    tracemalloc.start()
                started = time.perf_counter()
                services.run_job(job.pk)
                seconds = time.perf_counter() - started
                peak = tracemalloc.get_traced_memory()[1] if options["tracemalloc"] else None
                tracemalloc.stop()
                job.refresh_from_db()
                result = {
                    "job": job,
                    "seconds": seconds,
                    "size": size,
                    "rss_before": rss_before,
                    "rss_peak": _rss_kb(),
                    "py_peak": peak,
                }
                if not options["keep"]:
                    raise _Rollback
        except _Rollback:
            pass
        job = result["job"]
        counts = job.summary.get("tables", {}).get(table, {})
        self.stdout.write(
            f"{table}: {rows} rows ({result['size'] / 1e6:.1f} MB CSV), "
            f"{'dry run' if options['dry_run'] else 'commit'}, status {job.status}, "
            f"errors {job.summary.get('errors')}, created {counts.get('created')}"
        )
        self.stdout.write(
            f"  {result['seconds']:.1f} s, {rows / result['seconds']:,.0f} rows/s; "
            f"peak RSS {result['rss_peak'] / 1024:.0f} MB "
            f"(+{(result['rss_peak'] - result['rss_before']) / 1024:.0f} MB during the import)"
            + (
                f"; Python peak allocations {result['py_peak'] / 1e6:.1f} MB"
                if result["py_peak"] is not None
                else ""
            )
        )
        if job.error:
            self.stdout.write(f"  error: {job.error}")
