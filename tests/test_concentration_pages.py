"""Concentration over time and across the chain (issue 13, section 3): the HHI series of
published production, the mine-to-refinery flows by country, share charts; demo flows
labelled as illustrative, apart from published statistics; the JSON routes."""

import re
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry.concentration.chain import ILLUSTRATIVE, mine_to_refinery
from registry.models import Company, Facility, MinedSource, SourceLink
from registry.production import load_production
from registry.reference import load_rules
from taxonomy.models import Cell, Mineral

from .factories import make_company

SVG = "{http://www.w3.org/2000/svg}"

pytestmark = pytest.mark.django_db

SERIES = "/api/registry/concentration/series/"
M2R = "/api/registry/concentration/mine-to-refinery/"
# Graphite: no demo record links a graphite mine, so the hand-built chains below are the
# only graphite flows whether or not the demo registry is loaded.
HAND = "graphite"


@pytest.fixture(autouse=True)
def reference():
    load_rules()


@pytest.fixture
def demo(demo_registry):
    return demo_registry


def _refinery(company, country, kind="smelter_refiner"):
    return Facility.objects.create(
        company=company,
        name=f"{company.legal_name} plant {country or 'HQ'}",
        kind=kind,
        country=country,
        stage=Cell.objects.get(code="application.refining"),
    )


def _mine(name, country, method="industrial", operator=None):
    mine = MinedSource.objects.create(name=name, country=country, method=method, operator=operator)
    mine.minerals.add(Mineral.objects.get(code=HAND))
    return mine


def _link(mine, facility, tonnes):
    return SourceLink.objects.create(
        mine=mine, facility=facility, mineral=Mineral.objects.get(code=HAND), volume_t=tonnes
    )


@pytest.fixture
def hand_chain():
    """Mozambique mines 600 t refined in China and 200 t in Finland; Madagascar mines
    200 t refined by a company whose plant has no country recorded (its head office's,
    China, counts); 50 t of black mass recycled in the US, not mining."""
    china = make_company("<script>alert(1)</script> & Sons Refining", country="CN")
    finland = make_company("Nordic Graphite Oy", country="FI")
    _link(_mine("Balama", "MZ", operator=china), _refinery(china, "CN"), 600)
    _link(_mine("Ancuabe", "MZ"), _refinery(finland, "FI"), 200)
    _link(_mine("Molo", "MG"), _refinery(china, ""), 200)
    recycler = make_company("US Recycler", country="US", stages=("recycling",))
    _link(_mine("Black mass, Nevada", "US", method="black_mass"), _refinery(recycler, "US"), 50)
    return china


def _section(html: str, anchor: str) -> str:
    """The page from the heading with id `anchor` to the next h2."""
    start = html.index(f'id="{anchor}"')
    end = html.find("<h2", start)
    return html[start : end if end > 0 else None]


# --- The mine-to-refinery flows, computed -----------------------------------------------


def test_mined_tonnes_run_from_the_mines_country_to_the_refinerys_with_recycling_apart(
    hand_chain,
):
    with CaptureQueriesContext(connection) as ctx:
        result = mine_to_refinery(mineral=HAND)
    assert len(ctx.captured_queries) == 1  # one aggregate, whatever the number of links
    assert [(f.origin, f.destination, f.tonnes, f.share_pct) for f in result.flows] == [
        ("MZ", "CN", 600.0, 60.0),
        ("MG", "CN", 200.0, 20.0),  # the plant's country is blank: the company's
        ("MZ", "FI", 200.0, 20.0),
    ]
    assert result.total == 1000.0
    assert [(f.origin, f.tonnes) for f in result.recycled] == [("US", 50.0)]
    assert (result.demo, result.label) == (False, "")


def test_flows_resting_on_a_demo_mine_or_facility_are_marked_illustrative(hand_chain):
    MinedSource.objects.filter(name="Ancuabe").update(demo=True)
    result = mine_to_refinery(mineral=HAND)
    assert {(f.destination, f.demo) for f in result.flows} == {("CN", False), ("FI", True)}
    assert (result.demo, result.label) == (True, ILLUSTRATIVE)


