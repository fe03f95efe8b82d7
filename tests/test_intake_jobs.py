"""Import jobs: run once (a second delivery changes nothing), fail cleanly, read large
files streaming in bounded memory, and let other import kinds register in one line."""

from __future__ import annotations

import tracemalloc

import pytest

from intake import kinds, services
from intake.context import Context, Head
from intake.models import ImportJob
from intake.tasks import run_import_task
from registry.models import ProductionStatistic

from .intake_helpers import PRODUCTION_HEADER, csv_bytes, production_row, run, upload

pytestmark = pytest.mark.django_db


def queued(data: bytes, dry_run=False) -> ImportJob:
    return services.job_create(
        user=None, upload=upload(data, "p.csv"), dry_run=dry_run, run_later=False
    )


def test_a_job_delivered_twice_runs_once():
    job = queued(csv_bytes([PRODUCTION_HEADER, production_row()]))
    assert run_import_task(job.pk) == "done"
    job.refresh_from_db()
    finished = job.finished_at
    assert run_import_task(job.pk) is None  # the second delivery finds it done
    job.refresh_from_db()
    assert job.finished_at == finished and job.attempts == 1
    assert ProductionStatistic.objects.filter(product="cobalt", year=2024).count() == 1


def test_a_job_whose_worker_died_starts_over_and_fails_cleanly_after_the_last_attempt():
    job = queued(csv_bytes([PRODUCTION_HEADER, production_row()]))
    # As a worker killed mid-import leaves it: running, its transaction rolled back.
    ImportJob.objects.filter(pk=job.pk).update(status="running", attempts=1)
    assert run_import_task(job.pk) == "done"
    job.refresh_from_db()
    assert job.attempts == 2 and job.summary["written"] is True

    stuck = queued(csv_bytes([PRODUCTION_HEADER, production_row("AU")]))
    ImportJob.objects.filter(pk=stuck.pk).update(status="running", attempts=services.MAX_ATTEMPTS)
    run_import_task(stuck.pk)
    stuck.refresh_from_db()
    assert stuck.status == "failed"
    assert stuck.error == f"Stopped after {services.MAX_ATTEMPTS} attempts."
    assert not ProductionStatistic.objects.filter(country="AU", year=2024).exists()


def test_an_unexpected_error_fails_the_job_and_writes_nothing(monkeypatch):
    def explode(table, ctx):
        ProductionStatistic.objects.all().delete()
        raise RuntimeError("boom")

    job = queued(csv_bytes([PRODUCTION_HEADER, production_row()]))
    run(csv_bytes([PRODUCTION_HEADER, production_row("ID")]), dry_run=False)
    monkeypatch.setattr("intake.tables.run_table", explode)
    services.run_job(job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and "nothing was written" in job.error
    assert ProductionStatistic.objects.filter(country="ID", year=2024).exists()


def _rows(n: int) -> bytes:
    rows = [PRODUCTION_HEADER]
    rows += [
        production_row(
            year=1800 + i % 400, country=("CD", "ID")[i // 400 % 2], product=f"p{i // 800}"
        )
        for i in range(n)
    ]
    return csv_bytes(rows)


def _peak_of_dry_run(n: int) -> int:
    job = queued(_rows(n), dry_run=True)
    tracemalloc.start()
    services.run_job(job.pk)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    job.refresh_from_db()
    assert job.summary["tables"]["production"]["created"] == n, job.problems[:3]
    return peak


def test_a_file_ten_times_longer_does_not_take_ten_times_the_memory():
    small, large = _peak_of_dry_run(1_000), _peak_of_dry_run(10_000)
    # Batches are written as they come: only the file's key hashes grow with it.
    assert large < 2.5 * small, (small, large)


def test_another_kind_registers_in_one_line_and_is_detected_from_the_file():
    seen = []

    def check(ctx: Context) -> None:
        ctx.count("declarations", "rows")
        ctx.problem("A required answer is missing.", sheet="Declaration", cell="D15")
        ctx.info["version"] = "2.1"
        seen.append(ctx.path)

    kinds.register(
        kinds.Kind(
            "example",
            "An example template",
            detect=lambda head: head.header[:1] == ["example template"],
            check=check,
            commit=check,
        )
    )
    try:
        assert kinds.detect(Head("csv", [], ["example template"])).code == "example"
        job = run(csv_bytes([["Example template"], ["x"]]), dry_run=True)
        assert job.kind == "example" and seen
        assert job.summary["version"] == "2.1"
        assert job.problems == [
            {
                "severity": "error",
                "message": "A required answer is missing.",
                "sheet": "Declaration",
                "cell": "D15",
            }
        ]
    finally:
        kinds.KINDS.pop("example")
