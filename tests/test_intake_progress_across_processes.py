"""An import's progress, written by a Celery worker in another process, is read live by
the web process (the API) while the import's transaction is still open.

The worker is a real prefork worker on Redis (database 15, a queue of this run's own) and
the test database, as in test_intake_worker_kill.py; it is started without CACHE_URL, so
each process has a cache of its own: what the API shows comes from the job row, written
by the worker on a connection of its own.
"""

from __future__ import annotations

import os
import time
import uuid

import pytest
from celery import Celery
from django.db import connection
from rest_framework.test import APIClient

from registry.models import ProductionStatistic

from . import test_registry_tasks_worker_kill as kill
from .factories import make_user
from .intake_helpers import upload
from .test_intake_worker_kill import PRODUCT, big_file

BROKER = "redis://127.0.0.1:6379/15"
QUEUE = f"intake-progress-{os.getpid()}-{uuid.uuid4().hex[:8]}"

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (set DATABASE_URL=postgresql://...): the worker is a separate "
        "process on the test database, writing while the import's transaction is open",
    ),
]


@pytest.fixture(scope="module", autouse=True)
def reload_reference_after(reference_reloaded_after):
    """Transactional tests empty the database (see conftest)."""


@pytest.fixture
def worker(transactional_db, tmp_path, settings, monkeypatch):
    monkeypatch.setattr(kill, "BROKER", BROKER)
    monkeypatch.setattr(kill, "QUEUE", QUEUE)
    monkeypatch.setenv("MEDIA_ROOT", str(settings.MEDIA_ROOT))
    monkeypatch.delenv("CACHE_URL", raising=False)  # a cache of its own, not shared
    kill.purge_queue()
    worker = kill.Worker(tmp_path / "worker.log")
    try:
        yield worker
    finally:
        worker.stop()
        kill.purge_queue()


@kill.needs_redis
@pytest.mark.django_db(transaction=True)
def test_the_api_shows_the_progress_a_worker_in_another_process_makes(worker):
    from intake import services
    from taxonomy.services import load_standards

    load_standards()
    data = big_file()
    rows = data.count(b"\n") - 1
    job = services.job_create(
        user=None, upload=upload(data, "production.csv"), dry_run=False, run_later=False
    )
    web = APIClient()
    web.force_authenticate(make_user(None, is_staff=True))
    assert worker.wait_for(r"\bready\.", timeout=60), worker.text()

    publisher = Celery("publisher", broker=BROKER)
    try:
        publisher.send_task("intake.run_import", args=[job.pk], queue=QUEUE)
    finally:
        publisher.close()

    seen = []  # rows done, as the API showed them while the job ran
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        shown = web.get(f"/api/intake/{job.pk}/").json()
        if shown["status"] not in ("queued", "running"):
            break
        if shown["status"] == "running" and shown["rows_done"]:
            assert ProductionStatistic.objects.filter(product=PRODUCT).count() == 0, (
                "rows of an unfinished import are visible"
            )
            assert shown["rows_total"] == rows and 0 < shown["percent"] < 100, shown
            seen.append(shown["rows_done"])
        time.sleep(0.2)
    log = worker.text()
    assert shown["status"] == "done", (shown, log[-3000:])
    assert (shown["rows_done"], shown["percent"]) == (rows, 100)
    progress = sorted(set(seen))
    assert len(progress) >= 2, f"no live progress seen while it ran: {seen}"
    assert seen == sorted(seen), "progress went backwards"
    assert progress[0] < rows, "progress seen only at the end"
    print(f"\nprogress read by the web process while the worker ran: {progress}")
