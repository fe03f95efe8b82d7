"""The daily expiry job, run by a real Celery worker through a real Redis broker."""

import datetime as dt
import os
import socket
import uuid
from contextlib import suppress
from unittest import mock

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import transaction

from config.celery import app
from config.jobs import enqueue
from registry.models import Attestation
from registry.services import expire_attestations
from registry.tasks import expire_attestations_task

from .factories import make_attestation, make_company, make_org

REDIS = ("127.0.0.1", 6379)


def redis_available() -> bool:
    try:
        socket.create_connection(REDIS, timeout=0.5).close()
        return True
    except OSError:
        return False


needs_redis = pytest.mark.skipif(not redis_available(), reason="no Redis on 127.0.0.1:6379")
# Redis database 13 is this module's (the worker-kill test uses 12), and every key of this
# run starts with a prefix of its own: two runs of the suite at once share the database and
# must neither take each other's jobs nor purge them.
BROKER = "redis://127.0.0.1:6379/13"
PREFIX = f"test-celery-{os.getpid()}-{uuid.uuid4().hex[:8]}:"


class Boom(Exception):
    pass


@pytest.fixture(scope="module", autouse=True)
def reload_reference_after(reference_reloaded_after):
    """Transactional tests empty the database (see conftest)."""


def forget_connections():
    """The app caches its result backend and broker pool (an eager test may have made them
    already); drop them so a change of URLs takes effect."""
    app._backend_cache = None
    app._local.__dict__.pop("backend", None)
    app._after_fork()  # forgets the broker pool and the producer pool


def purge_keys():
    """Remove this run's keys (queues, unacknowledged jobs, results); nothing else."""
    import redis

    client = redis.Redis.from_url(BROKER)
    try:
        for key in client.scan_iter(match=f"{PREFIX}*"):
            client.delete(key)
    finally:
        client.close()


@pytest.fixture
def redis_worker():
    names = ("broker_url", "result_backend", "task_always_eager")
    names += ("broker_transport_options", "result_backend_transport_options")
    saved = {k: app.conf[k] for k in names}
    prefixed = {"global_keyprefix": PREFIX}
    app.conf.update(
        broker_url=BROKER,
        result_backend=BROKER,
        task_always_eager=False,
        broker_transport_options={**app.conf.broker_transport_options, **prefixed},
        result_backend_transport_options=prefixed,
    )
    forget_connections()
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING"):
            yield
    finally:
        app.conf.update(saved)
        forget_connections()
        purge_keys()


@needs_redis
@pytest.mark.django_db(transaction=True)
def test_expiry_job_runs_on_a_worker_through_the_broker(redis_worker):
    from registry.reference import load_expectation_profiles
    from taxonomy.services import load_standards

    load_standards()
    load_expectation_profiles()
    org = make_org("Logger")
    company = make_company("Lapsing Co")
    lapsed = make_attestation(company, "irma", org, valid_until="2025-12-31")
    current = make_attestation(company, "rmi-rmap", org, valid_until="2030-12-31")

    result = expire_attestations_task.delay("2026-01-02")
    assert result.get(timeout=60) == 1
    assert Attestation.objects.get(pk=lapsed.pk).status == "expired"
    assert Attestation.objects.get(pk=current.pk).status == "verified"
    change = Attestation.objects.get(pk=lapsed.pk).status_changes.last()
    assert change.effective == dt.date(2026, 1, 2)
    # Running it again (a second beat, a retry) changes nothing.
    assert expire_attestations_task.delay("2026-01-02").get(timeout=60) == 0


# --- enqueue: a job is sent only once its transaction has committed ----------------------


def _lapsed():
    return make_attestation(make_company(), "irma", make_org(), valid_until="2025-12-31")


def _status(attestation) -> str:
    return Attestation.objects.get(pk=attestation.pk).status


@pytest.mark.django_db
def test_a_job_enqueued_in_a_rolled_back_transaction_is_never_sent(
    django_capture_on_commit_callbacks,
):
    lapsed = _lapsed()
    with (
        mock.patch.object(expire_attestations_task, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True) as sent,
        suppress(Boom),
        transaction.atomic(),
    ):
        enqueue(expire_attestations_task, "2026-01-02")
        raise Boom
    assert sent == []
    delay.assert_not_called()
    assert _status(lapsed) == "verified"