# --- The concentration page -------------------------------------------------------------


def test_the_page_draws_the_hhi_series_with_its_source_and_no_demo_label(client, demo):
    html = client.get("/concentration/cobalt/").content.decode()
    over_time = _section(html, "over-time")
    svg = re.search(r"<svg.*?</svg>", over_time, re.S).group(0)
    root = ET.fromstring(svg)
    assert root.get("role") == "img" and "HHI of published production" in root.get("aria-label")
    assert "moderate from" in svg and "high above" in svg  # the band thresholds, drawn
    assert '<th scope="row">mining (cobalt)</th>' in over_time
    # USGS MCS 2025, cobalt mine production 2024, 'Other countries' as one unit: 5945.
    assert "5945" in over_time
    assert "Published statistics:" in over_time and "USGS" in over_time
    published = _section(html, "published")
    assert "illustrative" not in over_time and "illustrative" not in published
    assert "Published statistics:" in published and "<svg" in published


def test_the_page_draws_demo_mine_to_refinery_flows_labelled_illustrative(client, demo):
    html = client.get("/concentration/cobalt/").content.decode()
    chain = _section(html, "mine-to-refinery")
    assert ILLUSTRATIVE in chain
    svg = re.search(r"<svg.*?</svg>", chain, re.S).group(0)
    assert "Country of mining" in svg and "Country of refining" in svg
    table = re.search(r'<table id="mine-to-refinery-table">.*?</table>', chain, re.S).group(0)
    # demo_flows.yaml, cobalt 2024: Tenke Fungurume 62,000 + KCC 20,000 + Metalkol 18,000 t
    # refined in the DRC; Ruashi 2,500 t at Jinchang (China); Obi 8,000 t in Indonesia.
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td>", table)
    assert rows == [
        ("Democratic Republic of the Congo", "Democratic Republic of the Congo", "100,000"),
        ("Indonesia", "Indonesia", "8,000"),
        ("Democratic Republic of the Congo", "China", "2,500"),
    ]
    assert "Recycled feed (black mass), not mining" in chain
    flows = _section(html, "flows")
    assert ILLUSTRATIVE in flows


def test_hand_recorded_flows_are_drawn_without_the_demo_label_and_names_escaped(client, hand_chain):
    html = client.get(f"/concentration/{HAND}/").content.decode()
    chain = _section(html, "mine-to-refinery")
    assert "Mozambique" in chain and "Finland" in chain
    assert ILLUSTRATIVE not in chain
    # Demo records elsewhere (other minerals) do not label these flows as demo.
    assert ILLUSTRATIVE not in _section(html, "flows") and 'class="demo-banner"' not in html
    ET.fromstring(re.search(r"<svg.*?</svg>", chain, re.S).group(0))
    # Mining by company (operator): the hostile name is text in the chart and the table.
    flows = _section(html, "flows")
    assert "<script>" not in html.split("<main>", 1)[1]
    assert flows.count("&lt;script&gt;alert(1)&lt;/script&gt; &amp; Sons Refining") >= 2
    for svg in re.findall(r"<svg.*?</svg>", flows, re.S):
        ET.fromstring(svg)


def test_the_page_query_count_does_not_grow_with_the_mine_links(client, hand_chain):
    load_production()
    with CaptureQueriesContext(connection) as before:
        assert client.get(f"/concentration/{HAND}/").status_code == 200
    china = Facility.objects.filter(country="CN").first()
    for i in range(25):
        _link(_mine(f"Extra mine {i}", "TZ"), china, 10)
    with CaptureQueriesContext(connection) as after:
        html = client.get(f"/concentration/{HAND}/").content.decode()
    assert "Tanzania" in html
    # Inline (a small registry): the published lines, the flow views (about ten grouped
    # queries), the mine-to-refinery aggregate, the demo check, the menus.
    assert len(after.captured_queries) == len(before.captured_queries) <= 25


