"""The daily expiry job, run by a real Celery worker through a real Redis broker."""

import datetime as dt
import socket

import pytest
from celery.contrib.testing.worker import start_worker

from config.celery import app
from registry.models import Attestation
from registry.tasks import expire_attestations_task

from .factories import make_attestation, make_company, make_org

REDIS = ("127.0.0.1", 6379)


def redis_available() -> bool:
    try:
        socket.create_connection(REDIS, timeout=0.5).close()
        return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not redis_available(), reason="no Redis on 127.0.0.1:6379")


@pytest.fixture(scope="module", autouse=True)
def reload_reference_after(django_db_blocker):
    """Transactional tests flush the database; put the reference data back afterwards."""
    yield
    from passports.reference import load_attributes
    from registry.reference import load_expectation_profiles
    from taxonomy.services import load_standards

    with django_db_blocker.unblock():
        load_standards()
        load_expectation_profiles()
        load_attributes()


@pytest.fixture
def redis_worker():
    saved = {k: app.conf[k] for k in ("broker_url", "result_backend", "task_always_eager")}
    app.conf.update(
        broker_url="redis://127.0.0.1:6379/15",
        result_backend="redis://127.0.0.1:6379/15",
        task_always_eager=False,
    )
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING"):
            yield
    finally:
        app.conf.update(saved)


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
    assert result.get(timeout=20) == 1
    assert Attestation.objects.get(pk=lapsed.pk).status == "expired"
    assert Attestation.objects.get(pk=current.pk).status == "verified"
    change = Attestation.objects.get(pk=lapsed.pk).status_changes.last()
    assert change.effective == dt.date(2026, 1, 2)
    # Running it again (a second beat, a retry) changes nothing.
    assert expire_attestations_task.delay("2026-01-02").get(timeout=20) == 0
