"""Supply flows over the API: bulk create, clear 400s, concentration, tracing, what-if."""

import json

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry.models import SupplyRelationship
from registry.production import load_production
from registry.querysets import Requester
from registry.reference import load_rules
from registry.supply import summary_of, supply_chain
from taxonomy.models import Mineral

from .factories import make_company, make_org, make_user
from .test_registry_concentration import chain  # noqa: F401  (the worked example graph)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def reference():
    load_rules()


@pytest.fixture
def officer(api):
    user = make_user(make_org("Flows compliance"), "compliance_officer")
    api.force_authenticate(user)
    return user


@pytest.fixture
def trio():
    return (
        make_company("Miner A", stages=("mining",), country="CD"),
        make_company("Refiner B", stages=("refining",), country="CN"),
        make_company("Cathode C", stages=("cathode",), country="KR"),
    )


def rel(supplier, buyer, **extra):
    body = {
        "supplier": supplier.pk,
        "buyer": buyer.pk,
        "material": "intermediate",
        "mineral": "cobalt",
        "stage": "refining",
        "volume_t": "100",
    }
    body.update(extra)
    return body


def test_create_one_and_many_relationships(api, officer, trio):
    a, b, c = trio
    one = api.post("/api/registry/relationships/", rel(a, b, stage="mining"), format="json")
    assert one.status_code == 201, one.json()
    many = api.post(
        "/api/registry/relationships/", [rel(b, c), rel(b, c, mineral="nickel")], format="json"
    )
    assert many.status_code == 201, many.json()
    assert len(many.json()) == 2
    assert SupplyRelationship.objects.count() == 3


@pytest.mark.parametrize(
    ("extra", "field", "needle"),
    [
        ({"volume_t": "-5"}, "volume_t", "greater than or equal to 0"),
        ({"volume_t": None, "share_pct": "120"}, "share_pct", "less than or equal to 100"),
        ({"mineral": "unobtainium"}, "mineral", "unobtainium"),
        ({"stage": "smelting"}, "stage", "smelting"),
        ({"volume_t": None}, "volume_t", "volume"),
        ({"period_start": "2024-12-01", "period_end": "2024-01-01"}, "period_end", "before"),
    ],
)
def test_bad_relationship_input_is_a_400_naming_the_problem(
    api, officer, trio, extra, field, needle
):
    a, b, _ = trio
    response = api.post("/api/registry/relationships/", rel(a, b, **extra), format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert needle in str(response.json())
    assert SupplyRelationship.objects.count() == 0


def test_a_company_cannot_supply_itself(api, officer, trio):
    a, _, _ = trio
    response = api.post("/api/registry/relationships/", rel(a, a), format="json")
    assert response.status_code == 400
    assert "cannot supply itself" in str(response.json())


def test_reported_shares_of_a_buyers_supply_cannot_pass_100_percent(api, officer, trio):
    a, b, c = trio
    ok = api.post(
        "/api/registry/relationships/", rel(a, c, volume_t=None, share_pct="70"), format="json"
    )
    assert ok.status_code == 201
    over = api.post(
        "/api/registry/relationships/", rel(b, c, volume_t=None, share_pct="40"), format="json"
    )
    assert over.status_code == 400
    assert "110.00%, over 100%" in str(over.json())


def test_a_relationship_closing_a_cycle_is_refused_with_its_path(api, officer, trio):
    a, b, c = trio
    api.post("/api/registry/relationships/", [rel(a, b), rel(b, c)], format="json")
    response = api.post("/api/registry/relationships/", rel(c, a), format="json")
    assert response.status_code == 400
    message = str(response.json())
    assert "cycle" in message
    assert "Miner A → Refiner B → Cathode C → Miner A" in message
    # Another mineral has its own graph: no cycle there.
    assert (
        api.post(
            "/api/registry/relationships/", rel(c, a, mineral="nickel"), format="json"
        ).status_code
        == 201
    )


def test_a_bulk_create_with_one_bad_item_saves_nothing(api, officer, trio):
    a, b, c = trio
    response = api.post(
        "/api/registry/relationships/", [rel(a, b), rel(b, c), rel(c, a)], format="json"
    )
    assert response.status_code == 400
    assert "item 2" in str(response.json())
    assert SupplyRelationship.objects.count() == 0


def test_only_officers_and_staff_write_flows(api, trio):
    a, b, _ = trio
    assert api.post("/api/registry/relationships/", rel(a, b), format="json").status_code in (
        401,
        403,
    )


def test_source_link_must_be_a_mineral_the_mine_produces(api, officer):
    from registry.models import Facility, MinedSource
    from taxonomy.models import Cell

    company = make_company("Plant owner")
    facility = Facility.objects.create(
        company=company,
        name="Plant",
        kind="smelter_refiner",
        country="CN",
        stage=Cell.objects.get(code="application.refining"),
    )
    mine = MinedSource.objects.create(name="Lithium pit", country="AU", method="hard_rock")
    mine.minerals.add(Mineral.objects.get(code="lithium"))
    body = {"mine": mine.pk, "facility": facility.pk, "mineral": "cobalt", "volume_t": "10"}
    bad = api.post("/api/registry/source-links/", body, format="json")
    assert bad.status_code == 400 and "mineral" in bad.json()
    body["mineral"] = "lithium"
    assert api.post("/api/registry/source-links/", body, format="json").status_code == 201
    body["volume_t"] = "-1"
    assert api.post("/api/registry/source-links/", body, format="json").status_code == 400


def test_concentration_endpoint_from_production_and_from_flows(api):
    load_production()
    data = api.get("/api/registry/concentration/?mineral=cobalt&stage=mining&year=2024").json()
    assert data["hhi"] == pytest.approx(5945.4, abs=0.05)
    assert data["band"]["label"] == "highly concentrated"
    assert data["band"]["rule"] == "hhi-doj-ftc-2010"
    strict = api.get(
        "/api/registry/concentration/?mineral=lithium&stage=mining&year=2024"
        "&thresholds=hhi-doj-ftc-2023"
    ).json()
    assert strict["band"]["rule"] == "hhi-doj-ftc-2023"
    assert (
        api.get("/api/registry/concentration/?mineral=cobalt&source=flows&by=company").status_code
        == 200
    )


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ("mineral=unobtainium", "mineral"),
        ("mineral=aluminium&stage=refining", "name one"),
        ("mineral=cobalt&unlisted=ignore", "unlisted"),
        ("mineral=cobalt&thresholds=made-up", "thresholds"),
        ("mineral=cobalt&year=1800", "year"),
        ("mineral=cobalt&by=company", "No company production recorded"),
    ],
)
def test_concentration_bad_input_is_a_400(api, query, needle):
    load_production()
    response = api.get(f"/api/registry/concentration/?{query}")
    assert response.status_code == 400
    assert needle in response.content.decode()