def test_the_demo_page_runs_a_bounded_number_of_queries(
    client, demo, django_assert_max_num_queries
):
    # Published lines (one query each: cobalt mining and refining), the kept flows (the
    # flow views and the mine-to-refinery aggregate), the demo check, the menus.
    with django_assert_max_num_queries(30):
        assert client.get("/concentration/cobalt/").status_code == 200


def test_a_kept_page_serves_the_mine_to_refinery_flows_from_the_kept_result(
    client, hand_chain, settings, django_capture_on_commit_callbacks
):
    settings.KEPT_RESULT_INLINE_BELOW = 0
    with django_capture_on_commit_callbacks(execute=True) as jobs:
        first = client.get(f"/concentration/{HAND}/")
    assert first.status_code == 202 and len(jobs) == 1  # one job for the whole page
    with CaptureQueriesContext(connection) as ctx:
        html = client.get(f"/concentration/{HAND}/").content.decode()
    assert "Mozambique" in _section(html, "mine-to-refinery")
    assert not [q for q in ctx.captured_queries if "registry_sourcelink" in q["sql"]]


def test_the_supply_chain_page_links_the_sector_charts_and_labels_demo_shares(client, demo):
    tesla = Company.objects.get(legal_name__icontains="Tesla")
    html = client.get(f"/companies/{tesla.pk}/supply-chain/?mineral=cobalt").content.decode()
    assert "/concentration/cobalt/#mine-to-refinery" in html
    assert ILLUSTRATIVE in html
    charts = re.findall(r"<svg.*?</svg>", html, re.S)
    # A share chart per concentration with shares (Tesla's cobalt: mine country,
    # processing country, refiners), each a well-formed image.
    assert len(charts) >= 3
    for svg in charts:
        assert ET.fromstring(svg).get("role") == "img"


# --- The JSON routes --------------------------------------------------------------------


def _published(year, amounts: dict, world: float, product="spherical graphite (test)"):
    from registry.models import ProductionStatistic

    rows = [("country", code, code, qty) for code, qty in amounts.items()]
    rows.append(("world", "", "World total", world))
    for kind, country, label, qty in rows:
        ProductionStatistic.objects.create(
            mineral=Mineral.objects.get(code=HAND),
            product=product,
            stage="refining",
            kind=kind,
            country=country,
            label=label,
            year=year,
            quantity=Decimal(qty),
            unit="t",
            source=f"Test table {year}",
        )


@pytest.fixture
def three_years():
    # Shares of a world total the rows cover in full: HHI = the sum of squared shares.
    _published(2022, {"CN": 90, "JP": 10}, 100)  # 8,100 + 100 = 8,200
    _published(2023, {"CN": 80, "JP": 20}, 100)  # 6,400 + 400 = 6,800
    _published(2024, {"CN": 60, "JP": 20, "US": 20}, 100)  # 3,600 + 400 + 400 = 4,400


def test_the_series_route_gives_every_years_hhi_per_stage_with_its_source(api, three_years):
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(SERIES, {"mineral": HAND, "product": "spherical graphite (test)"})
    assert response.status_code == 200, response.json()
    body = response.json()
    (line,) = body["series"]
    assert (line["stage"], line["product"]) == ("refining", "spherical graphite (test)")
    assert [(p["year"], p["hhi"]) for p in line["points"]] == [
        (2022, 8200.0),
        (2023, 6800.0),
        (2024, 4400.0),
    ]
    assert [p["band"]["label"] for p in line["points"]] == ["highly concentrated"] * 3
    assert line["points"][0]["coverage_pct"] == 100.0
    assert line["source"] == "Test table 2022 | Test table 2023 | Test table 2024" or (
        "Test table" in line["source"]
    )
    # The mineral, the rule, the lines, one query per line: no query per year or row.
    assert len(ctx.captured_queries) <= 4


