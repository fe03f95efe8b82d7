"""Seed 000's figures from the reference production data (registry/data, SOURCES.md).

Sources, as each row cites them:
- mine production and copper refinery / aluminium smelter production 2024: USGS Mineral
  Commodity Summaries 2025, the commodity chapters' world production tables;
- refining (processing) shares 2019: IEA (2021), The Role of Critical Minerals in Clean
  Energy Transitions, figure of the top three producing countries in processing;
- refining production 2023 and 2024 (refined cobalt, lithium chemicals, refined nickel,
  battery-grade graphite): IEA Critical Minerals Data Explorer, 2024 and 2025 editions,
  sheet "2 Total supply for key minerals".
Not in a checkable source found for this data, so not asserted: manganese refining by
country (the IEA dataset does not cover manganese; USGS gives mine production only).
"""

import pytest

from registry.concentration import production_concentration, production_series
from registry.models import ProductionStatistic
from registry.production import load_production
from registry.reference import load_rules

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def reference():
    load_rules()
    load_production()


def share_of(mineral, stage, year, country, product=None):
    answer = production_concentration(
        mineral=mineral, stage=stage, year=year, product=product, fringe="excluded"
    )
    return next(s.share_pct for s in answer.shares if s.key == country), answer


def test_drc_mines_over_75_percent_of_the_worlds_cobalt():
    # USGS MCS 2025, cobalt: 220,000 t of a world total of 290,000 t (rounded) in 2024;
    # of the listed countries plus "Other countries" (288,200 t) it is 76.3%.
    share, answer = share_of("cobalt", "mining", 2024, "CD")
    assert share == pytest.approx(76.34, abs=0.01)
    assert share > 75
    assert "mcs2025-cobalt" in answer.source


def test_china_refines_cobalt_lithium_nickel_and_copper_as_the_iea_figure_shows():
    # IEA (2021), processing shares 2019: China 65% of cobalt, 58% of lithium, 35% of
    # nickel, 40% of copper (the rest of each: two named countries and the others).
    expected = {"cobalt": 65.0, "lithium": 58.0, "nickel": 35.0, "copper": 40.0}
    for mineral, pct in expected.items():
        share, answer = share_of(mineral, "refining", 2019, "CN", product=_iea(mineral))
        assert share == pytest.approx(pct, abs=0.01), mineral
        assert "IEA (2021)" in answer.source and "figure" in answer.source


def _iea(mineral):
    return {
        "cobalt": "refined cobalt (IEA processing share)",
        "lithium": "lithium chemicals (IEA processing share)",
        "nickel": "refined nickel (IEA processing share)",
        "copper": "refined copper (IEA processing share)",
    }[mineral]


def test_china_refines_44_percent_of_copper_and_60_percent_of_aluminium_in_2024():
    # USGS MCS 2025: refined copper 12.0 of 27.2 Mt (listed + others), primary
    # aluminium 43 of 71.6 Mt.
    copper, _ = share_of("copper", "refining", 2024, "CN", product="copper")
    aluminium, _ = share_of("aluminium", "refining", 2024, "CN", product="aluminium")
    assert copper == pytest.approx(44.1, abs=0.1)
    assert aluminium == pytest.approx(60.0, abs=0.1)


def test_chinas_53_to_72_percent_of_refining_holds_for_some_metals_not_all():
    # Seed 000: "China controls 53-72% of critical mineral refining". From the 2024
    # figures it holds for lithium chemicals (70.2%) and aluminium (60.0%); cobalt (78.4%)
    # and battery-grade graphite (95.7%) lie above it, copper (44.1%) and nickel (31.3%;
    # Indonesia refines more) below.
    shares = {
        "cobalt": share_of("cobalt", "refining", 2024, "CN", "refined cobalt")[0],
        "lithium": share_of("lithium", "refining", 2024, "CN", LITHIUM)[0],
        "nickel": share_of("nickel", "refining", 2024, "CN", NICKEL)[0],
        "graphite": share_of("graphite", "refining", 2024, "CN", "battery-grade graphite")[0],
        "copper": share_of("copper", "refining", 2024, "CN", "copper")[0],
        "aluminium": share_of("aluminium", "refining", 2024, "CN", "aluminium")[0],
    }
    assert shares == pytest.approx(
        {
            "cobalt": 78.41,
            "lithium": 70.23,
            "nickel": 31.32,
            "graphite": 95.71,
            "copper": 44.10,
            "aluminium": 60.04,
        },
        abs=0.01,
    )
    inside = {m for m, pct in shares.items() if 53 - 0.5 <= pct <= 72 + 0.5}
    assert inside == {"lithium", "aluminium"}


