"""The member's home page: suppliers and their grades, expiring attestations, reviews, imports."""

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from intake.models import ImportJob
from registry.models import Attestation, SupplyRelationship
from registry.querysets import Requester
from registry.selectors import company_coverage
from taxonomy.models import Cell, Mineral
from workspace import selectors

from .factories import make_attestation, make_company, make_org, make_user

pytestmark = pytest.mark.django_db

D = dt.date.fromisoformat
TODAY = D("2026-11-20")  # the quarter started on 2026-10-01


def days(n: int) -> str:
    return (TODAY + dt.timedelta(days=n)).isoformat()


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr(selectors, "today", lambda: TODAY)


@pytest.fixture
def maker():
    return make_company("Maker Motors", stages=("refining",))


@pytest.fixture
def org(maker):
    return make_org("Maker Motors compliance", company=maker)


@pytest.fixture
def officer(org):
    return make_user(org, "compliance_officer")


@pytest.fixture
def other_org():
    return make_org("Rival Cells compliance")


def supplies(supplier, buyer):
    return SupplyRelationship.objects.create(
        supplier=supplier,
        buyer=buyer,
        material="refined_chemical",
        mineral=Mineral.objects.get(code="cobalt"),
        stage=Cell.objects.get(code="application.refining"),
        share_pct=10,
    )


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def home(user):
    response = client_for(user).get("/workspace/")
    assert response.status_code == 200
    return response


def test_a_member_sees_their_suppliers_with_grades_and_the_change_since_last_quarter(
    maker, org, officer
):
    rising = make_company("Rising Refining")
    falling = make_company("Falling Refining")
    steady = make_company("Steady Refining")
    stranger = make_company("Not A Supplier")
    for supplier in (rising, falling, steady):
        supplies(supplier, maker)
    supplies(stranger, steady)  # a supplier's supplier is not a direct supplier
    # Verified after the quarter began; lapsed after it began.
    make_attestation(rising, "irma", org, timeline=[("verified", days(-10))], valid_from=days(-300))
    make_attestation(
        falling,
        "irma",
        org,
        timeline=[("verified", days(-300))],
        valid_from=days(-300),
        valid_until=days(-5),
    )
    now = company_coverage(rising, Requester.for_user(officer), TODAY).grade.level
    assert now != "none"

    response = home(officer)

    rows = {r.company.legal_name: r for r in response.context["suppliers"].rows}
    assert set(rows) == {"Rising Refining", "Falling Refining", "Steady Refining"}
    assert (rows["Rising Refining"].previous.level, rows["Rising Refining"].grade.level) == (
        "none",
        now,
    )
    assert rows["Rising Refining"].change == "up"
    assert rows["Falling Refining"].change == "down"
    assert rows["Falling Refining"].grade.level == "none"
    assert rows["Steady Refining"].change == "same"
    html = response.content.decode()
    assert "3 direct suppliers" in html and "1 up, 1 down" in html
    assert "Not A Supplier" not in html
    assert "Grade on 2026-10-01" in html


def test_many_suppliers_are_paginated(maker, org, officer):
    for n in range(selectors.SUPPLIERS_PER_PAGE + 5):
        supplies(make_company(f"Supplier {n:03d}"), maker)
    first = home(officer)
    assert len(first.context["suppliers"].rows) == selectors.SUPPLIERS_PER_PAGE
    second = client_for(officer).get("/workspace/?page=2")
    assert [r.company.legal_name for r in second.context["suppliers"].rows][0] == "Supplier 050"
    assert len(second.context["suppliers"].rows) == 5
    # A page that is not a number shows the first page, not an error.
    assert client_for(officer).get("/workspace/?page=zzz").status_code == 200


def test_expiring_attestations_are_grouped_in_30_60_90_days(maker, org, officer):
    supplier = make_company("Cobalt Supplier")
    supplies(supplier, maker)
    own = make_attestation(maker, "irma", org, valid_from=days(-100), valid_until=days(5))
    soon = make_attestation(supplier, "irma", org, valid_from=days(-100), valid_until=days(30))
    middle = make_attestation(supplier, "irma", org, valid_from=days(-100), valid_until=days(45))
    late = make_attestation(supplier, "irma", org, valid_from=days(-100), valid_until=days(80))
    far = make_attestation(supplier, "irma", org, valid_from=days(-100), valid_until=days(120))
    revoked = make_attestation(
        supplier,
        "irma",
        org,
        timeline=[("verified", days(-90)), ("revoked", days(-1))],
        valid_from=days(-100),
        valid_until=days(10),
    )

    response = home(officer)

    groups = response.context["expiring"]
    assert [g.count for g in groups] == [2, 1, 1]
    assert [[a.pk for a in g.rows] for g in groups] == [[own.pk, soon.pk], [middle.pk], [late.pk]]
    html = response.content.decode()
    assert "In the next 30 days: 2" in html and "In 31 to 60 days: 1" in html
    assert "In 61 to 90 days: 1" in html
    assert f'href="/attestations/{late.pk}/"' in html
    assert f'href="/attestations/{far.pk}/"' not in html
    assert f'href="/attestations/{revoked.pk}/"' not in html


