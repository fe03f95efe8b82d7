"""The taxonomy in time: each instrument's status history and versions, and coverage,
filters and the changes route as of a date."""

import datetime as dt

import pytest
import yaml
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry.querysets import Requester
from registry.selectors import company_coverage, sector_gaps
from taxonomy.models import Standard, StandardStatusChange, StandardVersion
from taxonomy.selectors import load_landscape
from taxonomy.services import (
    STANDARDS_FILE,
    TIME_FILE,
    ReferenceDataError,
    load_instruments_in_time,
    validate_time_document,
)

from .factories import make_attestation, make_company, make_org, make_standard

pytestmark = pytest.mark.django_db

D = dt.date.fromisoformat
PUBLIC = Requester.anonymous()
DD_CELLS = {"content.labor_rights", "application.refining"}  # Battery Regulation due diligence


def count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


def codes(response) -> set[str]:
    return {s["code"] for s in response.json()["results"]}


# --- Coverage across a change of version -------------------------------------


def test_coverage_follows_the_version_in_effect_on_the_date():
    refiner = make_company("Battery Refiner", stages=("refining",))
    make_attestation(refiner, "eu-battery-regulation", make_org(), valid_from="2024-01-01")
    before = company_coverage(refiner, PUBLIC, D("2026-12-01"))
    after = company_coverage(refiner, PUBLIC, D("2027-09-01"))
    # Before 18 Aug 2027 the due diligence chapter does not apply: its cells are not covered.
    assert not DD_CELLS & set(before.covered)
    assert "application.cell" in before.covered
    assert set(after.covered) >= DD_CELLS
    assert before.grade.breadth < after.grade.breadth


def test_the_landscape_of_a_date_uses_each_standards_version_then():
    battery = Standard.objects.get(code="eu-battery-regulation")
    assert load_landscape().covered(battery.id) >= DD_CELLS  # no date: current versions
    assert not DD_CELLS & load_landscape(D("2026-12-01")).covered(battery.id)
    # Its earlier version incorporates nothing: no OECD cells inherited either.
    assert load_landscape(D("2026-12-01")).inherited.get(battery.id, {}) == {}
    assert load_landscape(D("2026-12-01")).versions[battery.id].code == (
        "2023-before-due-diligence"
    )


# --- Coverage after an end of force ------------------------------------------


def test_an_attestation_to_an_ended_standard_does_not_count_and_says_why(api):
    maker = make_company("EV Maker", stages=("vehicle",))
    attestation = make_attestation(maker, "us-ira-30d", make_org(), type="regulatory_filing")
    while_in_force = company_coverage(maker, PUBLIC, D("2024-06-01"))
    assert while_in_force.covered and not while_in_force.not_counted
    ended = company_coverage(maker, PUBLIC, D("2026-01-15"))
    assert ended.covered == {}
    assert [n.attestation_id for n in ended.not_counted] == [attestation.pk]
    assert ended.not_counted[0].status == "ended"
    assert "30 Sep 2025" in ended.not_counted[0].reason
    data = api.get(f"/api/registry/companies/{maker.pk}/coverage/?as_of=2026-01-15").json()
    assert data["covered"] == {}
    assert data["not_counted"][0]["status"] == "ended"
    assert "not in force on 2026-01-15" in data["not_counted"][0]["reason"]


def test_an_attestation_to_a_standard_not_yet_in_force_does_not_count(client):
    maker = make_company("EU Maker", stages=("vehicle",))
    make_attestation(maker, "eu-csddd", make_org(), type="regulatory_filing")
    coverage = company_coverage(maker, PUBLIC, D("2026-12-01"))
    assert coverage.covered == {}
    assert coverage.not_counted[0].status == "adopted"
    assert "in force from 2029-07-26" in coverage.not_counted[0].reason
    # Gaps are not closed by standards that bind nobody on the date.
    assert all("eu-csddd" not in gap.closing_standards for gap in coverage.gaps)
    assert company_coverage(maker, PUBLIC, D("2029-08-01")).covered
    html = client.get(f"/companies/{maker.pk}/?as_of=2026-12-01").content.decode()
    assert "Not counted" in html and "in force from 2029-07-26" in html


def test_the_sector_search_ignores_standards_not_in_force_on_the_date():
    refiner = make_company("Dutch-law Refiner", stages=("refining",))
    make_attestation(refiner, "nl-child-labour-dd", make_org(), type="regulatory_filing")
    staff = Requester.everyone()
    result = sector_gaps(
        cells=["content.labor_rights"],
        requester=staff,
        stage="refining",
        as_of=D("2026-12-01"),
        independent_only=False,
    )
    assert refiner.pk in {row.company.pk for row in result.lacking}


