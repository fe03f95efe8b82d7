"""Concentration from production statistics and from flows; tracing a buyer's supply."""

import datetime as dt
from decimal import Decimal

import pytest

from registry.concentration import flow_concentration, hhi, production_concentration, trace
from registry.concentration.graph import CompanyInfo, Edge, Graph, Link, MineInfo
from registry.models import (
    Facility,
    MinedSource,
    MineOwnership,
    Rule,
    SourceLink,
    SupplyRelationship,
)
from registry.production import load_production
from registry.querysets import Requester
from registry.reference import load_rules
from registry.supply import supply_chain
from taxonomy.models import Cell, Mineral

from .factories import make_attestation, make_company, make_org

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def reference():
    load_rules()


def stage(code):
    return Cell.objects.get(code=f"application.{code}")


def supply(
    supplier,
    buyer,
    mineral="cobalt",
    stage_code="refining",
    volume=None,
    share=None,
    facility=None,
    material="refined_chemical",
):
    return SupplyRelationship.objects.create(
        supplier=supplier,
        buyer=buyer,
        mineral=Mineral.objects.get(code=mineral),
        stage=stage(stage_code),
        material=material,
        volume_t=Decimal(str(volume)) if volume is not None else None,
        share_pct=Decimal(str(share)) if share is not None else None,
        supplier_facility=facility,
    )


def mine(name, country, method="industrial", cahra=False, operator=None, owners=()):
    m = MinedSource.objects.create(
        name=name,
        country=country,
        method=method,
        cahra=cahra,
        cahra_basis="test basis" if cahra else "",
        operator=operator,
    )
    m.minerals.add(Mineral.objects.get(code="cobalt"))
    for company, share in owners:
        MineOwnership.objects.create(mine=m, company=company, share_pct=share)
    return m


def plant(company, country):
    return Facility.objects.create(
        company=company,
        name=f"{company} plant",
        kind="smelter_refiner",
        country=country,
        stage=stage("refining"),
    )


def source(m, facility, volume, mineral="cobalt"):
    return SourceLink.objects.create(
        mine=m, facility=facility, volume_t=volume, mineral=Mineral.objects.get(code=mineral)
    )


# --- Production statistics ------------------------------------------------------


def test_country_hhi_of_usgs_2024_cobalt_mine_production_matches_the_hand_calculation():
    load_production()
    # USGS MCS 2025, cobalt mine production 2024 (t Co content), the listed countries:
    listed = [220000, 28000, 8700, 4500, 3800, 3600, 3500, 2800, 2700, 2600, 1500, 300]
    other = 6200
    assert 220000 + 28000 + other < 290000  # the rounded world total
    # Sum of squares: 48,400,000,000 + 784,000,000 + 75,690,000 + 20,250,000 + 14,440,000
    # + 12,960,000 + 12,250,000 + 7,840,000 + 7,290,000 + 6,760,000 + 2,250,000 + 90,000
    # = 49,343,820,000 over a listed total of 282,000 (squared: 79,524,000,000):
    # HHI = 10,000 x 49,343,820,000 / 79,524,000,000 = 6204.9 (unlisted excluded).
    assert sum(listed) == 282000
    assert sum(q * q for q in listed) == 49_343_820_000
    excluded = production_concentration(
        mineral="cobalt", stage="mining", year=2024, unlisted="excluded"
    )
    assert excluded.hhi == pytest.approx(6204.9, abs=0.05)
    # 'Other countries' (6,200 t) as one producer: add 38,440,000 to the squares and
    # 6,200 to the total: 10,000 x 49,382,260,000 / 288,200^2 = 5945.4.
    one_unit = production_concentration(mineral="cobalt", stage="mining", year=2024)
    assert one_unit.hhi == pytest.approx(5945.4, abs=0.05)
    assert one_unit.total == 288200
    assert one_unit.band.label == "highly concentrated"
    assert one_unit.shares[0].key == "CD"
    assert one_unit.shares[0].share_pct == pytest.approx(100 * 220000 / 288200, abs=1e-3)
    assert "one producer" in one_unit.note and "USGS" in one_unit.note


def test_loading_production_twice_keeps_one_row_per_producer_and_year():
    from registry.models import ProductionStatistic

    load_production()
    count = ProductionStatistic.objects.count()
    again = load_production()
    assert (again.added, again.updated, again.kept) == ([], [], [])
    assert again.unchanged == count
    assert ProductionStatistic.objects.count() == count
    lithium_us = ProductionStatistic.objects.get(product="lithium", year=2024, kind="withheld")
    assert lithium_us.quantity is None  # withheld, kept as such


