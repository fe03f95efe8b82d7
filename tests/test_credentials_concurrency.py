"""Processes issuing at once: one signature per passport version, and distinct status-list
indexes for distinct credentials (the index is the row's id: the database allocates it)."""

import threading

import pytest
from django.db import connection

from credentials import services
from credentials.models import IssuedCredential
from passports.models import PassportVersion

from .conftest import load_test_reference
from .passport_fixtures import World

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="concurrent writers need PostgreSQL (SQLite serialises whole writes)",
    ),
]


@pytest.fixture(scope="module", autouse=True)
def reload_reference_after(reference_reloaded_after):
    """Transactional tests empty the database (see conftest)."""


def run_together(*calls):
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def runner(i, call):
        try:
            barrier.wait()
            outcomes[i] = call()
        except Exception as exc:  # noqa: BLE001 - the outcome is what is asserted
            outcomes[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return outcomes


def test_four_processes_issuing_one_version_sign_it_once():
    load_test_reference()
    World().passport()
    version = PassportVersion.objects.get()
    outcomes = run_together(*[lambda: services.issue_passport_credential(version)] * 4)
    assert all(isinstance(o, IssuedCredential) for o in outcomes), outcomes
    assert IssuedCredential.objects.count() == 1
    assert len({o.jwt for o in outcomes}) == 1


def test_credentials_issued_at_once_get_distinct_status_indexes():
    load_test_reference()
    world = World()
    for serial in range(4):
        world.passport(serial=f"SN-C-{serial}")
    versions = list(PassportVersion.objects.select_related("passport"))
    outcomes = run_together(*[lambda v=v: services.issue_passport_credential(v) for v in versions])
    assert all(isinstance(o, IssuedCredential) for o in outcomes), outcomes
    places = {services.status_place(o.pk) for o in outcomes}
    assert len(places) == 4
