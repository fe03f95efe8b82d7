"""Charts drawn on the server as inline SVG by pygal: no script, no CDN, readable offline
and by screen readers (role="img", an aria-label, a <title> and a <desc>). Every chart is
meant to sit beside a table of the same figures, which is what a screen reader reads.

pygal builds the SVG as an element tree, so labels (company and facility names are user
data) are escaped by its serializer. `_accessible` is a pygal xml filter: it drops the
config <script> pygal always adds (its tooltips need JS; the printed values and the
table do without), drops its comments (they carry pygal's web address) and adds the
title and description first, where screen readers look.

pygal has no Sankey diagram: the mine-to-refinery flows (`flow_chart`) stay drawn by
hand here, as a two-column SVG of our own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pygal
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from pygal.etree import etree as ET  # lxml's or the standard one, as pygal's tree
from pygal.style import Style

# Colours readable on white and apart from one another for common colour blindness
# (Okabe-Ito); the tables beside carry the same figures for anyone who cannot tell.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
INK, MUTED, LINE = "#1d2a33", "#5b6b75", "#d6dde2"
FONT_FAMILY = "system-ui, sans-serif"
FONT = f'font-family="{FONT_FAMILY}" font-size="12"'
SVG_NS = "http://www.w3.org/2000/svg"

STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground=INK,
    foreground_strong=INK,
    foreground_subtle=MUTED,  # guide lines and minor labels: 5.7:1 on white
    opacity=".85",
    opacity_hover="1",
    transition="none",
    colors=PALETTE,
    font_family=FONT_FAMILY,
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=12,
    value_font_size=12,
    value_label_font_size=12,
    title_font_size=14,
    tooltip_font_size=12,
    no_data_font_size=16,
    guide_stroke_color=LINE,  # guides recede; the figures are in the table
    major_guide_stroke_color=LINE,
)


def _style(colors: Sequence[str]) -> Style:
    """STYLE with one colour per series, in the order they are added."""
    style = Style(**{k: v for k, v in vars(STYLE).items() if not k.startswith("_")})
    style.colors = tuple(colors) or PALETTE
    return style


def _num(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _short(label: str, limit: int = 30) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _accessible(title: str, desc: str):
    def apply(root):
        for parent in list(root.iter()):
            for child in list(parent):
                tag = str(child.tag)
                pygal_title = parent is root and tag.endswith("title")
                if child.tag == ET.Comment or tag.endswith("script") or pygal_title:
                    parent.remove(child)
        # Each point's own title (its label, else its value): a tooltip without JS.
        for group in root.iter("g"):
            descs = {d.get("class"): d.text for d in group.findall("desc")}
            text = descs.get("label") or descs.get("value")
            if text:
                point_title = ET.Element("title")
                point_title.text = text
                group.insert(0, point_title)
        root.set("class", "chart pygal-chart")
        root.set("role", "img")
        root.set("aria-label", title)
        title_el, desc_el = ET.Element("title"), ET.Element("desc")
        title_el.text, desc_el.text = title, desc or "The table beside gives the figures."
        root.insert(0, desc_el)
        root.insert(0, title_el)
        return root

    return apply


def _config(**options) -> dict:
    return {
        "js": [],  # no script, local or from a CDN
        "disable_xml_declaration": True,  # inline in the page
        "style": STYLE,
        "explicit_size": False,  # a viewBox only: svg.chart scales to its column
        "no_data_text": "No figures",
        "legend_at_bottom": True,
        "truncate_label": 28,
        "truncate_legend": 40,
        **options,
    }


def _render(chart, title: str, desc: str) -> SafeString:
    chart.add_xml_filter(_accessible(title, desc))
    svg = chart.render(is_unicode=True)
    return mark_safe(svg)  # noqa: S308 - serialised by ElementTree: every text escaped


# --- shares: horizontal bars ----------------------------------------------------------


@dataclass
class Bar:
    label: str
    value: float  # drawn: a share in percent (0 to 100), or a count with scale=None
    caption: str = ""  # written at the bar; the value with one decimal and % by default


def bar_chart(bars: Sequence[Bar], *, title: str, desc: str = "", scale: float | None = 100) -> str:
    """Horizontal bars, largest listed first, each with its figure printed at its end,
    on a fixed scale (100 for shares, so two charts compare by eye); `scale=None`
    fits the largest value (counts)."""
    chart = pygal.HorizontalBar(
        **_config(
            width=560,
            height=max(140, 60 + 28 * len(bars)),
            show_legend=False,
            print_values=True,
            print_values_position="top",  # at the bar's end, clear of its label
            range=(0, scale) if scale else None,
        )
    )

    def caption(bar: Bar) -> str:
        return bar.caption or (f"{bar.value:.1f}%" if scale == 100 else _num(bar.value))

    chart.x_labels = [bar.label for bar in reversed(bars)]  # pygal draws bottom up
    chart.add(
        title,
        [
            {
                "value": max(0.0, min(bar.value, scale)) if scale else bar.value,
                "formatter": lambda _v, bar=bar: caption(bar),
                "label": f"{bar.label}: {caption(bar)}",
            }
            for bar in reversed(bars)
        ],
    )
    return _render(chart, title, desc)


# --- values per year: lines -----------------------------------------------------------


@dataclass
class Line:
    name: str
    points: list[tuple[int, float]]  # (year, value)
    # (year, low, high): a year known only within bounds, drawn as an interval, not a point
    ranges: list[tuple[int, float, float]] = field(default_factory=list)


def line_chart(
    lines: Sequence[Line],
    *,
    title: str,
    desc: str = "",
    y_max: float = 10_000,
    thresholds: Sequence[tuple[float, str]] = (),
) -> str:
    """Values per year (years on x), one line each, with the threshold lines (the HHI
    bands) drawn dashed and named in the legend. The y axis runs from 0 to `y_max`
    (10,000 for an HHI). A year known only within bounds is its own series of
    intervals, never joined to the line."""
    years = sorted(
        {year for line in lines for year, _ in line.points}
        | {year for line in lines for year, _, _ in line.ranges}
    )
    chart = pygal.Line(
        **_config(
            width=640,
            height=340,
            range=(0, y_max),
            value_formatter=_num,
            allow_interruptions=True,  # a year without a figure breaks the line
            dots_size=4,
            legend_at_bottom_columns=2,
        )
    )
    # A line and its bounded years share a colour; the thresholds are grey and ink.
    colors = []
    for i, line in enumerate(lines):
        colour = PALETTE[i % len(PALETTE)]
        colors += [colour] * (bool(line.points) + bool(line.ranges))
    if years:
        colors += [MUTED, INK][: len(thresholds)]
    chart.style = _style(colors)
    chart.x_labels = [str(year) for year in years]
    at = {year: i for i, year in enumerate(years)}
    for line in lines:
        values: list = [None] * len(years)
        for year, value in line.points:
            values[at[year]] = {"value": value, "label": f"{line.name}, {year}: {_num(value)}"}
        if line.points:
            chart.add(line.name, values)
        if line.ranges:
            bounded: list = [None] * len(years)
            for year, low, high in line.ranges:
                bounded[at[year]] = {
                    "value": (low + high) / 2,
                    "ci": {"low": low, "high": high},
                    "label": f"{line.name}, {year}: between {_num(low)} and {_num(high)}",
                }
            chart.add(f"{line.name}, within bounds", bounded, stroke=False)
    for value, name in thresholds:
        if years:
            chart.add(
                name,
                [value] * len(years),
                show_dots=False,
                stroke_style={"width": 1.5, "dasharray": "6, 4"},
            )
    return _render(chart, title, desc)


# --- a heat map: dots sized by their figure -------------------------------------------


@dataclass
class DotRow:
    name: str
    values: list[float]  # one per column


def dot_chart(rows: Sequence[DotRow], columns: Sequence[str], *, title: str, desc: str = "") -> str:
    """A grid of dots, one row per `rows` and one column per `columns`, each dot's size
    its figure (printed in it): pygal's Dot, the heat map it has."""
    chart = pygal.Dot(
        **_config(
            width=640,
            height=max(200, 90 + 40 * len(rows)),
            show_legend=False,
            print_values=True,
            value_formatter=_num,
            x_label_rotation=0,
        )
    )
    chart.x_labels = list(columns)
    for row in rows:
        chart.add(
            row.name,
            [
                {"value": v, "label": f"{row.name}, {col}: {_num(v)}"}
                for v, col in zip(row.values, columns, strict=True)
            ],
        )
    return _render(chart, title, desc)