def test_bands_at_the_edges_of_each_threshold_set():
    from registry.concentration import band_for, hhi_rule

    doj2010, doj2023 = hhi_rule("hhi-doj-ftc-2010"), hhi_rule("hhi-doj-ftc-2023")
    assert band_for(1499.9, doj2010).label == "unconcentrated"
    assert band_for(1500, doj2010).label == "moderately concentrated"
    assert band_for(2500, doj2010).label == "moderately concentrated"
    assert band_for(2500.1, doj2010).label == "highly concentrated"
    assert band_for(1800, doj2023).label == "moderately concentrated"
    assert band_for(1800.1, doj2023).label == "highly concentrated"
    assert hhi([50, 50]) == 5000


def test_several_products_must_be_named():
    from registry.concentration import ConcentrationInputError

    load_production()
    with pytest.raises(ConcentrationInputError, match="alumina"):
        production_concentration(mineral="aluminium", stage="refining", year=2024)
    assert (
        production_concentration(
            mineral="aluminium", stage="refining", year=2024, product="alumina"
        ).hhi
        > 0
    )


# --- Operator versus equity ------------------------------------------------------


def test_joint_venture_attribution_by_operator_and_by_equity():
    glencore = make_company("Glencore", stages=("mining",), country="CH")
    gecamines = make_company("Gecamines", stages=("mining",), country="CD")
    cmoc = make_company("CMOC", stages=("mining",), country="CN")
    kcc = mine("KCC", "CD", operator=glencore, owners=[(glencore, 75), (gecamines, 20)])
    tfm = mine("TFM", "CD", operator=cmoc, owners=[(cmoc, 80), (gecamines, 20)])
    source(kcc, plant(glencore, "CD"), 100)
    source(tfm, plant(cmoc, "CD"), 100)

    operator = flow_concentration(
        mineral="cobalt", stage="mining", by="company", attribution="operator"
    )
    # Operators: Glencore 50%, CMOC 50% -> 2,500 + 2,500 = 5,000.
    assert {s.label: s.share_pct for s in operator.shares} == {"Glencore": 50.0, "CMOC": 50.0}
    assert operator.hhi == 5000.0
    equity = flow_concentration(
        mineral="cobalt", stage="mining", by="company", attribution="equity"
    )
    # Equity: Glencore 75/200 = 37.5%, Gecamines 40/200 = 20%, CMOC 80/200 = 40%, and the
    # 5% of KCC with no recorded owner 2.5%: 1406.25 + 400 + 1600 + 6.25 = 3412.5.
    assert {s.label: s.share_pct for s in equity.shares} == {
        "CMOC": 40.0,
        "Glencore": 37.5,
        "Gecamines": 20.0,
        "Unattributed equity (owners not recorded)": 2.5,
    }
    assert equity.hhi == 3412.5
    by_country = flow_concentration(mineral="cobalt", stage="mining", by="country")
    assert by_country.hhi == 10000.0


# --- Tracing a buyer ---------------------------------------------------------------


@pytest.fixture
def chain():
    """V <- C <- {K1 (60 t), K2 (40 t)}; K1 <- R1 (CN, 10 t), R2 (FI, 30 t);
    K2 <- R1 (50% reported share, the rest unknown); R1 <- M1 (CD, CAHRA, 70 t),
    M2 (CD, artisanal, 30 t); R2 <- M3 (AU, 100 t), M4 (US black mass, 100 t)."""
    v = make_company("Vehicle Co", stages=("vehicle",), country="DE")
    c = make_company("Cell Co", stages=("cell",), country="KR")
    k1 = make_company("Cathode One", stages=("cathode",), country="KR")
    k2 = make_company("Cathode Two", stages=("cathode",), country="JP")
    r1 = make_company("Refiner CN", stages=("refining",), country="CN")
    r2 = make_company("Refiner FI", stages=("refining",), country="FI")
    o1 = make_company("Operator One", stages=("mining",), country="CD")
    g = make_company("State Miner", stages=("mining",), country="CD")
    o3 = make_company("Aussie Miner", stages=("mining",), country="AU")
    supply(c, v, stage_code="cell", volume=100, material="cell")
    supply(k1, c, stage_code="cathode", volume=60, material="cathode_material")
    supply(k2, c, stage_code="cathode", volume=40, material="cathode_material")
    supply(r1, k1, volume=10)
    supply(r2, k1, volume=30)
    supply(r1, k2, share=50)
    m1 = mine("M1", "CD", cahra=True, operator=o1, owners=[(o1, 80), (g, 20)])
    m2 = mine("M2", "CD", method="artisanal", cahra=True)
    m3 = mine("M3", "AU", operator=o3)
    m4 = mine("M4", "US", method="black_mass")
    p1, p2 = plant(r1, "CN"), plant(r2, "FI")
    source(m1, p1, 70)
    source(m2, p1, 30)
    source(m3, p2, 100)
    source(m4, p2, 100)
    return {"v": v, "c": c, "k1": k1, "k2": k2, "r1": r1, "r2": r2}


