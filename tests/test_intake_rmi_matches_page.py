"""The officers' page of a committed RMI import: the smelters matched by name only are
listed with their candidates and scores, and a person says which facility each one is,
that it is a new facility, or none; the decisions are saved together or not at all."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from intake import services as jobs
from intake.models import DeclaredSmelter, ImportJob
from registry.models import Facility
from taxonomy.models import Cell

from .factories import make_company, make_org, make_user
from .rmi_templates import build

pytestmark = pytest.mark.django_db
LYON_ROW = 6  # the good EMRT 2.1 fill's smelter without an RMI ID: Lyon Refining Works, FR


def _smelter(name, country="FR", company=None):
    return Facility.objects.create(
        company=company or make_company(name, country=country),
        name=name,
        kind=Facility.Kind.SMELTER_REFINER,
        country=country,
        stage=Cell.objects.get(code="application.refining"),
    )


@pytest.fixture
def org():
    return make_org("Buyer compliance", company=make_company("Buyer", stages=("cell",)))


@pytest.fixture
def officer(org):
    return make_user(org)


@pytest.fixture
def lyon():
    return _smelter("Lyon Refining Works SAS")


@pytest.fixture
def committed(officer, lyon) -> ImportJob:
    """The supplier's EMRT 2.1, committed by the officer: row 6 proposed by name."""
    path = build("EMRT", "2.1")["good"]
    job = jobs.job_create(
        user=officer,
        upload=SimpleUploadedFile("supplier.xlsx", path.read_bytes()),
        dry_run=False,
        run_later=False,
    )
    jobs.run_job(job.pk)
    job.refresh_from_db()
    assert job.summary["written"] is True, job.problems
    return job


def _row(job, row=LYON_ROW) -> DeclaredSmelter:
    return DeclaredSmelter.objects.get(declaration__job=job, row=row)


def _page(client, job):
    return client.get(f"/intake/{job.pk}/")


def _decide(client, job, decisions: dict):
    body = {f"smelter-{s.pk}": value for s, value in decisions.items()}
    return client.post(f"/intake/{job.pk}/matches/", body)


def test_the_committed_import_lists_the_smelter_matched_by_name_with_its_candidates(
    client, officer, committed, lyon
):
    _smelter("Lyon Refinery", company=lyon.company)  # a second, weaker candidate
    _smelter("Completely Other Foundry")  # nothing like it: not offered
    client.force_login(officer)
    page = _page(client, committed).content.decode()
    assert "Smelters to confirm (1)" in page
    assert "Lyon Refining Works" in page and "Lyon Refining Works SAS" in page
    assert "Lyon Refinery" in page and "Completely Other Foundry" not in page
    assert f"score {float(_row(committed).score):.2f}" in page
    assert 'name="csrfmiddlewaretoken"' in page
    # The smelter matched by its RMI ID is not offered: nothing to decide.
    assert "Anhui Hanrui" not in page.split("Smelters to confirm")[1]


def test_confirming_the_proposed_facility_links_the_smelter_and_clears_the_list(
    client, officer, committed, lyon
):
    client.force_login(officer)
    declared = _row(committed)
    response = _decide(client, committed, {declared: lyon.pk})
    assert response.status_code == 302
    declared.refresh_from_db()
    assert (declared.match, declared.facility, declared.confirmed_by) == (
        DeclaredSmelter.Match.CONFIRMED,
        lyon,
        officer,
    )
    page = client.get(response["Location"]).content.decode()
    assert "1 smelter decision saved." in page and "Smelters to confirm" not in page


def test_marking_it_a_new_facility_creates_one_from_the_declared_name_and_country(
    client, officer, committed, lyon
):
    client.force_login(officer)
    declared = _row(committed)
    assert _decide(client, committed, {declared: "new"}).status_code == 302
    declared.refresh_from_db()
    facility = declared.facility
    assert declared.match == DeclaredSmelter.Match.CREATED and facility != lyon
    assert (facility.name, facility.country.code, facility.kind) == (
        declared.name,
        "FR",
        "smelter_refiner",
    )
    assert facility.company.legal_name == declared.name
    assert facility.minerals.filter(pk=declared.mineral_id).exists()


def test_none_of_these_leaves_it_unmatched_as_a_decision(client, officer, committed):
    client.force_login(officer)
    declared = _row(committed)
    assert _decide(client, committed, {declared: "none"}).status_code == 302
    declared.refresh_from_db()
    assert (declared.match, declared.facility, declared.confirmed_by) == (
        "unmatched",
        None,
        officer,
    )
    assert "Smelters to confirm" not in _page(client, committed).content.decode()