def test_standards_without_a_recorded_history_count_on_every_date():
    # Every reference instrument has a history now; a scheme someone adds may not.
    scheme = make_standard(["content.labor_rights"], code="undated-scheme")
    assert not scheme.status_changes.exists()
    refiner = make_company("Undated Refiner", stages=("refining",))
    make_attestation(
        refiner,
        scheme.code,
        make_org(),
        valid_from="2000-01-01",
        timeline=[("verified", "2000-02-01")],
    )
    assert "content.labor_rights" in company_coverage(refiner, PUBLIC, D("2001-01-01")).covered


def test_an_attestation_from_before_an_instrument_existed_does_not_count():
    refiner = make_company("Early Refiner", stages=("refining",))
    make_attestation(
        refiner,
        "oecd-ddg",
        make_org(),
        valid_from="2000-01-01",
        timeline=[("verified", "2000-02-01")],
    )
    assert not company_coverage(refiner, PUBLIC, D("2001-01-01")).covered


# --- The filters -------------------------------------------------------------


def test_binding_alone_lists_instruments_that_bind_nobody_today_in_force_on_excludes_them(api):
    unbound = {"nl-child-labour-dd", "us-ira-30d", "eu-csddd"}
    binding = codes(api.get("/api/taxonomy/standards/?binding=true&page_size=500"))
    assert unbound <= binding
    today = codes(
        api.get("/api/taxonomy/standards/?binding=true&in_force_on=2026-12-01&page_size=500")
    )
    assert not unbound & today
    assert {"eu-battery-regulation", "de-lksg", "us-uflpa"} <= today
    in_2024 = codes(
        api.get("/api/taxonomy/standards/?binding=true&in_force_on=2024-06-01&page_size=500")
    )
    assert "us-ira-30d" in in_2024 and "eu-csddd" not in in_2024


def test_status_filter_reads_the_status_on_the_date_asked(api):
    ended = api.get("/api/taxonomy/standards/?status=ended&on=2026-12-01&page_size=500").json()
    assert {s["code"] for s in ended["results"]} == {"us-ira-30d"}
    assert ended["results"][0]["status"] == "ended"
    adopted = codes(api.get("/api/taxonomy/standards/?status=adopted&page_size=500"))
    assert {"nl-child-labour-dd", "eu-csddd"} <= adopted
    assert "us-ira-30d" in codes(
        api.get("/api/taxonomy/standards/?status=in_force&on=2024-06-01&page_size=500")
    )
    assert api.get("/api/taxonomy/standards/?status=asleep").status_code == 400
    assert api.get("/api/taxonomy/standards/?in_force_on=soon").status_code == 400


def test_the_standard_list_still_costs_three_queries_with_the_status_filters(api):
    # the page (status annotated), its minerals, its cells: a cursor page counts nothing
    assert count_queries(api, "/api/taxonomy/standards/?in_force_on=2026-12-01") == 3
    assert count_queries(api, "/api/taxonomy/standards/?status=in_force&on=2025-01-01") == 3


def test_the_standards_page_filters_by_status_on_a_date(client):
    html = client.get("/standards/?binding=true&in_force_on=2026-12-01").content.decode()
    assert "German LkSG" in html
    assert "Dutch Child Labour DD Act" not in html
    assert "Binding when in force" in html


def test_the_detail_gives_status_history_and_versions_with_their_sources(api, client):
    data = api.get("/api/taxonomy/standards/eu-csddd/").json()
    assert data["status"] == "adopted"
    assert [c["status"] for c in data["status_history"]][-1] == "in_force"
    assert all(c["source"] for c in data["status_history"])
    versions = {v["code"]: v for v in data["versions"]}
    assert versions["omnibus-i"]["current"]
    assert versions["2024-1760"]["valid_until"] == "2025-12-15"
    old = api.get("/api/taxonomy/standards/eu-csddd/matrix/?on=2025-01-01").json()
    new = api.get("/api/taxonomy/standards/eu-csddd/matrix/").json()

    def covered(matrix):
        return {c["code"] for d in matrix for g in d["groups"] for c in g["cells"] if c["covered"]}

    assert covered(old) - covered(new) == {"content.climate_change"}  # transition plans
    html = client.get("/standards/eu-csddd/?on=2025-01-01").content.decode()
    assert "Directive (EU) 2024/1760 as adopted" in html
    assert client.get("/standards/eu-csddd/?on=someday").status_code == 400