def test_supply_chain_endpoint_equals_the_selector(api, chain):  # noqa: F811
    url = (
        f"/api/registry/companies/{chain['v'].pk}/supply-chain/?mineral=cobalt"
        "&cells=content.labor_rights&checked_on=2024-06-01"
    )
    data = api.get(url).json()
    import datetime as dt

    # The answer is the trace's summary plus one page of its flows (issue 16).
    summary, flows = summary_of(
        supply_chain(
            chain["v"],
            Mineral.objects.get(code="cobalt"),
            requester=Requester.anonymous(),
            cells=["content.labor_rights"],
            checked_on=dt.date(2024, 6, 1),
        )
    )
    expected = {**summary, "trace": {**summary["trace"], "flows": flows[:50]}}
    paging = {k: data.pop(k) for k in ("page", "page_size", "next", "previous")}
    kept = {k: data.pop(k) for k in ("computed_at", "stale")}
    assert data == json.loads(json.dumps(expected, cls=DjangoJSONEncoder))
    assert paging == {"page": 1, "page_size": 50, "next": None, "previous": None}
    assert kept == {"computed_at": None, "stale": False}  # a small graph: computed inline
    assert data["trace"]["untraced_pct"] == pytest.approx(20.0)
    assert {r["rule"] for r in data["rules"]} == {
        "eu-crma-single-country",
        "concern-default",
        "us-ira-30d",
        "us-45x-pfe-battery-components",
        "us-45x-pfe-critical-minerals",
    }


def test_supply_chain_bad_input(api, chain):  # noqa: F811
    base = f"/api/registry/companies/{chain['v'].pk}/supply-chain/"
    assert api.get(base).status_code == 400  # mineral is required
    assert api.get(base + "?mineral=cobalt&cells=content.nope").status_code == 400
    assert api.get("/api/registry/companies/999999/supply-chain/?mineral=cobalt").status_code == 404


def test_supply_chain_endpoint_runs_a_fixed_number_of_queries(api, chain):  # noqa: F811
    url = (
        f"/api/registry/companies/{chain['v'].pk}/supply-chain/?mineral=cobalt"
        "&cells=content.labor_rights"
    )

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert api.get(url).status_code == 200
        return len(ctx.captured_queries)

    before = count()
    from .test_registry_concentration import mine, plant, source, supply

    for i in range(30):
        refiner = make_company(f"More refiner {i}", stages=("refining",))
        supply(refiner, chain["k2"], volume=2)
        source(mine(f"More mine {i}", "ZM"), plant(refiner, "CN"), 5)
    assert count() == before


