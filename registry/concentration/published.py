"""Concentration of published production statistics (USGS and others)."""

from __future__ import annotations

from ..models import ProductionStatistic, Rule
from .hhi import Concentration, ConcentrationInputError, concentration_of, hhi_rule

UNLISTED = {
    "other": "Unlisted producers ('Other countries', or the world total less the listed "
    "countries) count as one producer.",
    "excluded": "Unlisted producers are left out; shares are of the listed countries' total.",
}


def production_concentration(
    *,
    mineral: str,
    stage: str,
    year: int,
    product: str | None = None,
    unlisted: str = "other",
    rule: Rule | None = None,
) -> Concentration:
    rule = rule or hhi_rule()
    if unlisted not in UNLISTED:
        raise ConcentrationInputError(f"unlisted must be one of {', '.join(UNLISTED)}")
    rows = list(ProductionStatistic.objects.filter(mineral__code=mineral, stage=stage, year=year))
    products = sorted({r.product for r in rows})
    if product:
        rows = [r for r in rows if r.product == product]
    elif len(products) > 1:
        raise ConcentrationInputError(
            f"{mineral} {stage} has several products ({', '.join(products)}); name one"
        )
    if not rows:
        raise ConcentrationInputError(f"No production statistics for {mineral} {stage} {year}")
    listed = {
        r.country.code: float(r.quantity)
        for r in rows
        if r.kind == "country" and r.quantity is not None
    }
    labels = {r.country.code: r.country.name for r in rows if r.kind == "country"}
    other_rows = [float(r.quantity) for r in rows if r.kind == "other" and r.quantity]
    world = next((float(r.quantity) for r in rows if r.kind == "world" and r.quantity), None)
    other = other_rows[0] if other_rows else max((world or 0) - sum(listed.values()), 0)
    amounts = dict(listed)
    if unlisted == "other" and other > 0:
        amounts["other"] = other
        labels["other"] = "Other (unlisted producers, one unit)"
    withheld = [r.label for r in rows if r.kind == "withheld"]
    note = UNLISTED[unlisted]
    if withheld:
        note += f" Withheld and not counted: {', '.join(withheld)}."
    unit = rows[0].unit
    result = concentration_of(amounts, labels, rule, note)
    result.note += f" Unit: {unit}. Source: {rows[0].source}"
    return result