# --- The changes route -------------------------------------------------------


def test_changes_route_lists_status_and_version_changes_with_sources(api):
    data = api.get("/api/taxonomy/changes/?from=2025-01-01&to=2025-12-31").json()
    rows = data["changes"]
    assert data["from"] == "2025-01-01" and data["to"] == "2025-12-31"
    assert all(D("2025-01-01") <= D(r["date"]) <= D("2025-12-31") for r in rows)
    assert all(r["source"] for r in rows)
    ira = next(r for r in rows if r["standard"]["code"] == "us-ira-30d" and r["status_changed"])
    assert (ira["date"], ira["previous_status"], ira["status"]) == (
        "2025-10-01",
        "in_force",
        "ended",
    )
    csddd = [r for r in rows if r["standard"]["code"] == "eu-csddd"]
    assert any(r["kind"] == "version" and r["version"]["code"] == "omnibus-i" for r in csddd)
    assert any(r["kind"] == "status" and not r["status_changed"] for r in csddd)  # milestone
    assert [r["date"] for r in rows] == sorted(r["date"] for r in rows)


def test_changes_route_runs_a_fixed_number_of_queries(api):
    url = "/api/taxonomy/changes/?from=2000-01-01&to=2030-12-31"
    before = count_queries(api, url)
    for n in range(10):
        standard = make_standard(
            ["content.human_rights", "scope.universal", "sponsor.state_direct"]
        )
        StandardStatusChange.objects.create(
            standard=standard, on=D("2020-01-01"), status="in_force", source=f"test {n}"
        )
        StandardVersion.objects.create(
            standard=standard, code="v1", label="v1", valid_from=D("2021-01-01"), current=True
        )
    assert count_queries(api, url) == before == 2


def test_changes_route_and_page_name_bad_dates(api, client):
    assert api.get("/api/taxonomy/changes/").status_code == 400
    assert api.get("/api/taxonomy/changes/?from=2026-01-01&to=2025-01-01").status_code == 400
    assert "from" in api.get("/api/taxonomy/changes/?from=June").content.decode()
    assert client.get("/standards/changes/?from=June").status_code == 400


def test_changes_page_lists_what_changed(client):
    html = client.get("/standards/changes/?from=2025-07-01&to=2025-10-31").content.decode()
    assert "US IRA" in html and "ended" in html
    assert "2025/1561" in html  # the Battery Regulation's stop-the-clock, a milestone


def test_the_standard_list_and_changes_page_run_fixed_queries(client):
    urls = ["/standards/?in_force_on=2026-12-01", "/standards/changes/?from=2000-01-01"]
    before = [count_queries(client, url) for url in urls]
    for _ in range(5):
        make_standard(["content.human_rights", "scope.universal", "sponsor.state_direct"])
    assert [count_queries(client, url) for url in urls] == before


# --- The data file and its loading -----------------------------------------


def standards_by_code():
    return {e["code"]: e for e in yaml.safe_load(STANDARDS_FILE.read_text())}


def time_document():
    from taxonomy.services import _plain_dates

    return _plain_dates(yaml.safe_load(TIME_FILE.read_text()))


def test_every_change_and_version_in_the_file_names_a_source():
    document = time_document()
    validate_time_document(document, standards_by_code())
    for entry in document.values():
        assert all(c["source"] for c in entry.get("status", []))
        assert all(v["source"] for v in entry.get("versions", []))


@pytest.mark.parametrize(
    ("breakage", "needle"),
    [
        (lambda d: d["eu-csddd"]["versions"][1].pop("current"), "exactly one current"),
        (lambda d: d["eu-csddd"]["status"].reverse(), "date order"),
        (lambda d: d.update({"no-such": {"status": []}}), "no-such"),
        (
            lambda d: d["irma"]["versions"][0].update({"cells": {"remove": ["scope.universal"]}}),
            "current version",
        ),
    ],
)
def test_a_bad_time_file_is_refused_naming_the_problem(breakage, needle):
    document = time_document()
    breakage(document)
    with pytest.raises(ReferenceDataError, match=needle):
        validate_time_document(document, standards_by_code())


def test_reloading_leaves_a_history_a_person_edited_alone():
    change = StandardStatusChange.objects.filter(standard__code="us-ira-30d").last()
    change.note = "Edited by a person"
    change.save()
    report = load_instruments_in_time()
    assert "us-ira-30d" in dict(report.kept)
    change.refresh_from_db()
    assert change.note == "Edited by a person"
    assert report.unchanged >= 6