def run(chain, **kwargs):
    return supply_chain(
        chain["v"], Mineral.objects.get(code="cobalt"), requester=Requester.anonymous(), **kwargs
    )


def test_multi_tier_trace_matches_the_worked_answer(chain):
    result = run(chain, checked_on=dt.date(2024, 6, 1)).trace
    # Mass: C 1; K1 .6, K2 .4; K1->R1 .15, K1->R2 .45; K2->R1 .2 and .2 unknown.
    # R1 .35 -> M1 .245, M2 .105; R2 .45 -> M3 .225, M4 .225.
    assert result.untraced_pct == pytest.approx(20.0)
    countries = {s.key: s.share_pct for s in result.mine_country.shares}
    assert countries == pytest.approx({"CD": 43.75, "AU": 28.125, "US": 28.125})
    # HHI over the traced 80%: 43.75^2 + 28.125^2 + 28.125^2 = 3496.1
    assert result.mine_country.hhi == pytest.approx(3496.1, abs=0.05)
    processing = {s.key: s.share_pct for s in result.processing_country.shares}
    assert processing == pytest.approx({"CN": 43.75, "FI": 56.25})
    assert {s.label: s.share_pct for s in result.processing_company.shares} == pytest.approx(
        {"Refiner CN": 43.75, "Refiner FI": 56.25}
    )
    assert result.cahra_pct == pytest.approx(35.0)
    assert result.artisanal_pct == pytest.approx(10.5)
    assert result.recycled_pct == pytest.approx(22.5)
    equity = {s.label: s.amount for s in result.mining_company_equity.shares}
    assert equity["Operator One"] == pytest.approx(0.196)
    assert equity["State Miner"] == pytest.approx(0.049)
    assert equity["Unattributed equity"] == pytest.approx(0.105 + 0.225 + 0.225)
    assert result.tiers == 3
    assert result.cycles == []


def test_operator_shares_follow_the_mine_operators(chain):
    result = run(chain).trace
    operator = {s.label: round(s.amount, 6) for s in result.mining_company_operator.shares}
    assert operator == {"Operator One": 0.245, "Unknown operator": 0.33, "Aussie Miner": 0.225}


def test_share_of_supply_whose_suppliers_lack_verified_coverage(chain):
    org = make_org("Auditor")
    for key in ("c", "k1", "k2", "r1"):
        make_attestation(chain[key], "rmi-rmap", org)
    result = run(chain, cells=["content.labor_rights"]).trace
    # Only Refiner FI lacks it: the .45 flowing through it.
    assert result.lacking_coverage_pct == {"content.labor_rights": pytest.approx(45.0)}


def test_private_coverage_is_not_counted_for_a_requester_who_cannot_see_it(chain):
    org = make_org("Auditor")
    for key in ("c", "k1", "k2", "r1", "r2"):
        make_attestation(chain[key], "rmi-rmap", org, visibility="private")
    result = run(chain, cells=["content.labor_rights"]).trace
    assert result.lacking_coverage_pct["content.labor_rights"] == pytest.approx(100.0)


def test_eu_crma_65_percent_cap_at_its_edge(chain):
    rules = {r.name: r for r in run(chain).rules}
    refining = rules[
        "EU CRMA: no single third country above 65% at any processing stage (refining)"
    ]
    assert refining.status == "pass"
    assert refining.value == pytest.approx(43.75)
    assert {f.supplier for f in refining.flows} == {"Refiner CN"}
    # Move R2's 30 t to R1 so China refines 40/40 of K1: CN = (.6 + .2)/.8 = 100%.
    SupplyRelationship.objects.filter(supplier=chain["r2"]).delete()
    supply(chain["r1"], chain["k1"], volume=30)
    rules = {r.name: r for r in run(chain).rules}
    assert rules[refining.name].status == "fail"


@pytest.mark.parametrize(("share_cn", "status"), [(65, "pass"), (65.01, "fail")])
def test_crma_cap_is_strictly_above_65_percent(share_cn, status):
    v = make_company("Buyer", stages=("vehicle",), country="DE")
    cn = make_company("CN refiner", stages=("refining",), country="CN")
    fi = make_company("FI refiner", stages=("refining",), country="FI")
    supply(cn, v, share=share_cn)
    supply(fi, v, share=100 - share_cn)
    rules = supply_chain(
        v, Mineral.objects.get(code="cobalt"), requester=Requester.anonymous()
    ).rules
    crma = next(r for r in rules if r.name.endswith("(refining)"))
    assert crma.status == status