def test_the_page_draws_the_series_line_through_each_years_hhi(client, three_years):
    html = client.get(f"/concentration/{HAND}/").content.decode()
    over_time = _section(html, "over-time")
    root = ET.fromstring(re.search(r"<svg.*?</svg>", over_time, re.S).group(0))
    # each point a dot whose group carries its title (a tooltip without JS)
    titles = [
        g.find(f"{SVG}title").text
        for g in root.iter(f"{SVG}g")
        if g.find(f"{SVG}circle") is not None and g.find(f"{SVG}title") is not None
    ]
    points = [t for t in titles if t.startswith("refining (spherical")]
    assert points == [
        "refining (spherical graphite (test)), 2022: 8,200",
        "refining (spherical graphite (test)), 2023: 6,800",
        "refining (spherical graphite (test)), 2024: 4,400",
    ]
    table = re.search(r'<table id="series-table">.*?</table>', over_time, re.S).group(0)
    row = re.search(r"refining \(spherical graphite \(test\)\)</th>(.*?)</tr>", table).group(1)
    assert re.findall(r"<td>(\d+) <span", row) == ["8200", "6800", "4400"]


def test_the_series_route_with_bounds_gives_ranges_not_a_single_figure(api):
    load_production()
    body = api.get(SERIES, {"mineral": "cobalt", "stage": "mining", "fringe": "bounds"}).json()
    point = body["series"][0]["points"][-1]
    assert point["hhi"] is None and point["hhi_low"] < point["hhi_high"]
    assert body["convention"]["fringe"] == "bounds"


@pytest.mark.parametrize(
    "params, field",
    [
        ({}, "mineral"),
        ({"mineral": "unobtainium"}, "mineral"),
        ({"mineral": "cobalt", "fringe": "some"}, "fringe"),
        ({"mineral": "cobalt", "stage": "smelting"}, "stage"),
        ({"mineral": "cobalt", "thresholds": "nope"}, "thresholds"),
        ({"mineral": "cobalt", "year": "2024"}, "year"),  # not a parameter of the series
        ({"mineral": "cobalt", "product": "unobtainium"}, "product"),
    ],
)
def test_the_series_route_names_the_parameter_it_refuses(api, params, field):
    load_production()
    response = api.get(SERIES, params)
    assert response.status_code == 400
    assert field in str(response.json())


def test_the_mine_to_refinery_route_gives_flows_in_one_query_and_says_when_demo(api, hand_chain):
    with CaptureQueriesContext(connection) as ctx:
        body = api.get(M2R, {"mineral": HAND}).json()
    assert len(ctx.captured_queries) <= 4  # the mineral, the aggregate, the session's
    assert [(f["origin"], f["destination"], f["tonnes"]) for f in body["flows"]][0] == (
        "MZ",
        "CN",
        600.0,
    )
    assert body["total"] == 1000.0 and body["recycled_total"] == 50.0
    assert (body["demo"], body["label"]) == (False, "")
    MinedSource.objects.filter(name="Balama").update(demo=True)
    body = api.get(M2R, {"mineral": HAND}).json()
    assert (body["demo"], body["label"]) == (True, ILLUSTRATIVE)


def test_at_scale_the_mine_to_refinery_route_answers_from_a_kept_result_as_of(
    api, hand_chain, settings, django_capture_on_commit_callbacks
):
    settings.KEPT_RESULT_INLINE_BELOW = 0  # every registry counts as large
    with django_capture_on_commit_callbacks(execute=True) as jobs:
        first = api.get(M2R, {"mineral": HAND})
    assert first.status_code == 202 and "Retry-After" in first and len(jobs) == 1
    with CaptureQueriesContext(connection) as ctx:
        body = api.get(M2R, {"mineral": HAND}).json()
    assert body["total"] == 1000.0 and body["computed_at"] and body["stale"] is False
    # Served from the kept result: the mine links are not read again.
    assert not [q for q in ctx.captured_queries if "registry_sourcelink" in q["sql"]]
    # A new link marks it stale until its job has counted it.
    link = SourceLink.objects.filter(mine__name="Balama").first()
    with django_capture_on_commit_callbacks(execute=False):
        SourceLink.objects.create(
            mine=link.mine, facility=link.facility, mineral=link.mineral, volume_t=5
        )
    with django_capture_on_commit_callbacks(execute=False):
        stale = api.get(M2R, {"mineral": HAND}).json()
    assert stale["stale"] is True and stale["total"] == 1000.0


