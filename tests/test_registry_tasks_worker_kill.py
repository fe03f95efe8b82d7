"""A real worker is killed in the middle of the expiry job; the job still completes, once.

A prefork worker (the production shape) runs as a separate process against the test
database and Redis. Half-way through the job its pool child gets SIGKILL, as from the
OOM killer. Late acknowledgement and reject-on-worker-lost put the job back on the queue at
once; the new child resumes it. Every due attestation ends expired with exactly one
"expired" status change. Without those settings the job is lost with the child (measured
before this test existed: 1,071 of 20,000 attestations expired, the rest left verified).
"""

import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import suppress
from pathlib import Path
from urllib.parse import quote

import pytest
from celery import Celery
from django.conf import settings
from django.db import connection
from django.db.models import Count

from registry.models import Attestation, StatusChange
from registry.services import expire_attestations
from taxonomy.models import Standard

from .factories import make_company, make_org

REDIS = ("127.0.0.1", 6379)
BROKER = "redis://127.0.0.1:6379/12"  # this module's Redis database
# A queue of this run's own: two runs of the suite at once (on this machine or a CI runner)
# share the Redis database, and must neither take each other's jobs nor purge them.
QUEUE = f"kill-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
TOTAL = 5_000
BATCH = 50  # small batches, so the job lasts long enough to be killed in the middle
KILL_AFTER = 1_000  # expired attestations seen before the pool child is killed


def today():
    # Asked at each use: a constant taken when the tests are collected is yesterday once
    # a run crosses midnight.
    return dt.date.today()


def redis_available() -> bool:
    try:
        socket.create_connection(REDIS, timeout=0.5).close()
        return True
    except OSError:
        return False


pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (set DATABASE_URL=postgresql://...): the worker is a separate "
        "process on the test database, and two jobs share work through row locks (SKIP LOCKED)",
    ),
]
needs_redis = pytest.mark.skipif(not redis_available(), reason="no Redis on 127.0.0.1:6379")


@pytest.fixture(scope="module", autouse=True)
def reload_reference_after(reference_reloaded_after):
    """Transactional tests empty the database (see conftest)."""


def purge_queue() -> None:
    """Remove this run's queue, binding and unacknowledged jobs; nothing else."""
    import redis

    client = redis.Redis.from_url(BROKER)
    try:
        client.delete(QUEUE, f"_kombu.binding.{QUEUE}", f"_kombu.binding_permanent.{QUEUE}")
        for tag, raw in client.hgetall("unacked").items():
            with suppress(ValueError, IndexError, TypeError):
                if json.loads(raw)[2] == QUEUE:  # [message, exchange, routing key]
                    client.hdel("unacked", tag)
                    client.zrem("unacked_index", tag)
    finally:
        client.close()


def database_url() -> str:
    """The test database (not the one named in DATABASE_URL), for the worker process."""
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    user = quote(db["USER"] or "postgres", safe="")
    host = db["HOST"] or "127.0.0.1"
    port = db["PORT"] or 5432
    return f"postgresql://{user}{password}@{host}:{port}/{db['NAME']}"


def children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (the pool children of a prefork worker)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


class Worker:
    def __init__(self, log: Path):
        self.log = log
        env = {
            **os.environ,
            "DEBUG": "1",
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": BROKER,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "EXPIRY_BATCH_SIZE": str(BATCH),
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
        # Only the test database (no replicas), no results, and log lines the test can read.
        for name in ("CELERY_RESULT_BACKEND", "DATABASE_REPLICA_URLS"):
            env.pop(name, None)
        env["LOG_FORMAT"] = "text"
        command = [sys.executable, "-m", "celery", "-A", "config", "worker"]
        command += ["--pool", "prefork", "--concurrency", "1", "-l", "info", "-Q", QUEUE]
        command += [
            "--without-gossip",
            "--without-mingle",
            "--hostname",
            f"{QUEUE}@%h",
        ]
        self.out = log.open("wb")
        # A session of its own, so teardown can end the worker and its pool children together.
        self.process = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env=env,
            stdout=self.out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout: float) -> re.Match | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.text())
            if match or self.process.poll() is not None:
                return match
            time.sleep(0.1)
        return None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # warm shutdown
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.out.close()


@pytest.fixture
def worker(transactional_db, tmp_path):
    """A prefork worker with one pool child; stopped (before the database is flushed) and
    its queue purged whatever happens."""
    purge_queue()
    worker = Worker(tmp_path / "worker.log")
    try:
        yield worker
    finally:
        worker.stop()
        purge_queue()


