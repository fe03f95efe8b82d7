"""Companies, facilities and mines over the API; coverage and the sector gap search."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from api.serializers.registry import CoverageSerializer, SectorGapsSerializer
from registry.models import Company, MinedSource, MineOwnership
from registry.querysets import Requester
from registry.selectors import company_coverage, sector_gaps

from .factories import make_attestation, make_company, make_org, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer():
    return make_user(make_org("Buyer compliance"), "compliance_officer")


def queries(api, url):
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


def test_anyone_reads_companies_but_only_officers_and_staff_write(api, officer):
    make_company("Readable Co")
    # Cursor pages carry no "count" (no COUNT(*) over the population): count the rows.
    assert len(api.get("/api/registry/companies/").json()["results"]) == 1
    body = {"legal_name": "New Co", "country": "CD", "stages": ["mining"]}
    assert api.post("/api/registry/companies/", body, format="json").status_code in (401, 403)
    api.force_authenticate(officer)
    response = api.post("/api/registry/companies/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["stages"] == ["mining"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"legal_name": "X", "country": "ZZ"}, "country"),
        ({"legal_name": "X", "country": "CN", "stages": ["smelting"]}, "stages"),
        ({"legal_name": "X", "country": "CN", "lei": "NOTALEI"}, "lei"),
        ({"legal_name": "X", "country": "CN", "lei": "529900T8BM49AURSDO56"}, "lei"),
        (
            {
                "legal_name": "X",
                "country": "CN",
                "identifiers": [{"scheme": "rmi_cid", "value": "12345"}],
            },
            "identifiers",
        ),
        ({"legal_name": "X", "country": "CN", "state_ownership_pct": "140"}, "state_ownership_pct"),
    ],
)
def test_bad_company_input_is_a_400_naming_the_field(api, officer, body, field):
    api.force_authenticate(officer)
    response = api.post("/api/registry/companies/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Company.objects.filter(legal_name="X").exists()


def test_a_valid_lei_and_rmi_id_are_accepted(api, officer):
    api.force_authenticate(officer)
    response = api.post(
        "/api/registry/companies/",
        {
            "legal_name": "Valid Ids Co",
            "country": "CN",
            "lei": "529900T8BM49AURSDO55",
            "identifiers": [{"scheme": "rmi_cid", "value": "CID002315"}],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()


def test_joint_venture_owners_with_equity_shares(api, officer):
    glencore = make_company("Glencore plc", stages=("mining",), country="CH")
    gecamines = make_company("Gécamines", stages=("mining",), country="CD")
    api.force_authenticate(officer)
    response = api.post(
        "/api/registry/mines/",
        {
            "name": "Kamoto",
            "minerals": ["copper", "cobalt"],
            "country": "CD",
            "method": "industrial",
            "cahra": True,
            "cahra_basis": "Lualaba, DRC",
            "operator": glencore.pk,
            "owners": [
                {"company": glencore.pk, "share_pct": "75"},
                {"company": gecamines.pk, "share_pct": "25"},
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    owners = {o["company_name"]: o["share_pct"] for o in response.json()["owners"]}
    assert owners == {"Glencore plc": "75.00", "Gécamines": "25.00"}


@pytest.mark.parametrize(
    ("owners", "needle"),
    [
        ([("a", "60"), ("b", "50")], "110"),
        ([("a", "0"), ("b", "50")], "above 0"),
        ([("a", "-5")], "share_pct"),
        ([("a", "40"), ("a", "40")], "more than once"),
    ],
)
def test_owner_shares_over_100_percent_are_refused_and_nothing_is_saved(
    api, officer, owners, needle
):
    companies = {"a": make_company("A"), "b": make_company("B")}
    api.force_authenticate(officer)
    response = api.post(
        "/api/registry/mines/",
        {
            "name": "Bad JV",
            "minerals": ["nickel"],
            "country": "ID",
            "method": "industrial",
            "owners": [{"company": companies[c].pk, "share_pct": s} for c, s in owners],
        },
        format="json",
    )
    assert response.status_code == 400
    assert needle in str(response.json())
    assert not MinedSource.objects.filter(name="Bad JV").exists()
    assert MineOwnership.objects.count() == 0


def test_a_cahra_mine_needs_a_basis(api, officer):
    api.force_authenticate(officer)
    response = api.post(
        "/api/registry/mines/",
        {
            "name": "Unexplained",
            "minerals": ["cobalt"],
            "country": "CD",
            "method": "artisanal",
            "cahra": True,
        },
        format="json",
    )
    assert response.status_code == 400
    assert "cahra_basis" in response.json()


def test_coverage_endpoint_equals_the_selector_and_honours_as_of(api):
    org = make_org("Logger")
    company = make_company("Covered Co")
    make_attestation(company, "rmi-rmap", org, valid_until="2025-12-31")
    data = api.get(f"/api/registry/companies/{company.pk}/coverage/?as_of=2025-06-30").json()
    import datetime as dt

    expected = CoverageSerializer(
        company_coverage(company, Requester.anonymous(), dt.date(2025, 6, 30))
    ).data
    assert data == expected
    later = api.get(f"/api/registry/companies/{company.pk}/coverage/?as_of=2026-06-30").json()
    assert later["covered"] == {}
    assert api.get(f"/api/registry/companies/{company.pk}/coverage/?as_of=June").status_code == 400
    assert api.get("/api/registry/companies/999999/coverage/").status_code == 404


def test_coverage_runs_a_fixed_number_of_queries_whatever_the_attestations(api):
    org = make_org("Logger")
    company = make_company("Busy Co")
    url = f"/api/registry/companies/{company.pk}/coverage/?as_of=2025-06-30"
    make_attestation(company, "irma", org)
    few = queries(api, url)
    for code in ("rmi-rmap", "lme-rsr", "ci-ciraf", "oecd-ddg", "eu-battery-regulation") * 4:
        make_attestation(company, code, org)
    assert queries(api, url) == few


_refiner_seq = iter(range(10_000))


def cobalt_refiners(n, org, verified=0, private=0):
    from taxonomy.models import Mineral

    cobalt = Mineral.objects.get(code="cobalt")
    companies = []
    for i in range(n):
        name = f"Refiner {i:02d}"
        if Company.objects.filter(legal_name=name).exists():
            name = f"Refiner {i:02d}-{next(_refiner_seq)}"
        company = make_company(name, stages=("refining",), country="CN")
        facility = company.facilities.create(
            name=f"Plant {i}",
            kind="smelter_refiner",
            country="CN",
            stage_id=company.stages.get().pk,
        )
        facility.minerals.add(cobalt)
        if i < verified:
            make_attestation(company, "rmi-rmap", org, visibility="public")
        elif i < verified + private:
            make_attestation(company, "rmi-rmap", org, visibility="private")
        companies.append(company)
    return companies


def test_sector_search_lists_cobalt_refiners_without_verified_labour_coverage(api):
    org = make_org("Logger")
    cobalt_refiners(6, org, verified=2)
    make_company("Nickel Miner", stages=("mining",), country="ID")
    data = api.get(
        "/api/registry/sector-gaps/?stage=refining&mineral=cobalt&cells=content.labor_rights"
    ).json()
    assert data["company_count"] == 6
    assert sorted(row["company_name"] for row in data["lacking"]) == [
        f"Refiner {i:02d}" for i in range(2, 6)
    ]
    assert data["shares"] == [
        {
            "cell": "content.labor_rights",
            "lacking": 4,
            "share": 0.6667,
            "visible_lacking": 4,
            "basis": "visible",
            "noised": False,
            "suppressed": False,
        }
    ]


def test_self_declared_or_member_only_does_not_count_as_independently_verified(api):
    org = make_org("Logger")
    company = cobalt_refiners(1, org)[0]
    make_attestation(company, "rmi-rmap", org, type="membership")
    strict = sector_gaps(
        cells=["content.labor_rights"], requester=Requester.anonymous(), stage="refining"
    )
    loose = sector_gaps(
        cells=["content.labor_rights"],
        requester=Requester.anonymous(),
        stage="refining",
        independent_only=False,
    )
    assert [r.company.pk for r in strict.lacking] == [company.pk]
    assert loose.lacking == []


def test_private_attestations_count_in_shares_only_for_groups_of_five_or_more():
    org = make_org("Logger")
    anonymous = Requester.anonymous()

    def search():
        return sector_gaps(cells=["content.labor_rights"], requester=anonymous, stage="refining")

    cobalt_refiners(4, org, private=2)
    small = search()
    assert small.company_count == 4
    assert not small.private_data_counted
    assert small.shares[0].lacking == 4  # the private coverage of two is not revealed


def test_private_data_moves_a_share_only_through_a_snapshot():
    """Live, the visible list minus the share would single companies out; the rules of the
    snapshot figures are tested in tests/test_registry_privacy.py."""
    from registry.privacy import build_snapshot

    org = make_org("Logger")
    anonymous = Requester.anonymous()

    def search():
        return sector_gaps(cells=["content.labor_rights"], requester=anonymous, stage="refining")

    cobalt_refiners(13, org, private=5)
    live = search()
    assert live.company_count == 13
    assert live.shares[0].lacking == 13 == len(live.lacking)
    assert not live.private_data_counted
    assert live.private_data == "no_snapshot"
    taken, _ = build_snapshot()
    counted = search()
    assert counted.snapshot.taken_on == taken.taken_on
    assert counted.private_data in ("noised", "partly_suppressed", "suppressed")
    assert len(counted.lacking) == 13  # names only from what the requester may see


def test_sector_search_endpoint_equals_the_selector_and_runs_fixed_queries(api):
    org = make_org("Logger")
    cobalt_refiners(5, org, verified=2, private=1)
    url = (
        "/api/registry/sector-gaps/?stage=refining&mineral=cobalt"
        "&cells=content.labor_rights,content.human_rights&as_of=2025-06-30"
    )
    import datetime as dt

    expected = SectorGapsSerializer(
        sector_gaps(
            cells=["content.labor_rights", "content.human_rights"],
            requester=Requester.anonymous(),
            stage="refining",
            mineral="cobalt",
            as_of=dt.date(2025, 6, 30),
        )
    ).data
    assert api.get(url).json() == expected
    before = queries(api, url)
    cobalt_refiners(20, org, verified=10, private=5)
    assert queries(api, url) == before


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ("cells=content.bogus", "content.bogus"),
        ("stage=refining", "cells"),
        ("cells=content.labor_rights&stage=smelting", "smelting"),
        ("cells=content.labor_rights&mineral=unobtainium", "unobtainium"),
        ("cells=content.labor_rights&country=XX", "country"),
        ("cells=content.labor_rights&as_of=yesterday", "as_of"),
    ],
)
def test_sector_search_bad_input_is_a_400(api, query, needle):
    response = api.get(f"/api/registry/sector-gaps/?{query}")
    assert response.status_code == 400
    assert needle in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/api/registry/companies/",
        "/api/registry/facilities/",
        "/api/registry/mines/",
        "/api/registry/attestations/",
        "/api/registry/organisations/",
    ],
)
def test_registry_lists_run_a_fixed_number_of_queries(api, url):
    from django.contrib.auth import get_user_model

    org = make_org("Logger")
    staff = make_user(org, "reviewer", is_staff=True)

    def fresh_queries():
        # A real request loads the user (and its membership) afresh each time.
        api.force_authenticate(get_user_model().objects.get(pk=staff.pk))
        return queries(api, url)

    def add(n):
        refiners = cobalt_refiners(n, org, verified=n // 2, private=n // 2)
        for refiner in refiners:
            mine = MinedSource.objects.create(
                name=f"Mine of {refiner}", country="CD", method="industrial"
            )
            MineOwnership.objects.create(mine=mine, company=refiner, share_pct=50)

    add(2)
    before = fresh_queries()
    add(12)
    assert fresh_queries() == before


def test_facilities_with_stage_minerals_and_dual_feedstock(api, officer):
    company = make_company("Dual Feed Refining")
    api.force_authenticate(officer)
    response = api.post(
        "/api/registry/facilities/",
        {
            "company": company.pk,
            "name": "Nevada dual-feedstock refinery",
            "kind": "recycling",
            "country": "US",
            "region": "Nevada",
            "stage": "refining",
            "minerals": ["cobalt", "nickel", "lithium"],
            "feedstock": "both",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["feedstock"] == "both"
    listed = api.get("/api/registry/facilities/?feedstock=both&mineral=lithium").json()
    assert [f["name"] for f in listed["results"]] == ["Nevada dual-feedstock refinery"]
    bad = api.post(
        "/api/registry/facilities/",
        {
            "company": company.pk,
            "name": "X",
            "kind": "mine",
            "country": "US",
            "stage": "smelting",
            "minerals": ["adamantium"],
        },
        format="json",
    )
    assert bad.status_code == 400
    assert set(bad.json()) == {"stage", "minerals"}
