"""What-if (seed 000): a regional dual-feedstock plant added to a buyer's chain or to a
country's published refining, with refining HHI, rule checks and recycled share before
and after."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry.models import Company, ProductionStatistic, SupplyRelationship
from registry.reference import load_rules
from taxonomy.models import Mineral

from .factories import make_company
from .test_registry_concentration import chain, mine, plant, source, supply  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def reference():
    load_rules()


NEVADA = {
    "key": "nv",
    "legal_name": "Nevada Dual Feed",
    "country": "US",
    "virgin_t": 60,
    "recycled_t": 40,
    "virgin_country": "AU",
}


def chain_what_if(api, chain, **body):  # noqa: F811
    return api.post(
        f"/api/registry/companies/{chain['v'].pk}/what-if/",
        {"mineral": "cobalt", "checked_on": "2026-06-01", **body},
        format="json",
    )


def test_a_dual_feedstock_plant_in_a_buyers_chain_before_and_after(api, chain):  # noqa: F811
    companies, relationships = Company.objects.count(), SupplyRelationship.objects.count()
    plant_spec = {**NEVADA, "supplies": str(chain["k2"].pk), "volume_t": 100}
    response = chain_what_if(api, chain, plants=[plant_spec])
    assert response.status_code == 200, response.json()
    data = response.json()
    compare = data["comparison"]
    # Before: refined R1 .35 (CN), R2 .45 (FI) of a traced .8: 43.75^2 + 56.25^2.
    # After: the plant takes K2's unknown half, .2: CN 35, FI 45, US 20 -> 1225+2025+400.
    assert compare["refining_hhi_by_country"] == {"before": 5078.1, "after": 3650.0}
    assert compare["refining_hhi_by_company"] == {"before": 5078.1, "after": 3650.0}
    # Recycled: M4 .225 before; the plant's recycled feed adds .2 x 40/100 = .08.
    assert compare["recycled_pct"] == pytest.approx({"before": 22.5, "after": 30.5})
    assert compare["untraced_pct"] == pytest.approx({"before": 20.0, "after": 0.0})
    statuses = {r["rule"]: r["status"] for r in compare["rules"]}
    # Through Refiner CN (a PFE) .35 either way; untraced 20 -> 0: 45% -> 65% vs 60%.
    assert statuses["us-45x-pfe-battery-components"] == {"before": "fail", "after": "pass"}
    assert statuses["us-ira-30d"] == {"before": "historical", "after": "historical"}
    after = data["scenario"]["trace"]
    hypothetical = {f["supplier"] for f in after["flows"] if f["hypothetical"]}
    assert hypothetical == {
        "Nevada Dual Feed",
        "Nevada Dual Feed: virgin feed",
        "Nevada Dual Feed: recycled feed",
    }
    mines = {s["key"]: s["share_pct"] for s in after["mine_country"]["shares"]}
    assert mines["US"] == pytest.approx(22.5 + 8.0)  # M4 and the recycled feed
    assert Company.objects.count() == companies  # nothing saved
    assert SupplyRelationship.objects.count() == relationships


def test_the_plant_supplying_a_share_meets_the_ira_on_a_date_it_was_in_force(api, chain):  # noqa: F811
    plant_spec = {**NEVADA, "supplies": str(chain["k2"].pk), "share_pct": 50}
    data = chain_what_if(api, chain, plants=[plant_spec], checked_on="2024-06-01").json()
    ira = next(r for r in data["comparison"]["rules"] if r["rule"] == "us-ira-30d")
    # Refined in the US (FTA) .2 on top of 45% qualifying: 65% >= 50% for 2024.
    assert ira["status"] == {"before": "fail", "after": "pass"}
    assert ira["value"] == pytest.approx({"before": 45.0, "after": 65.0})
    rule = next(r for r in data["scenario"]["rules"] if r["rule"] == "us-ira-30d")
    assert rule["in_force_until"] == "2025-09-30"


@pytest.mark.parametrize(
    ("change", "field", "needle"),
    [
        ({"virgin_t": 0, "recycled_t": 0}, "virgin_t", "feed"),
        ({"virgin_t": -5}, "virgin_t", "greater than or equal to 0"),
        ({"country": "XX"}, "country", "XX"),
        ({"supplies": "999999"}, "plants", "Unknown company ids"),
        ({"supplies": "ghost"}, "plants", "Unknown company"),
        ({"volume_t": None}, "volume_t", "volume_t or share_pct"),
    ],
)
def test_a_bad_plant_in_a_chain_is_a_400_naming_the_field(api, chain, change, field, needle):  # noqa: F811
    plant_spec = {**NEVADA, "supplies": str(chain["k2"].pk), "volume_t": 100, **change}
    response = chain_what_if(api, chain, plants=[plant_spec])
    assert response.status_code == 400
    assert field in response.content.decode() and needle in response.content.decode()


def test_the_chain_what_if_runs_a_bounded_number_of_queries(api, chain):  # noqa: F811
    plant_spec = {**NEVADA, "supplies": str(chain["k2"].pk), "volume_t": 100}

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert chain_what_if(api, chain, plants=[plant_spec]).status_code == 200
        return len(ctx.captured_queries)

    before = count()
    for i in range(30):
        refiner = make_company(f"More refiner {i}", stages=("refining",))
        supply(refiner, chain["k1"], volume=2)
        source(mine(f"More mine {i}", "ZM"), plant(refiner, "CN"), 5)
    assert count() == before


# --- A country's published refining -----------------------------------------------------


@pytest.fixture
def refining():
    """Cobalt refining 2024 (hand-made figures, t): CN 150 (Huayou 90, Jinchuan 60), FI 30
    (Umicore), CA 20 (Sherritt); world 200."""
    cobalt = Mineral.objects.get(code="cobalt")
    common = {
        "mineral": cobalt,
        "product": "refined cobalt",
        "stage": "refining",
        "year": 2024,
        "unit": "t Co",
        "source": "test figures",
    }
    for label, country, t in (("China", "CN", 150), ("Finland", "FI", 30), ("Canada", "CA", 20)):
        ProductionStatistic.objects.create(
            label=label, country=country, quantity=Decimal(t), **common
        )
    ProductionStatistic.objects.create(
        label="World total", kind="world", quantity=Decimal(200), **common
    )
    for name, country, t in (
        ("Huayou", "CN", 90),
        ("Jinchuan", "CN", 60),
        ("Umicore", "FI", 30),
        ("Sherritt", "CA", 20),
    ):
        company = make_company(name, stages=("refining",), country=country)
        ProductionStatistic.objects.create(
            label=name, country=country, company=company, quantity=Decimal(t), **common
        )


def refining_what_if(api, **body):
    return api.post(
        "/api/registry/concentration/what-if/",
        {
            "mineral": "cobalt",
            "year": 2024,
            "plants": [
                {"name": "Nevada Dual Feed", "country": "US", "virgin_t": 30, "recycled_t": 20}
            ],
            **body,
        },
        format="json",
    )


def test_a_dual_feedstock_plant_in_a_countrys_refining_before_and_after(api, refining):
    response = refining_what_if(api)
    assert response.status_code == 200, response.json()
    data = response.json()
    country = data["by_country"]
    # 75^2 + 15^2 + 10^2; after, of 250 t: 60^2 + 12^2 + 8^2 + 20^2.
    assert (country["before"]["hhi"], country["after"]["hhi"]) == (5950.0, 4208.0)
    company = data["by_company"]
    # 45^2 + 30^2 + 15^2 + 10^2; after: 36^2 + 24^2 + 12^2 + 8^2 + 20^2.
    assert (company["before"]["hhi"], company["after"]["hhi"]) == (3250.0, 2480.0)
    assert {s["label"]: s["share_pct"] for s in company["after"]["shares"]}[
        "Nevada Dual Feed"
    ] == pytest.approx(20.0)
    assert data["world_t"] == {"before": 200.0, "after": 250.0}
    assert data["recycled"]["before_pct"] is None
    assert data["recycled"]["after_pct_at_least"] == pytest.approx(8.0)  # 20 of 250 t
    largest = data["largest_country"]
    assert (largest["before"], largest["after"]) == (
        {"country": "CN", "share_pct": 75.0},
        {"country": "CN", "share_pct": 60.0},
    )
    assert largest["cap_pct"] == 65.0
    assert ProductionStatistic.objects.count() == 8  # nothing saved


def test_without_company_rows_the_company_hhi_is_not_given_and_says_why(api, refining):
    ProductionStatistic.objects.filter(company__isnull=False).delete()
    data = refining_what_if(api).json()
    assert data["by_company"] is None
    assert "No company refining statistics" in data["by_company_note"]


@pytest.mark.parametrize(
    ("body", "field", "needle"),
    [
        ({"year": 1999}, "year", "No published refining statistics"),
        ({"plants": []}, "plants", "empty"),
        (
            {"plants": [{"name": "P", "country": "US", "virgin_t": 0, "recycled_t": 0}]},
            "virgin_t",
            "feed",
        ),
        ({"mineral": "unobtainium"}, "mineral", "unobtainium"),
        ({"fringe": "sideways"}, "fringe", "sideways"),
    ],
)
def test_a_bad_refining_scenario_is_a_400_naming_the_field(api, refining, body, field, needle):
    response = refining_what_if(api, **body)
    assert response.status_code == 400
    assert field in response.content.decode() and needle in response.content.decode()


def test_the_refining_what_if_runs_a_fixed_number_of_queries(
    api, refining, django_assert_max_num_queries
):
    with django_assert_max_num_queries(8):
        assert refining_what_if(api).status_code == 200