def create_due_attestations(n: int) -> list[int]:
    if not Standard.objects.filter(code="irma").exists():
        from taxonomy.services import load_standards

        load_standards()
    standard = Standard.objects.get(code="irma")
    company, owner = make_company("Lapsing Co"), make_org("Logger")
    start, end = dt.date(2024, 1, 1), dt.date(2025, 12, 31)
    attestations = Attestation.objects.bulk_create(
        Attestation(
            company=company,
            standard=standard,
            type="third_party_audit",
            status="verified",
            valid_from=start,
            valid_until=end,
            owner=owner,
            visibility="public",
        )
        for _ in range(n)
    )
    StatusChange.objects.bulk_create(
        StatusChange(attestation=a, from_status=before, to_status=after, effective=start)
        for a in attestations
        for before, after in [("", "submitted"), ("submitted", "under_review")]
        + [("under_review", "verified")]
    )
    return [a.pk for a in attestations]


def expired_count() -> int:
    return Attestation.objects.filter(status="expired").count()


@needs_redis
@pytest.mark.django_db(transaction=True)
def test_a_killed_pool_child_does_not_lose_the_expiry_job(worker):
    ids = create_due_attestations(TOTAL)
    assert worker.wait_for(r"\bready\.", timeout=60), worker.text()
    pool = children(worker.process.pid)
    assert len(pool) == 1, (pool, worker.text())

    started = time.monotonic()
    publisher = Celery("publisher", broker=BROKER)
    try:
        job = publisher.send_task(
            "registry.expire_attestations", args=[today().isoformat()], queue=QUEUE
        )
    finally:
        publisher.close()

    # Let the job get going, then kill the pool child that runs it.
    deadline = started + 60
    while (done := expired_count()) < KILL_AFTER and time.monotonic() < deadline:
        time.sleep(0.01)
    victim = children(worker.process.pid)
    assert victim == pool, "the pool child changed before the kill"
    os.kill(victim[0], signal.SIGKILL)
    killed_at = time.monotonic() - started
    assert 0 < done < TOTAL, f"not killed in the middle of the job: {done} of {TOTAL} expired"

    # The worker notices, puts the job back on the queue and a new child finishes it.
    deadline = time.monotonic() + 60
    while expired_count() < TOTAL and time.monotonic() < deadline:
        time.sleep(0.1)
    finished_at = time.monotonic() - started
    finished = expired_count()
    assert finished == TOTAL, (
        f"the job died with its worker: {finished} of {TOTAL} expired, 60 s after the kill"
        f"\n{worker.text()[-3000:]}"
    )
    rerun = worker.wait_for(
        rf"Task registry\.expire_attestations\[{job.id}\] succeeded in [\d.]+s: (\d+)", 30
    )
    log = worker.text()
    assert "WorkerLostError" in log and "signal 9 (SIGKILL)" in log, log  # the job was hit
    assert rerun, log
    assert children(worker.process.pid) not in ([], pool), "no new pool child"

    # All expired, each exactly once.
    assert expired_count() == TOTAL
    assert not Attestation.objects.filter(pk__in=ids).exclude(status="expired").exists()
    expirations = StatusChange.objects.filter(to_status="expired")
    assert expirations.count() == TOTAL
    twice = expirations.values("attestation").annotate(n=Count("id")).filter(n__gt=1)
    assert not twice.exists()
    assert set(expirations.values_list("effective", flat=True)) == {today()}
    assert set(expirations.values_list("reason", flat=True)) == {"validity ended"}
    # Version 1 -> 2: no attestation went through the expiry twice.
    assert set(Attestation.objects.values_list("version", flat=True)) == {2}
    history = Attestation.history.filter(status="expired")
    assert history.count() == TOTAL
    assert history.values("id").distinct().count() == TOTAL

    # The first run's committed batches stayed; the redelivered run did only the rest.
    first_run = TOTAL - int(rerun.group(1))
    assert done <= first_run < TOTAL, (done, first_run)
    print(
        f"\nworker kill: {done} of {TOTAL} expired when the pool child was killed "
        f"({killed_at:.2f} s after enqueue); first run committed {first_run}, redelivered "
        f"run expired {TOTAL - first_run}; all {TOTAL} expired {finished_at:.2f} s after "
        f"enqueue (batch size {BATCH})"
    )


@pytest.mark.django_db(transaction=True)
def test_two_expiry_jobs_at_once_expire_each_attestation_once(settings):
    """Two workers (a second beat, a redelivery while the first still runs) share the work:
    SKIP LOCKED hands each batch to one of them."""
    settings.EXPIRY_BATCH_SIZE = 20
    n = 1_000
    create_due_attestations(n)
    barrier = threading.Barrier(2)
    counts = [None, None]

    def run(i):
        try:
            barrier.wait()
            counts[i] = expire_attestations(today())
        except Exception as exc:  # noqa: BLE001 - the outcome is what is asserted
            counts[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(isinstance(c, int) for c in counts), counts
    assert sum(counts) == n, counts
    assert expired_count() == n
    expirations = StatusChange.objects.filter(to_status="expired")
    assert expirations.count() == n
    assert not expirations.values("attestation").annotate(k=Count("id")).filter(k__gt=1).exists()
    assert set(Attestation.objects.values_list("version", flat=True)) == {2}
    print(f"\ntwo jobs at once: {counts[0]} + {counts[1]} = {n}")
