"""Processes issuing at once: one signature per passport version, and distinct status-list
indexes for distinct credentials (the index is the row's id: the database allocates it)."""

import pytest
from django.db import connection

from credentials import services
from credentials.models import IssuedCredential
from passports.models import PassportVersion

from .concurrency import run_together
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
