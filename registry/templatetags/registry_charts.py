"""Chart tags for the registry's templates (registry.charts draws them)."""

from django import template

from registry.charts import Bar, bar_chart

register = template.Library()

SHARES_DRAWN = 12  # as many as the table beside lists


def _get(obj, name, default=None):
    # A concentration is a dataclass inline and a plain dict from a kept result.
    return obj.get(name, default) if isinstance(obj, dict) else getattr(obj, name, default)


@register.simple_tag
def share_chart(c, title: str):
    """The largest shares of a concentration as horizontal bars (0 to 100%)."""
    if not c:
        return ""
    shares = list(_get(c, "shares", []) or [])[:SHARES_DRAWN]
    if not shares:
        return ""  # nothing to draw; the table beside says so
    bars = [Bar(str(_get(s, "label", "")), float(_get(s, "share_pct", 0) or 0)) for s in shares]
    value = _get(c, "hhi")
    figure = (
        f"HHI {value:,.0f}"
        if value is not None
        else f"HHI between {_get(c, 'hhi_low') or 0:,.0f} and {_get(c, 'hhi_high') or 0:,.0f}"
    )
    return bar_chart(
        bars,
        title=f"{title}: shares",
        desc=f"{figure}. The {len(bars)} largest shares, in percent; the table beside lists them.",
    )
