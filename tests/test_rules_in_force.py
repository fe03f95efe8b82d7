"""Rules as sourced data with dates in force; the US prohibited-foreign-entity check."""

import datetime as dt
import shutil

import pytest
import yaml
from django.db import IntegrityError, transaction

from registry.models import Rule
from registry.querysets import Requester
from registry.reference import RULES_FILE, load_rules
from registry.supply import supply_chain
from taxonomy.models import Mineral

from .factories import make_company
from .test_registry_concentration import chain, mine, plant, source, supply  # noqa: F401

pytestmark = pytest.mark.django_db

BATTERY = "us-45x-pfe-battery-components"
MINERALS = "us-45x-pfe-critical-minerals"


@pytest.fixture(autouse=True)
def reference():
    load_rules()


def check(buyer, day, code):
    rules = supply_chain(
        buyer, Mineral.objects.get(code="cobalt"), requester=Requester.anonymous(), checked_on=day
    ).rules
    return next(r for r in rules if r.rule == code)


# --- Dates in force -------------------------------------------------------------------


def test_rules_carry_their_dates_in_force_from_the_data_file():
    ira = Rule.objects.get(code="us-ira-30d")
    assert (ira.in_force_from, ira.in_force_until) == (dt.date(2023, 1, 1), dt.date(2025, 9, 30))
    crma = Rule.objects.get(code="eu-crma-single-country")
    assert (crma.in_force_from, crma.in_force_until) == (dt.date(2024, 5, 23), None)
    for code in (BATTERY, MINERALS):
        pfe = Rule.objects.get(code=code)
        assert pfe.in_force_from == dt.date(2026, 1, 1)
        assert "7701(a)(52)" in pfe.source


@pytest.mark.parametrize(
    ("day", "force"),
    [
        (dt.date(2022, 12, 31), "not_yet"),
        (dt.date(2023, 1, 1), "in_force"),
        (dt.date(2025, 9, 30), "in_force"),
        (dt.date(2025, 10, 1), "ended"),
    ],
)
def test_a_rule_is_in_force_from_its_first_to_its_last_day(day, force):
    assert Rule.objects.get(code="us-ira-30d").force_on(day) == force