def test_decisions_are_saved_all_or_none_and_a_bad_one_is_named(client, officer, committed, lyon):
    client.force_login(officer)
    other = DeclaredSmelter.objects.create(
        declaration=_row(committed).declaration, row=9, metal="Cobalt", name="", match="unmatched"
    )
    response = _decide(client, committed, {_row(committed): lyon.pk, other: 999999})
    assert response.status_code == 400
    assert "Row 9: no facility &#x27;999999&#x27;." in response.content.decode()
    assert _row(committed).match == "proposed"  # the good decision was not saved either
    nameless = _decide(client, committed, {other: "new"})
    assert nameless.status_code == 400 and "Row 9 has no name" in nameless.content.decode()
    assert not Facility.objects.filter(name="").exists()


def test_a_decision_sent_twice_is_refused_the_second_time(client, officer, committed, lyon):
    client.force_login(officer)
    declared = _row(committed)
    assert _decide(client, committed, {declared: lyon.pk}).status_code == 302
    again = _decide(client, committed, {declared: "new"})
    assert again.status_code == 400 and "decided already" in again.content.decode()
    declared.refresh_from_db()
    assert declared.facility == lyon


def test_only_the_organisations_officers_decide_and_others_do_not_see_it(
    client, org, committed, lyon
):
    declared = _row(committed)
    client.force_login(make_user(org, "viewer"))
    assert "Only compliance officers may decide." in _page(client, committed).content.decode()
    assert _decide(client, committed, {declared: lyon.pk}).status_code == 403
    client.force_login(make_user(make_org("Another buyer")))
    hidden = _decide(client, committed, {declared: lyon.pk})
    missing = client.post("/intake/999999/matches/", {f"smelter-{declared.pk}": lyon.pk})
    assert hidden.status_code == missing.status_code == 404
    assert _row(committed).match == "proposed"


def test_the_decision_form_needs_its_csrf_token(officer, committed, lyon):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(officer)
    declared = _row(committed)
    forged = browser.post(f"/intake/{committed.pk}/matches/", {f"smelter-{declared.pk}": lyon.pk})
    assert forged.status_code == 403
    assert _row(committed).match == "proposed"


@pytest.mark.parametrize("extra", [0, 30])
def test_the_page_takes_the_same_queries_however_many_smelters_wait(
    client, officer, committed, extra, django_assert_max_num_queries
):
    declaration = _row(committed).declaration
    DeclaredSmelter.objects.bulk_create(
        DeclaredSmelter(
            declaration=declaration,
            row=100 + n,
            metal="Cobalt",
            name=f"Smelter {n}",
            country=("FR", "DE", "CN")[n % 3],
            match="unmatched",
        )
        for n in range(extra)
    )
    for n in range(extra):  # registry smelters resembling them, in their countries
        _smelter(f"Smelter {n} Works", country=("FR", "DE", "CN")[n % 3])
    client.force_login(officer)
    # Session and user, membership, the job, the pending smelters, the candidates.
    with django_assert_max_num_queries(7):
        page = _page(client, committed)
    assert f"Smelters to confirm ({1 + extra})" in page.content.decode()


def test_an_officer_goes_from_upload_to_confirmed_match_through_the_pages(
    client, officer, lyon, monkeypatch
):
    def enqueue_now(task, *args, **kwargs):  # on commit, as the (rolled back) test never does
        task.delay(*args, **kwargs)

    monkeypatch.setattr("intake.services.enqueue", enqueue_now)
    client.force_login(officer)
    path = build("EMRT", "2.1")["good"]
    uploaded = client.post(
        "/intake/", {"file": SimpleUploadedFile("kivu.xlsx", path.read_bytes()), "kind": ""}
    )
    assert uploaded.status_code == 302
    dry = client.get(uploaded["Location"]).content.decode()
    assert "smelter not listed" in dry and "C6" in dry  # the checker's finding, by cell
    assert "Commit these rows" in dry and "offered here for you to confirm" in dry
    dry_run = ImportJob.objects.get()
    committed = client.post(f"/intake/{dry_run.pk}/commit/")
    page = client.get(committed["Location"]).content.decode()
    assert "Written." in page and "Smelters to confirm (1)" in page
    job = ImportJob.objects.get(dry_run_of=dry_run)
    assert _decide(client, job, {_row(job): lyon.pk}).status_code == 302
    assert (_row(job).match, _row(job).facility) == ("confirmed", lyon)