def test_another_organisations_private_attestation_never_appears(maker, org, officer, other_org):
    supplier = make_company("Shared Supplier")
    supplies(supplier, maker)
    reviewer = make_user(org, "reviewer")
    secret = make_attestation(
        supplier,
        "irma",
        other_org,
        visibility="private",
        valid_from=days(-100),
        valid_until=days(10),
    )
    pending = make_attestation(
        supplier, "irma", other_org, timeline=(), visibility="private", valid_from=days(-5)
    )
    for user in (officer, reviewer):
        response = home(user)
        html = response.content.decode()
        for hidden in (secret, pending):
            assert f"/attestations/{hidden.pk}/" not in html
        assert [g.count for g in response.context["expiring"]] == [0, 0, 0]
        assert response.context["review"].count == 0
    # The same attestation, once public, is listed: the test can see it.
    Attestation.objects.filter(pk=secret.pk).update(visibility="public")
    assert f"/attestations/{secret.pk}/" in home(officer).content.decode()


def test_a_reviewer_sees_what_waits_for_them_and_a_non_reviewer_does_not(
    maker, org, officer, other_org
):
    reviewer = make_user(org, "reviewer")
    viewer = make_user(org, "viewer")
    logged = make_attestation(maker, "irma", org, timeline=(), valid_from=days(-3))
    # Logged elsewhere, naming this organisation as its verifier.
    to_verify = make_attestation(
        make_company("Verified Elsewhere"),
        "irma",
        other_org,
        timeline=(),
        valid_from=days(-3),
        verifier=org,
    )
    decided = make_attestation(maker, "irma", org, valid_from=days(-3))  # already verified

    seen = home(reviewer)
    assert {a.pk for a in seen.context["review"].rows} == {logged.pk, to_verify.pk}
    html = seen.content.decode()
    assert "Waiting for your review: 2" in html
    assert f'href="/attestations/{logged.pk}/"' in html
    assert f'href="/attestations/{decided.pk}/"' not in html.split('id="review"')[1]

    # An officer reviews only what names its organisation as verifier.
    assert {a.pk for a in home(officer).context["review"].rows} == {to_verify.pk}
    quiet = home(viewer)
    assert quiet.context["review"].count == 0
    assert "Nothing waits for your review." in quiet.content.decode()


def _job(org, n):
    return ImportJob.objects.create(
        kind="companies",
        status="done" if n % 2 else "failed",
        dry_run=False,
        file=f"intake/00/ws{n}",
        filename=f"suppliers-{n:02d}.csv",
        sha256="0" * 64,
        organisation=org,
    )


def test_recent_imports_are_listed_latest_first(org, officer, other_org):
    jobs = [_job(org, n) for n in range(12)]
    theirs = _job(other_org, 99)
    response = home(officer)
    listed = [j.pk for j in response.context["imports"]]
    assert listed == [j.pk for j in reversed(jobs)][:10]
    html = response.content.decode()
    assert f'href="/intake/{jobs[-1].pk}/"' in html and "suppliers-11.csv" in html
    assert f'href="/intake/{jobs[0].pk}/"' not in html  # the 11th latest
    assert f'href="/intake/{theirs.pk}/"' not in html


def _populate(maker, org, n):
    for i in range(n):
        supplier = make_company(f"Scale Supplier {n}-{i}")
        supplies(supplier, maker)
        make_attestation(supplier, "irma", org, valid_from=days(-100), valid_until=days(20 + i))
        make_attestation(supplier, "rmi-rmap", org, timeline=(), valid_from=days(-2))
    _job(org, n)


def _queries(user) -> int:
    client = client_for(user)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/workspace/").status_code == 200
    return len(queries)


def test_the_query_count_is_flat_when_suppliers_and_attestations_double(maker, org):
    reviewer = make_user(org, "reviewer")
    _populate(maker, org, 4)
    few = _queries(reviewer)
    _populate(maker, org, 4)
    response = home(reviewer)
    assert len(response.context["suppliers"].rows) == 8
    assert response.context["review"].count == 8
    assert _queries(reviewer) == few


def test_a_signed_in_user_without_an_organisation_is_told_so(django_user_model):
    for user in (
        make_user(None),
        django_user_model.objects.create_user("staffer", password="pw", is_staff=True),
    ):
        response = home(user)
        assert b"you belong to no organisation" in response.content
        assert b'href="/companies/"' in response.content


def test_anonymous_visitors_are_sent_to_log_in():
    response = Client().get("/workspace/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/workspace/")


def test_after_logging_in_a_member_lands_on_the_workspace_and_next_wins(officer):
    response = Client().post(
        "/accounts/login/", {"username": officer.username, "password": "pw-test-123"}
    )
    assert response.status_code == 302 and response["Location"] == "/workspace/"
    response = Client().post(
        "/accounts/login/?next=/companies/",
        {"username": officer.username, "password": "pw-test-123", "next": "/companies/"},
    )
    assert response["Location"] == "/companies/"


def test_the_header_links_signed_in_users_to_their_workspace(officer):
    assert b'href="/workspace/">My workspace</a>' in client_for(officer).get("/").content
    assert b"My workspace" not in Client().get("/").content