@pytest.mark.django_db
def test_a_job_enqueued_in_a_transaction_is_sent_after_the_commit(
    django_capture_on_commit_callbacks,
):
    lapsed = _lapsed()
    with (
        mock.patch.object(
            expire_attestations_task, "delay", wraps=expire_attestations_task.delay
        ) as delay,
        django_capture_on_commit_callbacks(execute=True) as sent,
        transaction.atomic(),
    ):
        enqueue(expire_attestations_task, "2026-01-02")
        delay.assert_not_called()  # not before the commit
    assert len(sent) == 1
    delay.assert_called_once_with("2026-01-02")
    assert _status(lapsed) == "expired"


@needs_redis
@pytest.mark.django_db(transaction=True)
def test_through_a_real_worker_only_committed_jobs_run(redis_worker):
    from registry.reference import load_expectation_profiles
    from taxonomy.services import load_standards

    load_standards()
    load_expectation_profiles()
    lapsed = _lapsed()
    with suppress(Boom), transaction.atomic():
        enqueue(expire_attestations_task, "2026-01-02")
        raise Boom
    # The queue is first in, first out and the worker takes one job at a time: had the
    # rolled-back job been sent, it would have run before this one (which expires nothing).
    assert expire_attestations_task.delay("2025-06-01").get(timeout=60) == 0
    assert _status(lapsed) == "verified"

    with transaction.atomic():
        created = _lapsed()
        enqueue(expire_attestations_task, "2026-01-02")
    # Again first in, first out: once this later job has run, the committed one has too.
    # (No polling while the worker writes: SQLite's shared in-memory test database locks
    # whole tables.)
    assert expire_attestations_task.delay("2025-06-01").get(timeout=60) == 0
    assert _status(created) == "expired"
    assert _status(lapsed) == "expired"


# --- The expiry job: in batches, idempotent ---------------------------------------------


@pytest.mark.django_db
def test_expiry_in_batches_does_what_a_transition_does_once(settings):
    settings.EXPIRY_BATCH_SIZE = 2
    lapsed = [_lapsed() for _ in range(5)]
    current = make_attestation(make_company(), "irma", make_org(), valid_until="2030-12-31")
    day = dt.date(2026, 1, 2)

    assert expire_attestations(day) == 5
    assert expire_attestations(day) == 0  # a second run (a redelivery) changes nothing
    for attestation in lapsed:
        attestation = Attestation.objects.get(pk=attestation.pk)
        assert (attestation.status, attestation.version) == ("expired", 2)
        change = attestation.status_changes.get(to_status="expired")
        assert (change.from_status, change.effective, change.reason, change.by) == (
            "verified",
            day,
            "validity ended",
            None,
        )
        latest = attestation.history.latest()
        assert (latest.status, latest.version, latest.history_type) == ("expired", 2, "~")
    assert Attestation.objects.get(pk=current.pk).status == "verified"


@pytest.mark.django_db
def test_expiry_leaves_an_attestation_whose_history_goes_past_the_day():
    # Validity ended on 2025-12-31, but it was suspended and reinstated on 2026-01-10:
    # expiring it on 2026-01-02 would put its history out of order.
    late = make_attestation(
        make_company(),
        "irma",
        make_org(),
        valid_until="2025-12-31",
        timeline=[("verified", "2025-01-01"), ("suspended", "2026-01-05")]
        + [("verified", "2026-01-10")],
    )
    assert expire_attestations(dt.date(2026, 1, 2)) == 0
    assert _status(late) == "verified"
    assert expire_attestations(dt.date(2026, 1, 11)) == 1
    assert _status(late) == "expired"


@pytest.mark.django_db
def test_the_database_refuses_a_second_expiry_of_one_attestation():
    import datetime as dt

    from django.db import IntegrityError, transaction

    from registry.models import StatusChange

    attestation = make_attestation(make_company("Twice Co"), "irma", make_org("Twice logger"))
    expiry = {"from_status": "verified", "to_status": "expired", "effective": dt.date(2026, 1, 2)}
    StatusChange.objects.create(attestation=attestation, **expiry)
    with pytest.raises(IntegrityError), transaction.atomic():
        StatusChange.objects.create(attestation=attestation, **expiry)