# --- mine to refinery: a two-column Sankey, drawn by hand -----------------------------


def _svg(width: int, height: int, title: str, desc: str, body: list[str]) -> SafeString:
    # Escaped once here: title and desc are the only free text outside `body`, and every
    # caller escapes what it puts in `body`.
    t, d = escape(title), escape(desc)
    return mark_safe(  # noqa: S308 - every piece of text in it went through escape()
        f'<svg xmlns="{SVG_NS}" class="chart" role="img" aria-label="{t}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" {FONT}>'
        f"<title>{t}</title><desc>{d}</desc>{''.join(body)}</svg>"
    )


def _text(x: float, y: float, text: str, anchor: str = "start", fill: str = INK, extra="") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}"{extra}>'
        f"{escape(text)}</text>"
    )


@dataclass
class Flow:
    source: str
    target: str
    amount: float


def flow_chart(
    flows: Sequence[Flow],
    *,
    title: str,
    desc: str = "",
    unit: str = "t",
    headings: tuple[str, str] = ("From", "To"),
) -> str:
    """Two columns of nodes, sources left and targets right, joined by bands whose width
    is proportional to the amount (a two-column Sankey diagram). Nodes are ordered
    largest first; each band carries its figure in a tooltip, each node its total."""
    width, node_w, label_w, gap, top, slot = 720, 14, 200, 10, 30, 30
    sources = _totals(flows, lambda f: f.source)
    targets = _totals(flows, lambda f: f.target)
    total = sum(f.amount for f in flows)
    stack = max(len(sources), len(targets), 1)
    scale = max(160, 34 * stack) / total if total else 0.0
    x0, x1 = label_w, width - label_w - node_w

    def place(totals: dict[str, float]) -> tuple[dict[str, float], float]:
        # Each node takes at least a two-line label's height, however small its flow.
        y, out = float(top), {}
        for key, amount in totals.items():
            out[key] = y
            y += max(amount * scale, slot) + gap
        return out, y

    (source_y, left_end), (target_y, right_end) = place(sources), place(targets)
    height = int(max(left_end, right_end, top + 40)) + 4
    colour = {key: PALETTE[i % len(PALETTE)] for i, key in enumerate(sources)}
    body = [
        _text(x0 + node_w / 2, 16, headings[0], "middle", MUTED, ' font-weight="600"'),
        _text(x1 + node_w / 2, 16, headings[1], "middle", MUTED, ' font-weight="600"'),
    ]
    out_at, in_at = dict(source_y), dict(target_y)
    rank = {key: i for i, key in enumerate(sources)}
    order = {key: i for i, key in enumerate(targets)}
    for flow in sorted(flows, key=lambda f: (rank[f.source], order[f.target])):
        h = flow.amount * scale
        a, b = out_at[flow.source], in_at[flow.target]
        out_at[flow.source] += h
        in_at[flow.target] += h
        sx, tx, mid = x0 + node_w, x1, (x0 + node_w + x1) / 2
        share = 100 * flow.amount / total if total else 0
        body.append(
            f'<path d="M{sx:.1f},{a:.1f} C{mid:.1f},{a:.1f} {mid:.1f},{b:.1f} {tx:.1f},{b:.1f} '
            f"L{tx:.1f},{b + h:.1f} C{mid:.1f},{b + h:.1f} {mid:.1f},{a + h:.1f} "
            f'{sx:.1f},{a + h:.1f} Z" fill="{colour[flow.source]}" fill-opacity="0.45">'
            f"<title>{escape(f'{flow.source} → {flow.target}: {_num(flow.amount)} {unit}')}"
            f" ({share:.1f}%)</title></path>"
        )
    for key, amount in sources.items():
        y, h = source_y[key], max(amount * scale, 1)
        body.append(
            f"<g><title>{escape(f'{key}: {_num(amount)} {unit}')}</title>"
            f'<rect x="{x0}" y="{y:.1f}" width="{node_w}" height="{h:.1f}" '
            f'fill="{colour[key]}"/>'
            + _text(x0 - 6, y + 12, _short(key, 26), "end")
            + _text(x0 - 6, y + 26, f"{_num(amount)} {unit}", "end", MUTED)
            + "</g>"
        )
    for key, amount in targets.items():
        y, h = target_y[key], max(amount * scale, 1)
        body.append(
            f"<g><title>{escape(f'{key}: {_num(amount)} {unit}')}</title>"
            f'<rect x="{x1}" y="{y:.1f}" width="{node_w}" height="{h:.1f}" fill="{INK}"/>'
            + _text(x1 + node_w + 6, y + 12, _short(key, 26))
            + _text(x1 + node_w + 6, y + 26, f"{_num(amount)} {unit}", fill=MUTED)
            + "</g>"
        )
    if not flows:
        body.append(_text(width / 2, top + 20, "No flows", "middle", MUTED))
    return _svg(width, height, title, desc, body)


def _totals(flows: Sequence[Flow], key) -> dict[str, float]:
    totals: dict[str, float] = {}
    for flow in flows:
        totals[key(flow)] = totals.get(key(flow), 0.0) + flow.amount
    return dict(sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])))