LITHIUM = "lithium chemicals (Li content)"
NICKEL = "refined nickel (all classes)"


def test_china_refines_over_72_percent_of_the_worlds_cobalt_in_2023_and_2024():
    # Seed 000: "China, 72 percent of refined material" (for 2024). IEA Critical Minerals
    # Data Explorer: 171.7 of 223.8 kt in 2023 (76.7%), 196.14 of 250.15 kt in 2024
    # (78.4%). The seed's 72% is the refining capacity share of Akhter et al. 2026
    # (section 5.4); production shares are higher, so "over 72%" is what this data shows.
    for year, expected in ((2023, 76.72), (2024, 78.41)):
        share, answer = share_of("cobalt", "refining", year, "CN")
        assert share == pytest.approx(expected, abs=0.01)
        assert share > 72
        assert answer.coverage_pct > 90  # the named countries; the rest is "Other countries"
        assert "Critical Minerals Data Explorer" in answer.source
        assert "'Cobalt - Refining'" in answer.source


def test_indonesia_overtook_china_in_refined_nickel_and_graphite_stays_chinese():
    indonesia, _ = share_of("nickel", "refining", 2024, "ID", NICKEL)
    china, _ = share_of("nickel", "refining", 2024, "CN", NICKEL)
    assert indonesia == pytest.approx(42.86, abs=0.01) and indonesia > china
    # Battery-grade graphite: 1,851.9 of 2,037.2 kt in 2023.
    graphite, answer = share_of("graphite", "refining", 2023, "CN", "battery-grade graphite")
    assert graphite == pytest.approx(90.91, abs=0.01)
    assert answer.hhi > 8000 and answer.band.label == "highly concentrated"


def test_refining_is_read_as_a_series_of_published_years():
    points = production_series(mineral="cobalt", stage="refining", product="refined cobalt")
    assert [year for year, _ in points] == [2023, 2024]
    # China 76.7% then 78.4%: partly growth, partly the IEA's revisions between editions
    assert points[1][1].hhi > points[0][1].hhi


def test_a_processing_share_table_covering_too_little_is_answered_with_bounds():
    # IEA nickel 2019: the three named countries cover 58% of processing.
    answer = production_concentration(
        mineral="nickel", stage="refining", year=2019, product=_iea("nickel")
    )
    assert answer.low_coverage is True and answer.hhi is None
    assert answer.coverage_pct == 58.0
    # 35^2 + 15^2 + 8^2 = 1,514; with the other 42% as one producer: + 1,764.
    assert (answer.hhi_low, answer.hhi_high) == (1514.0, 3278.0)


def test_every_reference_row_cites_its_table_or_figure():
    rows = ProductionStatistic.objects.all()
    assert rows.count() > 200
    for row in rows:
        cited = "mcs2025-" in row.source or "figure" in row.source
        cited = cited or (
            "'2 Total supply for key minerals'" in row.source and "block '" in row.source
        )
        assert cited, row


def test_loading_the_reference_files_again_changes_nothing():
    again = load_production()
    assert (again.added, again.updated, again.kept) == ([], [], [])
    assert ProductionStatistic.objects.filter(stage="refining", year=2019).count() == 20
    assert (
        ProductionStatistic.objects.filter(stage="refining", year=2023)
        .exclude(product__in=("alumina", "aluminium", "copper"))
        .count()
        == 29
    )  # 7 cobalt, 6 lithium, 8 nickel, 8 graphite rows