def test_countries_of_concern_share_lists_the_flows_behind_it(chain):
    rules = {r.rule: r for r in run(chain).rules}
    concern = rules["concern-default"]
    assert concern.value == pytest.approx(35.0)  # everything refined by Refiner CN
    assert {f.supplier for f in concern.flows} == {"Refiner CN"}


@pytest.mark.parametrize(
    ("day", "status", "required"),
    [
        (dt.date(2023, 4, 17), "not_applicable", None),  # before the requirement began
        (dt.date(2023, 12, 31), "pass", 40.0),  # 45% qualifying >= 40%
        (dt.date(2024, 6, 1), "fail", 50.0),  # 45% < 50%
        (dt.date(2025, 9, 30), "fail", 60.0),  # last day of the credit
        (dt.date(2025, 10, 1), "historical", 60.0),
    ],
)
def test_ira_30d_critical_mineral_share_against_the_years_percentage(chain, day, status, required):
    ira = next(r for r in run(chain, checked_on=day).rules if r.rule == "us-ira-30d")
    # Qualifying: M3 mined in Australia (FTA) .225 + M4 recycled in the US .225 = 45%.
    assert ira.value == pytest.approx(45.0)
    assert ira.threshold == required
    assert ira.status == status
    if status == "historical":
        assert "ended" in ira.detail


@pytest.mark.parametrize("other_inputs", ["full_share", "zero_volume"])
def test_a_supplier_whose_other_sale_carries_nothing_still_passes_its_mass_upstream(
    other_inputs,
):
    """V buys half from B and half from S. B's supply is fully explained without S (a
    reported 100% from R, or S's edge is B's only input and has no volume), so S's sale
    to B carries none of V's supply. S must still pass on the half it sells V: it was
    once held back waiting for that empty edge, and its mine's half vanished."""
    v = make_company("Vehicle Maker", stages=("vehicle",), country="DE")
    b = make_company("Blender", country="KR")
    s = make_company("Second Refiner", country="FI")
    r = make_company("Refiner", country="CN")
    supply(b, v, stage_code="cathode", volume=10, material="cathode_material")
    supply(s, v, volume=10)
    if other_inputs == "full_share":
        supply(r, b, share=100)
        supply(s, b, volume=5)
    else:
        supply(s, b, volume=0)
    source(mine("M-CN", "CN"), plant(r, "CN"), 50)
    source(mine("M-FI", "FI"), plant(s, "FI"), 50)
    result = supply_chain(v, Mineral.objects.get(code="cobalt"), requester=Requester.anonymous())
    countries = {x.key: x.amount for x in result.trace.mine_country.shares}
    if other_inputs == "full_share":
        assert countries == pytest.approx({"CN": 0.5, "FI": 0.5})
        assert result.trace.untraced_pct == 0
    else:  # B's half is unexplained (its only input has no volume); S's half is traced
        assert countries == pytest.approx({"FI": 0.5})
        assert result.trace.untraced_pct == pytest.approx(50.0)


def test_tiers_and_anomalies_count_only_where_the_buyers_supply_passes():
    """V takes all its supply from R by reported share; its volume purchase from B
    carries none of it. B's own suppliers (whose reported shares exceed 100%) are
    neither a tier of V's supply nor an anomaly of it."""
    v = make_company("Vehicle Maker", stages=("vehicle",), country="DE")
    r, b = make_company("Refiner", country="CN"), make_company("Blender", country="KR")
    c1, c2 = make_company("Upstream 1", country="FI"), make_company("Upstream 2", country="FI")
    supply(r, v, share=100)
    supply(b, v, volume=10)
    supply(c1, b, share=80)
    supply(c2, b, share=80)
    source(mine("M-CN", "CN"), plant(r, "CN"), 50)
    result = supply_chain(v, Mineral.objects.get(code="cobalt"), requester=Requester.anonymous())
    assert result.trace.tiers == 1
    assert result.trace.anomalies == []
    assert {x.key: x.amount for x in result.trace.mine_country.shares} == pytest.approx({"CN": 1.0})