def test_the_mine_to_refinery_route_counts_only_links_in_force_on_a_date(api, hand_chain):
    SourceLink.objects.filter(mine__name="Balama").update(
        period_start="2020-01-01", period_end="2020-12-31"
    )
    assert api.get(M2R, {"mineral": HAND, "as_of": "2020-06-01"}).json()["total"] == 1000.0
    assert api.get(M2R, {"mineral": HAND, "as_of": "2024-06-01"}).json()["total"] == 400.0


@pytest.mark.parametrize(
    "params, field",
    [
        ({}, "mineral"),
        ({"mineral": "cobalt", "as_of": "yesterday"}, "as_of"),
        ({"mineral": "cobalt", "year": "2024"}, "year"),
    ],
)
def test_the_mine_to_refinery_route_names_the_parameter_it_refuses(api, params, field):
    response = api.get(M2R, params)
    assert response.status_code == 400
    assert field in str(response.json())


def test_volumes_are_decimal_tonnes_summed_exactly(hand_chain):
    # Three links of 0.1 t: a float sum would drift; the database sums decimals.
    mine, plant = _mine("Tiny", "TZ"), Facility.objects.filter(country="FI").first()
    for _ in range(3):
        _link(mine, plant, Decimal("0.1"))
    tz = [f for f in mine_to_refinery(mineral=HAND).flows if f.origin == "TZ"]
    assert tz[0].tonnes == 0.3


def test_the_page_draws_bounds_when_asked_and_names_a_bad_convention(client, three_years):
    html = client.get(
        f"/concentration/{HAND}/?fringe=bounds&denominator=world&year=2024"
    ).content.decode()
    table = re.search(r'<table id="series-table">.*?</table>', html, re.S).group(0)
    # Full coverage: the fringe is nothing, so both bounds are the HHI itself.
    assert "4400–4400" in table
    response = client.get(f"/concentration/{HAND}/?fringe=some")
    assert response.status_code == 400
    assert "fringe must be one of" in response.content.decode()
    response = client.get(f"/concentration/{HAND}/?denominator=listed&fringe=one_unit")
    assert response.status_code == 400 and "fringe must be excluded" in response.content.decode()


def test_the_page_draws_the_largest_flows_and_sums_the_rest_in_one_line(client):
    from registry.views import CHAIN_FLOWS_SHOWN

    refiner = make_company("Many Pairs Refining", country="CN")
    plant = _refinery(refiner, "CN")
    origins = ["AU", "BR", "CA", "CL", "CD", "FI", "ID", "IN", "KR", "MG", "MZ", "NO", "PE"]
    origins += ["PH", "RU", "SE", "TZ", "TR", "UA", "US", "VN", "ZA", "ZM", "ZW", "AR", "BO"]
    origins += ["GH", "LK"]
    # 28 mining countries, each to China: 1,000 t down to 28 t.
    for i, country in enumerate(origins):
        _link(_mine(f"Mine {country}", country), plant, 1000 - 36 * i)
    assert len(origins) == CHAIN_FLOWS_SHOWN + 3
    html = client.get(f"/concentration/{HAND}/").content.decode()
    table = re.search(r'<table id="mine-to-refinery-table">.*?</table>', html, re.S).group(0)
    assert table.count("<tr>") - 2 == CHAIN_FLOWS_SHOWN  # header and total rows apart
    more = re.search(r'<tr id="mine-to-refinery-more">.*?</tr>', table, re.S).group(0)
    smallest = [1000 - 36 * i for i in range(CHAIN_FLOWS_SHOWN, len(origins))]
    assert "3 smaller flows" in more and f"{sum(smallest):,}" in more
    assert "Mine LK" not in html and "Sri Lanka" not in table  # the smallest is not drawn
