"""Two people acting on the same attestation at once: one wins, nothing is lost."""

import pytest
from django.db import connection

from registry.models import Attestation, StatusChange
from registry.services import Conflict, attestation_transition, attestation_update

from .concurrency import run_together
from .factories import make_attestation, make_company, make_org, make_user

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="row locks need PostgreSQL (SQLite serialises whole writes)",
    ),
]


@pytest.fixture(scope="module", autouse=True)
def reload_reference_after(reference_reloaded_after):
    """Transactional tests empty the database (see conftest)."""


@pytest.fixture
def attestation():
    from registry.reference import load_expectation_profiles
    from taxonomy.services import load_standards

    load_standards()
    load_expectation_profiles()
    org = make_org("Logger")
    return make_attestation(
        make_company("Contested Co"), "irma", org, timeline=[("under_review", "2025-01-02")]
    ), org


def test_verify_and_reject_at_once_exactly_one_wins(attestation):
    att, org = attestation
    a, b = make_user(org, "reviewer"), make_user(org, "reviewer")
    outcomes = run_together(
        lambda: attestation_transition(attestation=att, to_status="verified", user=a),
        lambda: attestation_transition(attestation=att, to_status="rejected", user=b),
    )
    wins = [o for o in outcomes if isinstance(o, Attestation)]
    losses = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(wins) == 1 and len(losses) == 1, outcomes
    final = Attestation.objects.get(pk=att.pk)
    assert final.status == wins[0].status
    assert StatusChange.objects.filter(attestation=att).last().to_status == final.status


def test_two_edits_from_the_same_version_one_is_refused(attestation):
    att, org = attestation
    officer = make_user(org, "compliance_officer")
    Attestation.objects.filter(pk=att.pk).update(status="submitted")
    outcomes = run_together(
        lambda: attestation_update(
            attestation=att, user=officer, expected_version=1, notes="from A"
        ),
        lambda: attestation_update(
            attestation=att, user=officer, expected_version=1, notes="from B"
        ),
    )
    wins = [o for o in outcomes if isinstance(o, Attestation)]
    assert len(wins) == 1, outcomes
    assert any(isinstance(o, Conflict) for o in outcomes)
    assert Attestation.objects.get(pk=att.pk).notes == wins[0].notes
