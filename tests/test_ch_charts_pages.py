"""Charts where people look rather than read (issue 11 §2): each page draws its chart as
inline SVG (pygal), an image with a title for screen readers, with no script or style
sheet fetched from anywhere, beside a table of the same figures; names are escaped."""

import re
import xml.etree.ElementTree as ET

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry.reference import load_rules
from registry.selectors import sector_companies
from tests.factories import make_attestation, make_company, make_org

# The hand-built graphite chain and three published years of the concentration tests
from tests.test_concentration_pages import HAND, _section, hand_chain, three_years  # noqa: F401

pytestmark = pytest.mark.django_db
SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Sons Refining"


@pytest.fixture(autouse=True)
def rules():
    load_rules()


def charts_in(html: str) -> list[str]:
    return re.findall(r"<svg.*?</svg>", html, re.S)


def assert_an_offline_image(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # well-formed
    assert root.get("role") == "img" and root.get("aria-label")
    assert root[0].tag == f"{SVG}title" and root[0].text == root.get("aria-label")
    assert root[1].tag == f"{SVG}desc" and root[1].text
    assert "<script" not in svg and "<link" not in svg and "@import" not in svg
    assert not re.search(r"(href|src)=\"https?://", svg)
    assert "chart" in root.get("class").split()  # svg.chart: max-width 100% in base.html
    return root


def pair(html: str, table_id: str) -> tuple[str, str]:
    """The chart and the table of the chart-pair holding `table_id`."""
    end = html.index(f'<table id="{table_id}"')
    start = html.rindex('<div class="chart-pair"', 0, end)
    table = html[end : html.index("</table>", end)]
    return charts_in(html[start:end])[0], table


def test_the_hhi_series_is_a_chart_beside_a_table_of_the_same_figures(client, three_years):  # noqa: F811 - the imported fixture
    html = client.get(f"/concentration/{HAND}/").content.decode()
    chart, table = pair(html, "series-table")
    root = assert_an_offline_image(chart)
    assert "HHI of published production" in root.get("aria-label")
    # 2023 of the test table: 6,800 in the chart's point and in the table
    assert "refining (spherical graphite (test)), 2023: 6,800" in chart
    assert "<td>6800 <span" in table and "<caption>" in table and 'scope="col"' in table
    assert [t.text for t in root.iter(f"{SVG}text") if t.text == "2023"]  # years on x


def test_shares_and_flows_are_charts_beside_tables_with_company_names_escaped(client, hand_chain):  # noqa: F811 - the imported fixture
    html = client.get(f"/concentration/{HAND}/").content.decode()
    chart, table = pair(html, "mine-to-refinery-table")
    assert_an_offline_image(chart)
    assert "600 t" in chart and "600" in table  # Mozambique to China
    flows = _section(html, "flows")
    shares = charts_in(flows)
    assert shares
    for svg in shares:
        assert_an_offline_image(svg)
    # The refiner named with markup: text in a chart and in its table, never markup.
    assert any(HOSTILE in svg for svg in shares)
    assert "<script>alert" not in html
    assert flows.count(HOSTILE) >= 2


def test_the_supply_chain_shares_are_pygal_charts_beside_their_tables(client, hand_chain):  # noqa: F811 - the imported fixture
    html = client.get(f"/companies/{hand_chain.pk}/supply-chain/?mineral={HAND}").content.decode()
    charts = charts_in(html)
    assert charts  # the refiner's own mines: mine country shares at least
    for svg in charts:
        assert_an_offline_image(svg)
    assert "Mozambique: 75.0%" in html and "<td>75.0%</td>" in html


def test_the_landscape_gaps_page_has_a_coverage_heat_map_beside_its_table(
    client, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        html = client.get("/standards/gaps/").content.decode()
    chart, table = pair(html, "coverage-heat-map-table")
    root = assert_an_offline_image(chart)
    assert "How many standards cover" in root.get("aria-label")
    rows = re.findall(r'<th scope="row">(.*?)</th>((?:<td>\d+</td>)+)', table)
    assert rows, table
    dimension, cells = rows[0]
    first = re.findall(r"<td>(\d+)</td>", cells)
    # each row's dots: one per coverage band, titled with the dimension and the figure
    titles = [t.text for t in root.iter(f"{SVG}title")]
    assert f"{dimension}, No standard: {int(first[0]):,}" in titles
    assert f"{dimension}, 5 or more: {int(first[3]):,}" in titles


def _refiners(n, org, start=0):
    for i in range(start, start + n):
        company = make_company(f"Refiner {i:03}", stages=("refining",))
        if i % 3 == 0:
            make_attestation(company, "rmi-rmap", org)


GAPS = "/gaps/?stage=refining&cells=content.labor_rights"


def test_the_gap_search_of_a_sector_shows_its_grade_distribution_beside_a_table(client):
    org = make_org()
    _refiners(9, org)
    response = client.get(GAPS)
    html = response.content.decode()
    chart, table = pair(html, "grade-distribution-table")
    root = assert_an_offline_image(chart)
    assert "Grades of the refining companies" in root.get("aria-label")
    counts = dict(re.findall(r'<th scope="row">(\w+)</th><td>(\d+)</td>', table))
    assert list(counts) == ["Platinum", "Gold", "Silver", "Basic", "None"]
    total = sum(int(n) for n in counts.values())
    assert total == sector_companies("refining").count() == 9
    assert total == response.context["result"].company_count  # the search's own count
    assert int(counts["None"]) == 6  # the six with nothing; the audited three above none
    # the same figures in the chart: each bar titled with its grade and count
    for level, n in counts.items():
        assert f"{level}: {int(n):,}" in [t.text for t in root.iter(f"{SVG}title")]


def test_a_gap_search_without_a_sector_draws_no_grade_chart(client):
    make_refiner = make_company("Lone Refiner", stages=("refining",))
    assert make_refiner
    html = client.get("/gaps/?cells=content.labor_rights").content.decode()
    assert "grade-distribution" not in html


def test_the_gap_search_page_runs_as_many_queries_when_the_sector_doubles(client):
    org = make_org()
    _refiners(6, org)
    client.get(GAPS)  # warm caches (landscape, menus) as a second visitor finds them
    with CaptureQueriesContext(connection) as small:
        assert client.get(GAPS).status_code == 200
    _refiners(6, org, start=6)
    with CaptureQueriesContext(connection) as large:
        response = client.get(GAPS)
    assert response.context["grades"]["total"] == response.context["result"].company_count == 12
    assert len(large.captured_queries) <= len(small.captured_queries)


def test_a_scorecard_draws_how_the_company_covers_each_dimension_beside_its_table(client):
    company = make_company("Heat Map Refining", stages=("refining",))
    make_attestation(company, "rmi-rmap", make_org())
    html = client.get(f"/companies/{company.pk}/").content.decode()
    chart, table = pair(html, "coverage-heat-map-table")
    root = assert_an_offline_image(chart)
    assert root.get("aria-label") == "How Heat Map Refining covers each dimension"
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th>((?:<td>\d+</td>)+)</tr>', table)
    assert [name for name, _ in rows] == ["Content", "Implementation", "Application", "Enforcement"]
    # every cell of the grid counted once, in exactly one level
    cells = sum(int(n) for _, tds in rows for n in re.findall(r"\d+", tds))
    assert cells == html.count('<div class="cellmark')
    independent = sum(int(re.findall(r"\d+", tds)[0]) for _, tds in rows)
    assert independent == html.count('<div class="cellmark independent')