def test_a_rule_cannot_end_before_it_starts():
    rule = Rule.objects.get(code="us-ira-30d")
    rule.in_force_until = dt.date(2022, 1, 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        rule.save()


@pytest.mark.parametrize(
    ("day", "status"),
    [(dt.date(2024, 5, 22), "not_in_force"), (dt.date(2024, 5, 23), "pass")],
)
def test_a_check_before_a_rule_is_in_force_is_not_a_pass_or_fail(chain, day, status):  # noqa: F811
    crma = check(chain["v"], day, "eu-crma-single-country")
    assert crma.status == status
    assert crma.in_force_from == dt.date(2024, 5, 23)
    if status == "not_in_force":
        assert crma.value is None and crma.flows == []
        assert "23 May 2024" in crma.detail


def test_the_30d_credit_is_historical_after_30_september_2025_with_its_dates(chain):  # noqa: F811
    last_day = check(chain["v"], dt.date(2025, 9, 30), "us-ira-30d")
    assert last_day.status == "fail"  # 45% qualifying < 60% for 2025
    after = check(chain["v"], dt.date(2026, 6, 1), "us-ira-30d")
    assert after.status == "historical"
    assert after.in_force_until == dt.date(2025, 9, 30)
    assert after.threshold == 70.0  # the 2026 figure, shown for reference only
    assert "ended after 30 Sep 2025" in after.detail
    assert "would not have been met" in after.detail


def test_an_admins_change_to_a_rules_dates_survives_a_new_version_of_the_file(tmp_path):
    Rule.objects.filter(code="eu-crma-single-country").update(in_force_until=dt.date(2030, 12, 31))
    edited = tmp_path / "rules.yaml"
    shutil.copy(RULES_FILE, edited)
    specs = yaml.safe_load(edited.read_text())
    for spec in specs:
        if spec["code"] == "us-ira-30d":
            spec["name"] += " (renamed)"
    edited.write_text(yaml.safe_dump(specs, allow_unicode=True))
    load_rules(edited)
    assert Rule.objects.get(code="eu-crma-single-country").in_force_until == dt.date(2030, 12, 31)
    assert Rule.objects.get(code="us-ira-30d").name.endswith("(renamed)")


# --- Prohibited foreign entities ------------------------------------------------------


@pytest.fixture
def pfe_chain():
    """B (US) <- R_cn (CN, 30 t), R_us (US, 30% held by China's state, 20 t), R_kr (KR,
    50 t); R_cn <- M3 (CD); R_us <- M4 (CA); R_kr <- M1 (operated by a CN company, 40 t),
    M2 (AU, 60 t). Through a PFE: R_cn .3 + R_us .2 + M1 .5 x .4 = 70%."""
    b = make_company("Cell Maker US", stages=("cell",), country="US")
    r_cn = make_company("Refiner CN", stages=("refining",), country="CN")
    r_us = make_company("Refiner US", stages=("refining",), country="US")
    r_us.state_owner, r_us.state_ownership_pct = "CN", 30
    r_us.save()
    r_kr = make_company("Refiner KR", stages=("refining",), country="KR")
    o_cn = make_company("Miner CN", stages=("mining",), country="CN")
    o_au = make_company("Miner AU", stages=("mining",), country="AU")
    supply(r_cn, b, volume=30)
    supply(r_us, b, volume=20)
    supply(r_kr, b, volume=50)
    source(mine("M3", "CD"), plant(r_cn, "CN"), 10)
    source(mine("M4", "CA"), plant(r_us, "US"), 10)
    kr_plant = plant(r_kr, "KR")
    source(mine("M1", "ID", operator=o_cn), kr_plant, 40)
    source(mine("M2", "AU", operator=o_au), kr_plant, 60)
    return {"b": b, "r_us": r_us, "r_kr": r_kr}


def test_share_through_prohibited_foreign_entities_names_its_flows(pfe_chain):
    result = check(pfe_chain["b"], dt.date(2026, 6, 1), BATTERY)
    assert result.value == pytest.approx(30.0)  # 100 - 70
    assert result.threshold == 60.0
    assert result.status == "fail"
    assert {(f.kind, f.supplier) for f in result.flows} == {
        ("edge", "Refiner CN"),
        ("edge", "Refiner US"),
        ("source", "M1"),
    }
    assert sum(f.share_pct for f in result.flows) == pytest.approx(70.0)
    assert "cost-based" in result.detail and "mass" in result.detail


@pytest.mark.parametrize(
    ("day", "status", "threshold"),
    [
        (dt.date(2025, 12, 31), "not_in_force", None),
        (dt.date(2029, 6, 1), "pass", 0.0),
        (dt.date(2030, 6, 1), "pass", 25.0),  # 30% >= 25%
        (dt.date(2032, 6, 1), "fail", 40.0),
        (dt.date(2040, 6, 1), "fail", 50.0),  # the "after 2032" figure
    ],
)
def test_critical_mineral_threshold_follows_the_year(pfe_chain, day, status, threshold):
    result = check(pfe_chain["b"], day, MINERALS)
    assert (result.status, result.threshold) == (status, threshold)


@pytest.mark.parametrize(("state_pct", "through"), [(25, 70.0), (24.9, 50.0)])
def test_state_ownership_makes_a_prohibited_entity_from_25_percent(pfe_chain, state_pct, through):
    pfe_chain["r_us"].state_ownership_pct = state_pct
    pfe_chain["r_us"].save()
    result = check(pfe_chain["b"], dt.date(2026, 6, 1), BATTERY)
    assert result.value == pytest.approx(100 - through)


def test_an_entity_named_in_the_rule_counts_whatever_its_country(pfe_chain):
    rule = Rule.objects.get(code=BATTERY)
    rule.params["companies"] = ["Refiner KR"]
    rule.save()
    result = check(pfe_chain["b"], dt.date(2026, 6, 1), BATTERY)
    assert result.value == pytest.approx(0.0)


def test_untraced_supply_is_not_counted_as_free_of_prohibited_entities():
    b = make_company("Buyer US", stages=("cell",), country="US")
    trader = make_company("Trader KR", country="KR")
    refiner = make_company("Refiner AU", stages=("refining",), country="AU")
    supply(trader, b, volume=50)  # no source behind it: untraced
    supply(refiner, b, volume=50)
    source(mine("M-AU", "AU"), plant(refiner, "AU"), 10)
    result = check(b, dt.date(2027, 6, 1), BATTERY)
    assert result.value == pytest.approx(50.0)
    assert result.threshold == 65.0
    assert result.status == "fail"
    assert "50.00% is untraced" in result.detail


def test_the_rules_api_shows_the_dates_and_finds_the_rules_that_ended(api):
    data = api.get("/api/registry/rules/?in_force_until__isnull=false").json()
    assert [(r["code"], r["in_force_until"]) for r in data["results"]] == [
        ("us-ira-30d", "2025-09-30")
    ]
    current = api.get("/api/registry/rules/?kind=pfe_material_assistance").json()["results"]
    assert {r["in_force_from"] for r in current} == {"2026-01-01"}
