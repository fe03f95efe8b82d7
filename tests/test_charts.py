"""The server-drawn SVG charts: well-formed, accessible, labels escaped, sizes in
proportion to the figures."""

import re
import xml.etree.ElementTree as ET

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
    widths = [float(r.get("width")) for r in root.iter(f"{SVG}rect")]
    assert widths[0] == 3 * widths[1] > 0
    assert "75.0%" in texts(root) and "25.0%" in texts(root)


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
    dashed = [e for e in root.iter(f"{SVG}line") if e.get("stroke-dasharray")]
    assert len(dashed) == 2
    high_y = float(dashed[1].get("y1"))
    point_2024 = [c for c in root.iter(f"{SVG}circle") if "2024" in c.find(f"{SVG}title").text]
    assert float(point_2024[0].get("cy")) == high_y  # 2,500 sits on the "high" line
    assert "moderate from 1,500" in texts(root) and "high above 2,500" in texts(root)


def test_a_year_known_only_within_bounds_is_drawn_as_a_range_not_a_point():
    root = parse(line_chart([Line("refining (cobalt)", [], [(2024, 3000.0, 5000.0)])], title="HHI"))
    assert not list(root.iter(f"{SVG}circle"))
    assert any("between 3,000 and 5,000" in t for t in texts(root))


def test_charts_without_figures_say_so():
    assert "No figures" in bar_chart([], title="x")
    assert "No figures" in line_chart([], title="x")
    assert "No flows" in flow_chart([], title="x")
