"""HHI with its convention stated: by country or company, shares of the world total or
of the listed producers, the unlisted fringe as one producer, left out or as bounds;
coverage below the threshold answered with bounds only; recycling never counted as
mining; parameters that do not apply refused. Every figure below is computed by hand."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry.concentration import (
    ConcentrationInputError,
    flow_concentration,
    production_concentration,
    production_series,
)
from registry.models import Facility, MinedSource, ProductionStatistic, SourceLink
from registry.production import load_production
from registry.reference import load_rules
from taxonomy.models import Cell, Mineral

from .factories import make_company
from .intake_helpers import PRODUCTION_HEADER, csv_bytes, errors, run

pytestmark = pytest.mark.django_db

YEAR = 2030  # a year no reference file holds


@pytest.fixture(autouse=True)
def reference():
    load_rules()


def row(label, amount, *, kind="country", country="", company=None, year=YEAR, **extra):
    values = {
        "mineral": Mineral.objects.get(code=extra.pop("mineral", "cobalt")),
        "product": extra.pop("product", "cobalt"),
        "stage": extra.pop("stage", "mining"),
        "kind": kind,
        "country": country,
        "company": company,
        "label": label,
        "year": year,
        "quantity": Decimal(str(amount)) if amount is not None else None,
        "unit": "t",
        "source": extra.pop("source", "Hand-made table 1"),
    }
    return ProductionStatistic.objects.create(**values, **extra)


def two_countries(a=50, b=30, world=100, year=YEAR):
    row("Congo (Kinshasa)", a, country="CD", year=year)
    row("Indonesia", b, country="ID", year=year)
    row("World total", world, kind="world", year=year)


def conc(**kwargs):
    return production_concentration(mineral="cobalt", stage="mining", year=YEAR, **kwargs)


# --- Each convention by hand -------------------------------------------------------------


def test_each_convention_gives_the_hand_computed_hhi():
    two_countries()  # 50 and 30 of a world of 100: the fringe is 20
    one_unit = conc()  # 50^2 + 30^2 + 20^2
    assert one_unit.hhi == 3800.0
    assert one_unit.convention == {"by": "country", "denominator": "world", "fringe": "one_unit"}
    assert [s.key for s in one_unit.shares] == ["CD", "ID", "other"]
    named_only = conc(fringe="excluded")  # shares of the world: 50^2 + 30^2
    assert named_only.hhi == 3400.0
    assert [s.share_pct for s in named_only.shares] == [50.0, 30.0]
    rescaled = conc(denominator="listed", fringe="excluded")  # 62.5^2 + 37.5^2
    assert rescaled.hhi == 5312.5
    assert [s.share_pct for s in rescaled.shares] == [62.5, 37.5]
    bounds = conc(fringe="bounds")
    assert (bounds.hhi, bounds.hhi_low, bounds.hhi_high) == (None, 3400.0, 3800.0)
    for answer in (one_unit, named_only, rescaled, bounds):
        assert answer.coverage_pct == 80.0 and answer.low_coverage is False
        assert answer.source == "Hand-made table 1" and answer.unit == "t"
        assert "80% of the world total" in answer.note


def test_the_former_unlisted_parameter_keeps_its_meaning():
    two_countries()
    assert conc(unlisted="other").hhi == conc(denominator="world", fringe="one_unit").hhi
    assert conc(unlisted="excluded").hhi == conc(denominator="listed", fringe="excluded").hhi


def test_shares_of_the_listed_producers_cannot_count_the_fringe():
    two_countries()
    with pytest.raises(ConcentrationInputError, match="fringe must be excluded"):
        conc(denominator="listed", fringe="one_unit")
    with pytest.raises(ConcentrationInputError, match="fringe"):
        conc(fringe="spread")


# --- Coverage and incomplete years ------------------------------------------------------


def test_coverage_below_the_threshold_is_answered_with_bounds_and_no_single_figure():
    two_countries(a=40, b=20)  # 60% covered; the fringe (40) as one producer: +1,600
    answer = conc()
    assert answer.low_coverage is True and answer.coverage_pct == 60.0
    assert answer.hhi is None
    assert (answer.hhi_low, answer.hhi_high) == (2000.0, 3600.0)
    # DOJ/FTC 2010: 2,000 is moderate, 3,600 high, so the band is not known.
    assert answer.band.label == "undetermined"
    assert "Below the 80% coverage threshold" in answer.note


def test_the_coverage_threshold_is_a_setting(settings):
    two_countries(a=40, b=20)
    settings.CONCENTRATION_MIN_COVERAGE_PCT = 50
    answer = conc()
    assert answer.low_coverage is False and answer.hhi == 3600.0


def test_a_year_with_only_a_world_total_is_not_a_monopoly():
    # As a source that gives one year as a world total only (USGS gave manganese mining
    # for 2023 so in the transcription this registry first held).
    row("World total", 19_600_000, kind="world")
    answer = conc()
    assert answer.hhi is None and answer.low_coverage is True
    assert answer.coverage_pct == 0.0
    assert (answer.hhi_low, answer.hhi_high) == (0.0, 10000.0)
    assert answer.band.label == "undetermined"


def test_a_year_with_one_country_and_no_world_total_is_not_a_monopoly():
    row("United States", 750_000, country="US")  # one country, no total, no "Other"
    answer = conc()
    assert answer.hhi is None and answer.low_coverage is True
    assert answer.coverage_pct is None
    assert "coverage unknown" in answer.note


def test_every_usgs_table_reads_as_a_2023_2024_series_with_its_estimates_marked():
    # USGS MCS 2025 world data release: every table of the file has both years, so each
    # reads as a two-year series (2023 cobalt mining: DRC 175,000 of 237,960 t listed).
    load_production()
    cobalt = production_concentration(mineral="cobalt", stage="mining", year=2023)
    drc = next(s for s in cobalt.shares if s.key == "CD")
    assert drc.share_pct == pytest.approx(73.54, abs=0.01)
    assert cobalt.hhi is not None and cobalt.low_coverage is False
    tables = (
        ("lithium", "mining", None),
        ("cobalt", "mining", None),
        ("nickel", "mining", None),
        ("graphite", "mining", None),
        ("manganese", "mining", None),
        ("copper", "mining", "copper"),
        ("copper", "refining", "copper"),
        ("aluminium", "mining", None),
        ("aluminium", "refining", "alumina"),
        ("aluminium", "refining", "aluminium"),
    )
    for mineral, stage, product in tables:
        series = production_series(mineral=mineral, stage=stage, product=product)
        assert [year for year, _ in series] == [2023, 2024], (mineral, stage, product)
        assert all(c.hhi is not None for _, c in series), (mineral, stage, product)
    # The release marks some 2023 figures as estimates (China's nickel), not others
    # (Indonesia's); its cobalt table is estimated throughout.
    nickel_2023 = ProductionStatistic.objects.filter(product="nickel", year=2023)
    assert nickel_2023.get(country="CN").estimated is True
    assert nickel_2023.get(country="ID").estimated is False
    cobalt_2023 = ProductionStatistic.objects.filter(product="cobalt", year=2023, kind="country")
    assert cobalt_2023.count() == 12 and all(row.estimated for row in cobalt_2023)


def test_a_series_gives_every_recorded_year_ascending_in_two_queries():
    two_countries(year=2028)
    two_countries(a=60, b=20, year=2029)
    row("World total", 100, kind="world", year=2031)  # an incomplete year
    with CaptureQueriesContext(connection) as ctx:
        series = production_series(mineral="cobalt", stage="mining", fringe="excluded")
    assert len(ctx.captured_queries) == 2  # the band rule, the rows
    assert [year for year, _ in series] == [2028, 2029, 2031]
    assert [c.hhi for _, c in series] == [3400.0, 4000.0, None]
    assert series[2][1].hhi_high == 10000.0


# --- Company production -----------------------------------------------------------------


@pytest.fixture
def company_rows():
    cn1 = make_company("Xin Mining", country="CN")
    ch = make_company("Alp Resources", country="CH")
    cn2 = make_company("Hua Metals", country="CN")
    row("Xin Mining", 30, country="CD", company=cn1)
    row("Alp Resources", 20, country="CD", company=ch)
    row("Hua Metals", 10, country="ZM", company=cn2)
    row("World total", 100, kind="world")
    return cn1, ch, cn2


def test_company_hhi_divides_by_the_world_total_not_by_what_is_recorded(company_rows):
    named_only = conc(by="company", fringe="excluded")  # 30^2 + 20^2 + 10^2
    assert named_only.hhi is None  # 60% covered: bounds only
    assert (named_only.hhi_low, named_only.hhi_high) == (1400.0, 3000.0)
    assert [s.share_pct for s in named_only.shares] == [30.0, 20.0, 10.0]
    assert named_only.shares[0].label == "Xin Mining" and named_only.shares[0].country == "CD"


def test_company_conventions_by_hand_with_full_coverage(company_rows, settings):
    settings.CONCENTRATION_MIN_COVERAGE_PCT = 50
    assert conc(by="company", fringe="excluded").hhi == 1400.0
    assert conc(by="company").hhi == 3000.0  # + the fringe 40^2
    # Shares of the recorded 60: 50, 33.33, 16.67 -> 3888.9
    assert conc(by="company", denominator="listed", fringe="excluded").hhi == 3888.9
    head = conc(by="company", fringe="excluded", company_country="head_office")
    assert [s.country for s in head.shares] == ["CN", "CH", "CN"]


def test_country_hhi_from_company_rows_by_site_or_by_head_office(company_rows, settings):
    settings.CONCENTRATION_MIN_COVERAGE_PCT = 50
    site = conc(company_country="site", fringe="excluded")  # CD 50, ZM 10
    assert site.hhi == 2600.0 and [s.key for s in site.shares] == ["CD", "ZM"]
    office = conc(company_country="head_office", fringe="excluded")  # CN 40, CH 20
    assert office.hhi == 2000.0 and [s.key for s in office.shares] == ["CN", "CH"]
    assert office.convention["company_country"] == "head_office"


def test_company_rows_do_not_count_in_the_published_country_hhi(company_rows):
    row("Congo (Kinshasa)", 50, country="CD")
    row("Indonesia", 30, country="ID")
    assert conc(fringe="excluded").hhi == 3400.0  # the country rows alone


def test_company_hhi_without_company_rows_is_refused():
    two_countries()
    with pytest.raises(ConcentrationInputError, match="No company production"):
        conc(by="company")


# Akhter, Palli, Walanjuwani & Jones (2026), Commodities 5(1), 2 (doi 10.3390/
# commodities5010002, CC BY 4.0): company production 2024 as printed in Tables 3 (nickel
# mining, kt, world 3,700 kt), 9 (copper mining, Mt, world 20.29 Mt) and 1 (primary
# aluminium, Mt, world 72 Mt), and the global company HHI of Table 13: nickel 1,150,
# copper 457, aluminium 312. Transcribed with the help of a public transcription of the
# tables (a demo's published-figures module); checked here by recomputing Table 13.
AKHTER = {
    "nickel": (
        "kt",
        3700,
        1150,
        [
            ("Tsingshan Holding Group", "CN", 1120),
            ("Zhejiang Huayou Cobalt", "CN", 380),
            ("Nornickel", "RU", 210),
            ("Jinchuan Group", "CN", 200),
            ("Vale", "BR", 160),
            ("Trimegah Bangun Persada", "ID", 136),
            ("Nickel Industries", "AU", 127.3),
            ("Glencore", "CH", 82.3),
            ("BHP (Nickel West)", "AU", 81.6),
            ("Merdeka Battery Materials", "ID", 80),
            ("Sumitomo Metal Mining", "JP", 66),
            ("CNGR Advanced Material", "CN", 50),
            ("Anglo American", "GB", 39.4),
            ("South32", "AU", 37.1),
            ("Eramet / SLN", "NC", 32.9),
        ],
    ),
    "copper": (
        "Mt",
        20.29,
        457,
        [
            ("Volcan Cia Minera", "PE", 2.23),
            ("Freeport-McMoRan", "US", 2.11),
            ("BHP", "AU", 2.06),
            ("Yunnan Copper", "CN", 1.21),
            ("Grupo Mexico", "MX", 1.09),
            ("Southern Copper", "US", 0.97),
            ("Glencore", "CH", 0.95),
            ("Zijin Mining", "CN", 0.84),
        ],
    ),
    "aluminium": (
        "Mt",
        72,
        312,
        [
            ("Chalco", "CN", 7.10),
            ("China Hongqiao", "CN", 5.84),
            ("SPIC", "CN", 4.30),
            ("UC RUSAL", "RU", 3.99),
            ("Xinfa Group", "CN", 3.60),
            ("Rio Tinto (Aluminium)", "GB", 3.30),
            ("Emirates Global Aluminium", "AE", 2.69),
            ("Vedanta Aluminium", "IN", 2.37),
            ("Aluminium Bahrain", "BH", 1.62),
            ("Hindalco", "IN", 1.30),
            ("Norsk Hydro", "NO", 1.30),
            ("NALCO", "IN", 0.45),
            ("Century Aluminum", "US", 0.23),
            ("Alcoa", "US", 0.13),
        ],
    ),
}


@pytest.mark.parametrize("mineral", sorted(AKHTER))
def test_company_hhi_reproduces_akhter_2026_table_13_through_the_bulk_import(mineral, settings):
    unit, world, published, companies = AKHTER[mineral]
    stage = "refining" if mineral == "aluminium" else "mining"  # smelters, not bauxite
    source = "Akhter et al. 2026, Commodities 5(1) 2, company table"
    lines = [PRODUCTION_HEADER]
    for name, country, amount in companies:
        make_company(name, country=country)
        # The paper's tables give the head office; the site is not needed for company HHI.
        lines.append([mineral, stage, mineral, 2024, country, name, amount, unit, source])
    lines.append([mineral, stage, mineral, 2024, "WORLD", "", world, unit, source])
    job = run(csv_bytes(lines), dry_run=False)
    assert job.summary["written"] is True, errors(job)
    answer = production_concentration(
        mineral=mineral,
        stage=stage,
        year=2024,
        product=mineral,
        by="company",
        denominator="world",
        fringe="excluded",
    )
    # The named companies cover 53-76% of the world: bounds only at the default threshold,
    # and hhi_low (the fringe spread thin) is the paper's named-only figure.
    assert answer.hhi_low == pytest.approx(published, abs=2)
    settings.CONCENTRATION_MIN_COVERAGE_PCT = 50
    answer = production_concentration(
        mineral=mineral,
        stage=stage,
        year=2024,
        product=mineral,
        by="company",
        fringe="excluded",
    )
    assert answer.hhi == pytest.approx(published, abs=2)
    rescaled = production_concentration(
        mineral=mineral,
        stage=stage,
        year=2024,
        product=mineral,
        by="company",
        denominator="listed",
        fringe="excluded",
    )
    assert rescaled.hhi > 1.7 * published  # the defect the issue measured: 1.7 to 3.6 times


# --- Recycling apart from mining --------------------------------------------------------


def test_recycled_black_mass_is_not_counted_as_mine_production_in_flows():
    refiner = make_company("Refiner", country="FI")
    plant = Facility.objects.create(
        company=refiner,
        name="Refinery",
        kind="smelter_refiner",
        country="FI",
        stage=Cell.objects.get(code="application.refining"),
    )
    cobalt = Mineral.objects.get(code="cobalt")
    for name, country, method, volume in (
        ("Mine A", "CD", "industrial", 60),
        ("Mine B", "AU", "industrial", 40),
        ("Black mass", "DE", "black_mass", 100),
    ):
        source = MinedSource.objects.create(name=name, country=country, method=method)
        source.minerals.add(cobalt)
        SourceLink.objects.create(mine=source, facility=plant, mineral=cobalt, volume_t=volume)
    answer = flow_concentration(mineral="cobalt", stage="mining")
    assert [s.key for s in answer.shares] == ["CD", "AU"]  # no DE
    assert answer.hhi == 5200.0  # 60^2 + 40^2, of 100 t mined
    assert "black mass (100 t)" in answer.note
    assert answer.convention["denominator"] == "recorded"


def test_recycling_production_is_its_own_stage():
    two_countries()
    row("Germany", 500, country="DE", stage="recycling")
    assert conc(fringe="excluded").hhi == 3400.0  # mining unchanged
    recycled = production_concentration(mineral="cobalt", stage="recycling", year=YEAR)
    assert [s.key for s in recycled.shares] == ["DE"]
    assert recycled.coverage_pct is None  # no world total of recycling recorded


# --- The API: every answer states its convention; what does not apply is a 400 ---------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("source=flows&year=2024", "year"),
        ("source=flows&unlisted=other", "unlisted"),
        ("source=flows&denominator=world", "denominator"),
        ("source=flows&fringe=bounds", "fringe"),
        ("source=flows&product=cobalt", "product"),
        ("source=flows&company_country=site", "company_country"),
        ("source=flows&attribution=equity", "attribution"),  # by=country: no attribution
        ("attribution=equity", "attribution"),  # production: as published
        ("as_of=2024-01-01", "as_of"),
        ("unlisted=other&fringe=bounds", "unlisted"),
        ("denominator=listed&fringe=one_unit", "fringe"),
        ("denominator=everything", "denominator"),
    ],
)
def test_a_parameter_that_does_not_apply_is_a_400_naming_it(api, query, field):
    load_production()
    response = api.get(f"/api/registry/concentration/?mineral=cobalt&{query}")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_the_endpoint_states_convention_coverage_and_source_in_a_fixed_number_of_queries(
    api, django_assert_max_num_queries
):
    load_production()
    url = "/api/registry/concentration/?mineral=cobalt&stage=mining&year=2024&fringe=bounds"
    with django_assert_max_num_queries(4):
        data = api.get(url).json()
    assert data["convention"] == {"by": "country", "denominator": "world", "fringe": "bounds"}
    assert data["hhi"] is None
    assert data["hhi_low"] == pytest.approx(5940.8, abs=0.05)
    assert data["hhi_high"] == pytest.approx(5945.4, abs=0.05)
    assert data["coverage_pct"] == pytest.approx(97.85) and data["low_coverage"] is False
    assert "mcs2025-cobalt" in data["source"] and data["unit"] == "t Co content"
    listed = api.get(
        "/api/registry/concentration/?mineral=cobalt&year=2024&denominator=listed"
    ).json()
    assert listed["convention"]["fringe"] == "excluded"  # the only fringe it allows
    assert listed["hhi"] == pytest.approx(6204.9, abs=0.05)
    flows = api.get("/api/registry/concentration/?mineral=cobalt&source=flows").json()
    assert flows["convention"]["denominator"] == "recorded"
    assert flows["coverage_pct"] is None
