"""Charts drawn on the server as inline SVG: no script, no CDN, readable offline and by
screen readers (role="img", an aria-label, a <title> and a <desc>). Every label is
escaped here, because company and facility names are user data. Each chart is meant to
sit beside a table of the same figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Colours readable on white and apart from one another for common colour blindness
# (Okabe-Ito); the tables beside carry the same figures for anyone who cannot tell.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
INK, MUTED, LINE = "#1d2a33", "#5b6b75", "#d6dde2"
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def _num(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _short(label: str, limit: int = 30) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _svg(width: int, height: int, title: str, desc: str, body: list[str]) -> SafeString:
    # Escaped once here: title and desc are the only free text outside `body`, and every
    # caller escapes what it puts in `body`.
    t, d = escape(title), escape(desc)
    return mark_safe(  # noqa: S308 - every piece of text in it went through escape()
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-label="{t}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" {FONT}>'
        f"<title>{t}</title><desc>{d}</desc>{''.join(body)}</svg>"
    )


def _text(x: float, y: float, text: str, anchor: str = "start", fill: str = INK, extra="") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}"{extra}>'
        f"{escape(text)}</text>"
    )


@dataclass
class Bar:
    label: str
    value: float  # drawn: a share in percent (0 to 100)
    caption: str = ""  # written after the bar; the value with one decimal by default


def bar_chart(bars: Sequence[Bar], *, title: str, desc: str = "", scale: float = 100) -> str:
    """Horizontal bars, a label before each and its figure after, on a fixed scale (100
    for shares, so two charts compare by eye)."""
    row, label_w, bar_w, pad = 22, 200, 260, 6
    width, height = label_w + bar_w + 90, pad * 2 + row * max(len(bars), 1)
    body = [f'<line x1="{label_w}" y1="{pad}" x2="{label_w}" y2="{height - pad}" stroke="{LINE}"/>']
    for i, bar in enumerate(bars):
        y = pad + i * row
        w = max(0.0, min(bar.value, scale)) / scale * bar_w if scale else 0.0
        caption = bar.caption or f"{bar.value:.1f}%"
        body.append(
            f"<g><title>{escape(f'{bar.label}: {caption}')}</title>"
            + _text(label_w - 6, y + 15, _short(bar.label, 25), "end")
            + f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" '
            f'fill="{PALETTE[0]}"/>' + _text(label_w + w + 4, y + 15, caption, fill=MUTED) + "</g>"
        )
    if not bars:
        body.append(_text(label_w + 6, pad + 15, "No figures", fill=MUTED))
    return _svg(width, height, title, desc, body)


@dataclass
class Line:
    name: str
    points: list[tuple[int, float]]  # (year, value)
    # (year, low, high): a year known only within bounds, drawn as a bar, not a point
    ranges: list[tuple[int, float, float]] = field(default_factory=list)


def line_chart(
    lines: Sequence[Line],
    *,
    title: str,
    desc: str = "",
    y_max: float = 10_000,
    thresholds: Sequence[tuple[float, str]] = (),
) -> str:
    """Values per year, one line each, with horizontal threshold lines (the HHI bands)
    drawn dashed and named. The y axis runs from 0 to `y_max` (10,000 for an HHI)."""
    width, height = 620, 300
    left, right, top, bottom = 56, 170, 16, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    years = sorted(
        {year for line in lines for year, _ in line.points}
        | {year for line in lines for year, _, _ in line.ranges}
    )
    first, last = (years[0], years[-1]) if years else (0, 1)
    if first == last:  # one year: put it in the middle
        first, last = first - 1, last + 1

    def x(year: float) -> float:
        return left + (year - first) / (last - first) * plot_w

    def y(value: float) -> float:
        return top + plot_h - max(0.0, min(value, y_max)) / y_max * plot_h

    body = [
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        f'stroke="{LINE}"/>'
    ]
    for tick in range(0, int(y_max) + 1, int(y_max) // 4 or 1):
        body.append(_text(left - 6, y(tick) + 4, _num(tick), "end", MUTED))
    for year in years:
        body.append(_text(x(year), height - bottom + 18, str(year), "middle", MUTED))
    for value, name in thresholds:
        body.append(
            f'<line x1="{left}" y1="{y(value):.1f}" x2="{left + plot_w}" y2="{y(value):.1f}" '
            f'stroke="{MUTED}" stroke-dasharray="5 4"/>'
            + _text(left + plot_w + 6, y(value) + 4, name, fill=MUTED)
        )
    for i, line in enumerate(lines):
        colour = PALETTE[i % len(PALETTE)]
        pts = sorted(line.points)
        if len(pts) > 1:
            path = " ".join(f"{x(yr):.1f},{y(v):.1f}" for yr, v in pts)
            body.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
        for yr, v in pts:
            body.append(
                f'<circle cx="{x(yr):.1f}" cy="{y(v):.1f}" r="4" fill="{colour}">'
                f"<title>{escape(f'{line.name}, {yr}: {_num(v)}')}</title></circle>"
            )
        for yr, low, high in line.ranges:
            body.append(
                f'<rect x="{x(yr) - 4:.1f}" y="{y(high):.1f}" width="8" '
                f'height="{max(y(low) - y(high), 1):.1f}" fill="{colour}" fill-opacity="0.35" '
                f'stroke="{colour}"><title>'
                + escape(f"{line.name}, {yr}: between {_num(low)} and {_num(high)}")
                + "</title></rect>"
            )
        legend_y = top + 14 + i * 18
        body.append(
            f'<rect x="{left + plot_w + 6}" y="{legend_y - 9}" width="10" height="10" '
            f'fill="{colour}"/>' + _text(left + plot_w + 20, legend_y, _short(line.name, 24))
        )
    if not years:
        body.append(_text(left + 8, top + 20, "No figures", fill=MUTED))
    return _svg(width, height, title, desc, body)


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
