"""A company's grade over time: when it changed, from what to what, and why."""

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from registry import grade_history as history_module
from registry.grade_history import grade_history
from registry.querysets import Requester
from registry.selectors import company_coverage, grades_on
from taxonomy.models import Cell, Standard, StandardVersion, VersionCell

from .factories import make_attestation, make_company, make_org, make_user

pytestmark = pytest.mark.django_db


def today():
    # Asked at each use: a constant taken when the tests are collected is yesterday once
    # a run crosses midnight.
    return dt.date.today()


PUBLIC = Requester.anonymous()


def days(n: int) -> str:
    return (today() + dt.timedelta(days=n)).isoformat()


@pytest.fixture
def org():
    return make_org("Refiner compliance")


@pytest.fixture
def refiner():
    return make_company("Cobalt Refiner Ltd", stages=("refining",))


def page(company, user=None):
    client = Client()
    if user is not None:
        client.force_login(user)
    response = client.get(f"/companies/{company.pk}/grade/")
    assert response.status_code == 200
    return response


def test_the_history_shows_the_verification_and_the_expiry_that_changed_the_grade(refiner, org):
    audit = make_attestation(
        refiner,
        "irma",
        org,
        timeline=[("verified", days(-200))],
        valid_from=days(-300),
        valid_until=days(-50),
    )
    reached = company_coverage(refiner, PUBLIC, today() - dt.timedelta(days=100)).grade.level
    assert reached != "none"

    response = page(refiner)

    changes = response.context["history"].changes
    assert [(c.on.isoformat(), c.before.level, c.after.level) for c in changes] == [
        (days(-49), reached, "none"),
        (days(-200), "none", reached),
    ]
    assert any("verified" in r.text for r in changes[1].reasons)
    assert any(f"expired (valid until {days(-50)})" in r.text for r in changes[0].reasons)
    html = response.content.decode()
    assert f"IRMA third-party audit expired (valid until {days(-50)})" in html
    assert f'href="/attestations/{audit.pk}/"' in html
    assert "IRMA third-party audit verified (was under review)" in html


def test_a_revocation_is_a_reason_too(refiner, org):
    make_attestation(
        refiner,
        "irma",
        org,
        timeline=[("verified", days(-200)), ("revoked", days(-20))],
        valid_from=days(-300),
    )
    changes = grade_history(refiner, PUBLIC).changes
    assert changes[0].on.isoformat() == days(-20) and changes[0].after.level == "none"
    assert any("revoked (was verified)" in r.text for r in changes[0].reasons)


def test_a_new_standard_version_coming_into_force_is_a_reason(refiner, org):
    make_attestation(
        refiner, "irma", org, timeline=[("verified", days(-300))], valid_from=days(-300)
    )
    irma = Standard.objects.get(code="irma")
    # From 30 days ago IRMA's requirements shrink to one cell: the grade falls that day.
    StandardVersion.objects.filter(standard=irma).delete()
    StandardVersion.objects.create(
        standard=irma, code="ws-original", label="Original", current=True
    )
    version = StandardVersion.objects.create(
        standard=irma,
        code="ws-narrow",
        label="Narrow edition",
        valid_from=today() - dt.timedelta(30),
    )
    VersionCell.objects.create(version=version, cell=Cell.objects.get(code="content.human_rights"))
    history = grade_history(refiner, PUBLIC)
    change = history.changes[0]
    assert change.on == today() - dt.timedelta(30) and change.direction == "down"
    assert any("version Narrow edition came into force" in r.text for r in change.reasons)


def test_a_private_attestations_effect_is_not_shown_to_who_may_not_see_it(refiner, org):
    make_attestation(
        refiner,
        "irma",
        org,
        visibility="private",
        timeline=[("verified", days(-200))],
        valid_from=days(-300),
    )
    outsider = make_user(make_org("Curious NGO", kind="ngo"), "viewer")
    for user in (None, outsider):
        history = page(refiner, user).context["history"]
        assert history.changes == [] and history.current.level == "none"
        assert "IRMA" not in page(refiner, user).content.decode()
    insider = make_user(org, "viewer")
    seen = page(refiner, insider)
    assert len(seen.context["history"].changes) == 1
    assert "IRMA third-party audit verified" in seen.content.decode()


def test_the_current_grade_agrees_with_the_scorecard(refiner, org):
    make_attestation(
        refiner, "irma", org, timeline=[("verified", days(-90))], valid_from=days(-100)
    )
    make_attestation(
        refiner,
        "rmi-rmap",
        org,
        type="membership",
        valid_from=days(-60),
        timeline=[("verified", days(-60))],
    )
    scorecard = company_coverage(refiner, PUBLIC, today()).grade
    assert grade_history(refiner, PUBLIC).current.level == scorecard.level
    assert grades_on([refiner.pk], PUBLIC, today())[refiner.pk] == scorecard


def _events(company, org, n):
    for i in range(n):
        make_attestation(
            company,
            "irma" if i % 2 else "rmi-rmap",
            org,
            timeline=[("verified", days(-400 + i)), ("suspended", days(-100 + i))],
            valid_from=days(-500 + i),
            valid_until=days(-10 - i),
        )


def _queries(company) -> int:
    with CaptureQueriesContext(connection) as queries:
        page(company)
    return len(queries)


def test_the_query_count_does_not_grow_with_the_number_of_events(refiner, org):
    _events(refiner, org, 4)
    few = _queries(refiner)
    _events(refiner, org, 8)
    assert grade_history(refiner, PUBLIC).evaluated > 20
    assert _queries(refiner) == few


def test_the_number_of_evaluated_dates_is_capped_and_the_page_says_so(refiner, org, monkeypatch):
    _events(refiner, org, 6)
    monkeypatch.setattr(history_module, "MAX_EVALUATED_DATES", 5)
    history = grade_history(refiner, PUBLIC)
    assert history.capped and history.evaluated == 5
    monkeypatch.setattr("workspace.views.MAX_EVALUATED_DATES", 5)
    html = page(refiner).content.decode()
    assert "only the latest 5 were evaluated" in html


def test_the_scorecard_links_to_the_grade_history(refiner):
    html = Client().get(f"/companies/{refiner.pk}/").content.decode()
    assert f'href="/companies/{refiner.pk}/grade/"' in html


def test_an_unknown_company_is_a_404():
    assert Client().get("/companies/999999/grade/").status_code == 404


def test_the_query_count_does_not_grow_with_the_standards_changes_over_the_years(refiner, org):
    _events(refiner, org, 4)
    few = _queries(refiner)
    # Each change of a standard's status is a new period of the landscape to grade in.
    irma = Standard.objects.get(code="irma")
    for n, status in enumerate(["in_force", "suspended"] * 5):
        irma.status_changes.create(
            on=dt.date.today() - dt.timedelta(days=600 - 50 * n), status=status, source="test"
        )
    assert grade_history(refiner, PUBLIC).evaluated > 10
    assert _queries(refiner) == few
