"""The server-drawn SVG charts (pygal, and the hand-drawn flow chart): well-formed,
accessible, labels escaped, sizes in proportion to the figures, no script."""

import re
import xml.etree.ElementTree as ET

import pytest

from registry.charts import Bar, Flow, Line, bar_chart, flow_chart, line_chart

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert(1)</script> & Sons"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # raises on anything not well-formed XML


def texts(root: ET.Element) -> list[str]:
    return ["".join(e.itertext()) for e in root.iter() if e.tag in (f"{SVG}text", f"{SVG}title")]


def test_each_chart_is_an_image_with_a_title_and_a_description_for_screen_readers():
    for svg in (
        bar_chart([Bar("China", 72.0)], title="Refined cobalt by country"),
        line_chart([Line("mining (cobalt)", [(2023, 5000.0), (2024, 5945.4)])], title="HHI"),
        flow_chart([Flow("Congo", "China", 10)], title="Mine to refinery"),
    ):
        root = parse(svg)
        assert root.get("role") == "img" and root.get("aria-label")
        assert root[0].tag == f"{SVG}title" and root[0].text == root.get("aria-label")
        assert root[1].tag == f"{SVG}desc"
        assert "<script" not in svg.lower() and "http" not in svg.replace(SVG[1:-1], "")
        assert "<?xml" not in svg and "stylesheet" not in svg  # inline, nothing fetched


def test_a_company_named_with_markup_is_drawn_as_text_never_as_markup():
    for svg in (
        bar_chart([Bar(HOSTILE, 50.0)], title=HOSTILE, desc=HOSTILE),
        line_chart([Line(HOSTILE, [(2024, 100.0)])], title=HOSTILE),
        flow_chart([Flow(HOSTILE, "A & B", 5)], title=HOSTILE),
    ):
        assert "<script" not in svg and "& " not in svg.replace("&amp; ", "")
        root = parse(svg)
        assert root.get("aria-label") == HOSTILE
        assert any(HOSTILE in t for t in texts(root))
        assert not root.findall(f".//{SVG}script")


def test_bar_lengths_are_in_proportion_to_the_shares():
    root = parse(bar_chart([Bar("DRC", 75.0), Bar("Indonesia", 25.0)], title="Mined cobalt"))
    bars = {
        g.find(f"{SVG}title").text: float(g.find(f"{SVG}rect").get("width"))
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "bar"
    }
    assert bars["Indonesia: 25.0%"] > 0
    assert bars["DRC: 75.0%"] == pytest.approx(3 * bars["Indonesia: 25.0%"])
    assert "75.0%" in texts(root) and "25.0%" in texts(root)  # printed, not only hovered


def test_flow_bands_are_as_wide_as_the_tonnes_they_carry():
    flows = [
        Flow("DRC", "China", 600),
        Flow("DRC", "Finland", 200),
        Flow("Indonesia", "China", 200),
    ]
    root = parse(flow_chart(flows, title="Cobalt", headings=("Mined in", "Refined in")))
    bands = {}
    for path in root.iter(f"{SVG}path"):
        title = path.find(f"{SVG}title").text
        numbers = [float(n) for n in re.findall(r"-?\d+\.?\d*", path.get("d"))]
        # M sx,a C .. .. tx,b L tx,b+h: the band's height at the target end
        bands[title.split(":")[0]] = numbers[9] - numbers[7]
    assert bands["DRC → China"] == 3 * bands["DRC → Finland"]
    assert bands["DRC → Finland"] == bands["Indonesia → China"]
    assert {"Mined in", "Refined in"} <= set(texts(root))
    assert any(t.startswith("DRC → China: 600 t (60.0%)") for t in texts(root))


def test_the_hhi_bands_are_drawn_where_their_thresholds_lie():
    svg = line_chart(
        [Line("mining (cobalt)", [(2023, 5000.0), (2024, 2500.0)])],
        title="HHI",
        thresholds=[(1500, "moderate from 1,500"), (2500, "high above 2,500")],
    )
    root = parse(svg)
    # The thresholds are series 1 and 2, drawn dashed (pygal's per-series CSS).
    assert svg.count(".series.serie-1{stroke-width:1.5;stroke-dasharray:6,4}") == 1
    assert svg.count(".series.serie-2{stroke-width:1.5;stroke-dasharray:6,4}") == 1
    high = next(g for g in root.iter(f"{SVG}g") if "serie-2" in (g.get("class") or ""))
    high_y = float(high.find(f"{SVG}path").get("d").split()[1])
    point_2024 = [
        g.find(f"{SVG}circle")
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "dots" and "2024" in g.find(f"{SVG}title").text
    ]
    assert float(point_2024[0].get("cy")) == pytest.approx(high_y)  # 2,500 on "high"
    assert "moderate from 1,500" in texts(root) and "high above 2,500" in texts(root)


def test_a_year_known_only_within_bounds_is_drawn_as_a_range_not_a_point():
    svg = line_chart(
        [
            Line(
                "refining (cobalt)",
                [(2023, 4000.0)],
                [(2022, 3500.0, 4500.0), (2024, 3000.0, 5000.0)],
            )
        ],
        title="HHI",
    )
    root = parse(svg)
    # its own series ("within bounds"), an interval (pygal's ci), not joined by a line
    bounded = [g for g in root.iter(f"{SVG}g") if "serie-1" in (g.get("class") or "")]
    assert any(g.find(f".//{SVG}g[@class='ci']") is not None for g in bounded)
    paths = [p for g in bounded for p in g.iter(f"{SVG}path")]
    assert not [p for p in paths if "line" in (p.get("class") or "").split()]
    assert any("between 3,000 and 5,000" in t for t in texts(root))
    assert "refining (cobalt), within bounds" in texts(root)


def test_charts_without_figures_say_so():
    assert "No figures" in bar_chart([], title="x")
    assert "No figures" in line_chart([], title="x")
    assert "No flows" in flow_chart([], title="x")