def test_what_if_adding_a_regional_dual_feedstock_refinery(api, chain):  # noqa: F811
    from registry.models import MinedSource

    black_mass = MinedSource.objects.get(name="M4")
    response = api.post(
        f"/api/registry/companies/{chain['v'].pk}/what-if/",
        {
            "mineral": "cobalt",
            "checked_on": "2024-06-01",
            "new_companies": [{"key": "nv", "legal_name": "Nevada Dual Feed", "country": "US"}],
            "add": [
                {
                    "supplier": "nv",
                    "buyer": str(chain["k2"].pk),
                    "stage": "refining",
                    "volume_t": 100,
                }
            ],
            "add_sources": [{"mine": black_mass.pk, "company": "nv", "volume_t": 50}],
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    data = response.json()
    before, after = data["baseline"]["trace"], data["scenario"]["trace"]
    # K2's unknown half is now refined in the US from recycled black mass.
    assert before["untraced_pct"] == pytest.approx(20.0)
    assert after["untraced_pct"] == pytest.approx(0.0)
    assert after["recycled_pct"] == pytest.approx(22.5 + 20.0)
    ira_before = next(r for r in data["baseline"]["rules"] if r["rule"] == "us-ira-30d")
    ira_after = next(r for r in data["scenario"]["rules"] if r["rule"] == "us-ira-30d")
    assert ira_before["status"] == "fail" and ira_after["status"] == "pass"
    assert any(f["hypothetical"] for f in after["flows"])
    assert SupplyRelationship.objects.filter(buyer=chain["k2"]).count() == 1  # nothing saved


def test_what_if_removing_a_supplier(api, chain):  # noqa: F811
    edge = SupplyRelationship.objects.get(supplier=chain["r2"])
    data = api.post(
        f"/api/registry/companies/{chain['v'].pk}/what-if/",
        {"mineral": "cobalt", "remove": [edge.pk]},
        format="json",
    ).json()
    countries = {s["key"] for s in data["scenario"]["trace"]["processing_country"]["shares"]}
    assert countries == {"CN"}


@pytest.mark.parametrize(
    ("make_body", "needle"),
    [
        (
            lambda c: {
                "add": [
                    {
                        "supplier": "ghost",
                        "buyer": str(c["c"].pk),
                        "stage": "refining",
                        "volume_t": 1,
                    }
                ]
            },
            "Unknown company",
        ),
        (
            lambda c: {
                "add": [
                    {
                        "supplier": "999999",
                        "buyer": str(c["c"].pk),
                        "stage": "refining",
                        "volume_t": 1,
                    }
                ]
            },
            "Unknown company ids",
        ),
        (
            lambda c: {
                "add": [
                    {
                        "supplier": str(c["c"].pk),
                        "buyer": str(c["c"].pk),
                        "stage": "refining",
                        "volume_t": 1,
                    }
                ]
            },
            "supply itself",
        ),
        (
            lambda c: {
                "add": [
                    {
                        "supplier": str(c["r1"].pk),
                        "buyer": str(c["c"].pk),
                        "stage": "refining",
                        "volume_t": -1,
                    }
                ]
            },
            "volume_t",
        ),
        (lambda c: {"remove": [999999]}, "not in this buyer"),
    ],
)
def test_what_if_bad_input_is_a_400(api, chain, make_body, needle):  # noqa: F811
    response = api.post(
        f"/api/registry/companies/{chain['v'].pk}/what-if/",
        {"mineral": "cobalt", **make_body(chain)},
        format="json",
    )
    assert response.status_code == 400
    assert needle in response.content.decode()


def test_production_statistics_are_listed_with_their_source(api):
    load_production()
    data = api.get("/api/registry/production/?mineral__code=cobalt&year=2024&page_size=100").json()
    assert data["next"] is None  # one page holds them: cursor pages carry no "count"
    # 14 USGS mine rows and 7 IEA refining rows
    by_stage = {
        stage: [r for r in data["results"] if r["stage"] == stage]
        for stage in ("mining", "refining")
    }
    assert (len(by_stage["mining"]), len(by_stage["refining"]), len(data["results"])) == (14, 7, 21)
    assert all("USGS" in row["source"] for row in by_stage["mining"])
    assert all("IEA (2025)" in row["source"] for row in by_stage["refining"])


def test_without_reference_rules_the_api_says_what_to_run_instead_of_failing(api):
    from registry.models import Rule

    Rule.objects.all().delete()
    response = api.get("/api/registry/concentration/?mineral=cobalt&source=flows")
    assert response.status_code == 503
    assert "load_reference" in response.json()["detail"]
