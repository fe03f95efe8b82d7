"""A real worker is killed in the middle of an import: nothing is half written, and the
redelivered job runs again from the start and writes every row once.

A prefork worker runs as a separate process against the test database and Redis (its own
database, 14, and a queue of this run's own), as in test_registry_tasks_worker_kill.py.
Its pool child gets SIGKILL while the import's transaction is open; late acknowledgement
and reject-on-worker-lost put the job back on the queue, and the new child starts over.
"""

from __future__ import annotations

import os
import signal
import time
import uuid

import pytest
from celery import Celery
from django.db import connection
from django_countries import countries

from intake.models import ImportJob
from registry.models import ProductionStatistic

from . import test_registry_tasks_worker_kill as kill
from .intake_helpers import PRODUCTION_HEADER, csv_bytes, upload

BROKER = "redis://127.0.0.1:6379/14"
QUEUE = f"intake-kill-{os.getpid()}-{uuid.uuid4().hex[:8]}"
ROWS = 40_000
PRODUCT = "kill-test cobalt"

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (set DATABASE_URL=postgresql://...): the worker is a separate "
        "process on the test database",
    ),
]


@pytest.fixture(scope="module", autouse=True)
def reload_reference_after(reference_reloaded_after):
    """Transactional tests empty the database (see conftest)."""


@pytest.fixture
def worker(transactional_db, tmp_path, settings, monkeypatch):
    monkeypatch.setattr(kill, "BROKER", BROKER)
    monkeypatch.setattr(kill, "QUEUE", QUEUE)
    # The worker reads the stored file from the same folder as this test.
    monkeypatch.setenv("MEDIA_ROOT", str(settings.MEDIA_ROOT))
    kill.purge_queue()
    worker = kill.Worker(tmp_path / "worker.log")
    try:
        yield worker
    finally:
        worker.stop()
        kill.purge_queue()


def big_file() -> bytes:
    codes = [code for code, _ in countries][:50]
    rows = [PRODUCTION_HEADER]
    for n in range(ROWS):
        stage, year, code = (
            ("mining", "refining")[n % 2],
            1800 + (n // 100) % 400,
            codes[n // 2 % 50],
        )
        rows.append(["cobalt", stage, PRODUCT, year, code, "", n + 1, "t", "kill test"])
    return csv_bytes(rows)


def written() -> int:
    return ProductionStatistic.objects.filter(product=PRODUCT).count()


@kill.needs_redis
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_import_leaves_nothing_half_written_and_the_job_reruns(worker):
    from intake import services
    from taxonomy.services import load_standards

    load_standards()  # the minerals (transactional tests start empty)
    data = big_file()
    rows = data.count(b"\n") - 1
    job = services.job_create(
        user=None, upload=upload(data, "production.csv"), dry_run=False, run_later=False
    )
    assert worker.wait_for(r"\bready\.", timeout=60), worker.text()
    pool = kill.children(worker.process.pid)
    assert len(pool) == 1, (pool, worker.text())

    publisher = Celery("publisher", broker=BROKER)
    try:
        publisher.send_task("intake.run_import", args=[job.pk], queue=QUEUE)
    finally:
        publisher.close()

    # Once the import has been running a while, kill the pool child that runs it.
    deadline = time.monotonic() + 60
    while ImportJob.objects.get(pk=job.pk).status != "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(2.0)
    os.kill(pool[0], signal.SIGKILL)
    at_kill = ImportJob.objects.get(pk=job.pk)
    assert at_kill.status == "running" and at_kill.attempts == 1, "not killed mid-import"
    assert written() == 0, "rows of a killed import are visible"

    deadline = time.monotonic() + 180
    while ImportJob.objects.get(pk=job.pk).status == "running" and time.monotonic() < deadline:
        assert written() in (0, rows), "half an import is visible"
        time.sleep(0.2)
    job.refresh_from_db()
    log = worker.text()
    assert "WorkerLostError" in log and "signal 9 (SIGKILL)" in log, log[-3000:]
    assert job.status == "done", (job.status, job.error, log[-3000:])
    assert job.attempts == 2 and job.summary["written"] is True
    assert job.summary["tables"]["production"]["created"] == rows
    assert written() == rows
    print(
        f"\nintake worker kill: killed during attempt 1 with 0 rows visible; attempt 2 wrote {rows}"
    )