def test_a_cycle_is_reported_with_its_path_and_not_followed_forever():
    v = make_company("Loop Buyer", stages=("vehicle",))
    a = make_company("Loop A")
    b = make_company("Loop B")
    c = make_company("Loop C")
    supply(a, v, volume=10)
    supply(b, a, volume=10)
    supply(c, b, volume=10)
    # Written straight to the table, as a bulk import or a race might leave it.
    SupplyRelationship.objects.bulk_create(
        [
            SupplyRelationship(
                supplier=a,
                buyer=c,
                mineral=Mineral.objects.get(code="cobalt"),
                stage=stage("refining"),
                material="refined_chemical",
                volume_t=5,
            )
        ]
    )
    result = supply_chain(
        v, Mineral.objects.get(code="cobalt"), requester=Requester.anonymous()
    ).trace
    assert len(result.cycles) == 1
    names = result.cycles[0].names
    assert names[0] == names[-1]
    assert set(names) == {"Loop A", "Loop B", "Loop C"}
    assert result.untraced_pct == pytest.approx(100.0)  # no mine behind the loop


def test_tracing_runs_a_bounded_number_of_queries_whatever_the_graph_size(
    chain, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count():
        with CaptureQueriesContext(connection) as ctx:
            run(chain, cells=["content.labor_rights"])
        return len(ctx.captured_queries)

    small = count()
    # Grow the graph: 40 more refiners and 80 more mines upstream of Cathode One.
    for i in range(40):
        r = make_company(f"Extra refiner {i}", stages=("refining",))
        supply(r, chain["k1"], volume=1)
        p = plant(r, "CN")
        source(mine(f"Extra mine {i}a", "CD"), p, 1)
        source(mine(f"Extra mine {i}b", "ZM"), p, 1)
    assert count() == small


def test_production_command_reads_the_path_given_and_names_a_bad_file(tmp_path):
    import io

    from django.core.management import CommandError, call_command

    from registry.production import PRODUCTION_FILE

    out = io.StringIO()
    path = PRODUCTION_FILE
    call_command("load_production", file=path, stdout=out)
    assert "302 rows" in out.getvalue()  # 2024 and 2023 figures of 152 lines
    bad = tmp_path / "bad.csv"
    bad.write_text(path.read_text().replace("Congo (Kinshasa)", "Atlantis", 1))
    with pytest.raises(CommandError, match="Atlantis"):
        call_command("load_production", file=bad)


def test_every_rule_names_its_largest_flows_first(chain):
    """The page and the API show a rule's first flows as "the largest": the CRMA cap's
    flows in the capped country, and the flows behind the concern, 30D and entity
    checks, are all listed largest first."""
    result = run(chain, cells=["content.labor_rights"], checked_on=dt.date(2024, 6, 1))
    named = [r for r in result.rules if len(r.flows) > 1]
    assert {"eu-crma-single-country", "concern-default"} <= {r.rule for r in named}
    for r in named:
        shares = [f.share_pct for f in r.flows]
        assert shares == sorted(shares, reverse=True), r.name


def _graph(edges, links, mines):
    ids = {e.supplier for e in edges} | {e.buyer for e in edges}
    companies = {c: CompanyInfo(f"Company {c}", "CN", "", None) for c in ids}
    return Graph(1, "cobalt", edges, links, mines, companies)


def _mines(*countries):
    return {
        i: MineInfo(f"Mine {i}", c, "industrial", False, None, "") for i, c in enumerate(countries)
    }


BAND = Rule(code="doj", kind="hhi_bands", params={"moderate_from": 1500, "high_above": 2500})


@pytest.mark.parametrize(
    "shares", [(70, 20, 10), (34, 56, 10)], ids=["0.9999999999999999", "1.0000000000000002"]
)
def test_reported_shares_making_100_percent_only_up_to_float_rounding_make_100_percent(shares):
    """In this order 70% + 20% + 10% adds up to 0.9999999999999999 as floats, and 34% +
    56% + 10% to 1.0000000000000002: neither leaves a sliver for the buyer's volume
    purchase (no tier, no 0% flow, no second mine country) nor is 'scaled down'."""
    edges = [
        Edge(10 + i, 2 + i, 1, None, float(share), "refining", "refined_chemical", "CN")
        for i, share in enumerate(shares)
    ]
    edges += [
        Edge(20, 5, 1, 10.0, None, "refining", "refined_chemical", "FI"),
        Edge(21, 6, 5, 10.0, None, "mining", "intermediate", "AU"),
    ]
    links = [Link(30 + c, 0, c, 5.0) for c in (2, 3, 4)] + [Link(40, 1, 6, 5.0)]
    result = trace(_graph(edges, links, _mines("CN", "AU")), rule=BAND)
    assert [s.key for s in result.mine_country.shares] == ["CN"]
    assert result.tiers == 1 and result.anomalies == [] and result.untraced_pct == 0
    assert all(f.share_pct > 0 for f in result.flows)
