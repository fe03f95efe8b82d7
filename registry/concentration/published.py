"""Concentration of published production statistics (USGS, IEA, Cobalt Institute,
company tables), with its convention stated.

Conventions (each answer carries them in `convention`):
- `by`: country (the published country rows; or, with `company_country`, the company
  rows summed by the site's or the head office's country) or company;
- `denominator`: `world` (shares of the world total) or `listed` (shares of the listed
  producers' sum, the rescaled named-only HHI);
- `fringe`: the producers the source does not list (world total less the listed rows, or
  its "Other countries" row): `one_unit` counts them as one producer, `excluded` leaves
  them out (with denominator=world: the published named-only HHI, shares of the world),
  `bounds` answers `hhi_low` (fringe spread into vanishingly small producers) and
  `hhi_high` (fringe as one producer) and no single figure.

The world total is the published "World total" row; for country rows with an "Other
countries" row, the sum of the listed rows and that row (the source's own sum: its world
total is rounded). Listed rows above the world total leave an empty fringe.
Coverage below settings.CONCENTRATION_MIN_COVERAGE_PCT is answered with bounds only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings

from ..models import ProductionStatistic, Rule
from .hhi import (
    Concentration,
    ConcentrationInputError,
    Share,
    band_for,
    band_for_range,
    hhi,
    hhi_rule,
)

BY = ("country", "company")
DENOMINATORS = ("world", "listed")
FRINGES = ("one_unit", "excluded", "bounds")
COMPANY_COUNTRIES = ("site", "head_office")
# Backward compatibility: the former `unlisted` parameter.
UNLISTED = {
    "other": "Unlisted producers ('Other countries', or the world total less the listed "
    "countries) count as one producer.",
    "excluded": "Unlisted producers are left out; shares are of the listed countries' total.",
}
_UNLISTED_AS = {"other": ("world", "one_unit"), "excluded": ("listed", "excluded")}

# Why 80%: with coverage c the bounds lie (1 - c)^2 x 10,000 apart; at 80% that is 400,
# half the narrowest moderate band (DOJ/FTC 2023: 1,000-1,800), so a band read from a
# single figure can be wrong by at most one band edge.
DEFAULT_MIN_COVERAGE_PCT = 80.0


def min_coverage_pct() -> float:
    return float(getattr(settings, "CONCENTRATION_MIN_COVERAGE_PCT", DEFAULT_MIN_COVERAGE_PCT))


def _check(name: str, value, allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ConcentrationInputError(f"{name} must be one of {', '.join(allowed)}", field=name)


def convention_of(
    by: str,
    denominator: str,
    fringe: str,
    company_country: str | None,
    unlisted: str | None,
) -> dict:
    if unlisted is not None:
        _check("unlisted", unlisted, UNLISTED)
        denominator, fringe = _UNLISTED_AS[unlisted]
    _check("by", by, BY)
    _check("denominator", denominator, DENOMINATORS)
    _check("fringe", fringe, FRINGES)
    if company_country is not None:
        _check("company_country", company_country, COMPANY_COUNTRIES)
    if denominator == "listed" and fringe != "excluded":
        raise ConcentrationInputError(
            "denominator=listed takes shares of the listed producers only: the fringe is "
            "not part of them, so fringe must be excluded",
            field="fringe",
        )
    convention = {"by": by, "denominator": denominator, "fringe": fringe}
    if by == "company" or company_country:
        convention["company_country"] = company_country or "site"
    return convention


def production_concentration(
    *,
    mineral: str,
    stage: str,
    year: int,
    product: str | None = None,
    by: str = "country",
    denominator: str = "world",
    fringe: str = "one_unit",
    company_country: str | None = None,
    unlisted: str | None = None,
    rule: Rule | None = None,
) -> Concentration:
    """HHI of one year's published production. The defaults (world, one_unit) are the
    former `unlisted="other"`; `unlisted="excluded"` is denominator=listed,
    fringe=excluded."""
    convention = convention_of(by, denominator, fringe, company_country, unlisted)
    rule = rule or hhi_rule()
    rows = list(
        ProductionStatistic.objects.filter(
            mineral__code=mineral, stage=stage, year=year
        ).select_related("company")
    )
    rows = one_product(rows, mineral, stage, product)
    if not rows:
        raise ConcentrationInputError(f"No production statistics for {mineral} {stage} {year}")
    if _needs_companies(convention) and not any(r.company_id for r in rows):
        raise ConcentrationInputError(
            f"No company production recorded for {mineral} {stage} {year}: use by=country "
            "without company_country, or import company rows (intake bulk production table)",
            field="by",
        )
    return concentration_from_rows(rows, convention, rule)


def _needs_companies(convention: dict) -> bool:
    return "company_country" in convention


def production_series(
    *,
    mineral: str,
    stage: str,
    product: str | None = None,
    rule: Rule | None = None,
    **convention,
) -> list[tuple[int, Concentration]]:
    """Every recorded year's concentration, ascending, in one query. `convention`: by,
    denominator, fringe, company_country, unlisted, as production_concentration."""
    unknown = set(convention) - {"by", "denominator", "fringe", "company_country", "unlisted"}
    if unknown:
        raise ConcentrationInputError(f"Unknown parameter {', '.join(sorted(unknown))}")
    conv = convention_of(
        convention.get("by", "country"),
        convention.get("denominator", "world"),
        convention.get("fringe", "one_unit"),
        convention.get("company_country"),
        convention.get("unlisted"),
    )
    rule = rule or hhi_rule()
    rows = list(
        ProductionStatistic.objects.filter(mineral__code=mineral, stage=stage).select_related(
            "company"
        )
    )
    rows = one_product(rows, mineral, stage, product)
    per_year: dict[int, list[ProductionStatistic]] = defaultdict(list)
    for row in rows:
        per_year[row.year].append(row)
    if _needs_companies(conv):  # only the years with company rows
        per_year = {y: r for y, r in per_year.items() if any(x.company_id for x in r)}
    return [
        (year, concentration_from_rows(per_year[year], conv, rule)) for year in sorted(per_year)
    ]


def one_product(rows, mineral: str, stage: str, product: str | None):
    products = sorted({r.product for r in rows})
    if product:
        return [r for r in rows if r.product == product]
    if len(products) > 1:
        raise ConcentrationInputError(
            f"{mineral} {stage} has several products ({', '.join(products)}); name one",
            field="product",
        )
    return rows


def _listed(rows, convention: dict) -> tuple[dict[str, float], dict[str, str], dict[str, str]]:
    """(amounts, labels, countries) of the listed producers under the convention."""
    amounts: dict[str, float] = defaultdict(float)
    labels: dict[str, str] = {}
    where: dict[str, set[str]] = defaultdict(set)
    company_rows = [r for r in rows if r.company_id and r.quantity is not None]
    head_office = convention.get("company_country") == "head_office"
    if convention["by"] == "company":
        for r in company_rows:
            key = str(r.company_id)
            amounts[key] += float(r.quantity)
            labels[key] = r.company.legal_name
            where[key].add(r.company.country.code if head_office else r.country.code)
    elif "company_country" in convention:
        # Country shares from the company rows: the site's or the head office's country.
        for r in company_rows:
            code = r.company.country.code if head_office else r.country.code
            amounts[code] += float(r.quantity)
            labels[code] = (r.company.country if head_office else r.country).name
    else:
        for r in rows:
            if r.kind == "country" and not r.company_id and r.quantity is not None:
                amounts[r.country.code] += float(r.quantity)
                labels[r.country.code] = r.country.name
    countries = {k: ", ".join(sorted(v)) for k, v in where.items()}
    return dict(amounts), labels, countries


def _world(rows, listed_total: float, by_country_rows: bool) -> float | None:
    """The world total (see the module's note), None when the source gives none."""
    country_level = [r for r in rows if not r.company_id and r.quantity is not None]
    published = next((float(r.quantity) for r in country_level if r.kind == "world"), None)
    other = next((float(r.quantity) for r in country_level if r.kind == "other"), None)
    if by_country_rows and other is not None:
        return listed_total + other
    return published


def concentration_from_rows(rows, convention: dict, rule: Rule) -> Concentration:
    amounts, labels, countries = _listed(rows, convention)
    listed_total = sum(amounts.values())
    by_country_rows = convention["by"] == "country" and "company_country" not in convention
    world = _world(rows, listed_total, by_country_rows)
    # Listed rows can exceed a rounded world total (or double count joint ventures): the
    # fringe is then empty, and coverage above 100% is shown as such.
    fringe_amount = max(world - listed_total, 0.0) if world is not None else None
    coverage = round(100 * listed_total / world, 2) if world else None
    low = coverage is None or coverage < min_coverage_pct()

    def shares_of(denominator: float) -> list[Share]:
        return sorted(
            (
                Share(
                    key,
                    labels.get(key, key),
                    round(amount, 3),
                    round(100 * amount / denominator, 4) if denominator else 0.0,
                    countries.get(key, ""),
                )
                for key, amount in amounts.items()
                if amount > 0
            ),
            key=lambda s: (-s.amount, s.key),
        )

    hhi_low: float | None = None
    hhi_high: float | None = None
    value: float | None
    if world and fringe_amount is not None:
        named = [100 * a / world for a in amounts.values()]
        hhi_low = hhi(named)
        hhi_high = hhi([*named, 100 * fringe_amount / world])
    fringe = convention["fringe"]
    if convention["denominator"] == "listed":
        shares = shares_of(listed_total)
        value = hhi(100 * a / listed_total for a in amounts.values()) if listed_total else 0.0
        total = listed_total
    else:
        shares = shares_of(world or listed_total)
        total = world if world is not None else listed_total
        if fringe == "one_unit" and world and fringe_amount:
            shares.append(
                Share(
                    "other",
                    "Other (unlisted producers, one unit)",
                    round(fringe_amount, 3),
                    round(100 * fringe_amount / world, 4),
                )
            )
        value = hhi_high if fringe == "one_unit" else hhi_low
    if fringe == "bounds" or low:
        value = None
    if value is None:
        # Without a world total nothing bounds the fringe: anything from 0 to 10,000.
        low_end = hhi_low if hhi_low is not None else 0.0
        high_end = hhi_high if hhi_high is not None else 10_000.0
        band = band_for_range(low_end, high_end, rule)
    else:
        band = band_for(value, rule)
    first = rows[0]
    unit = first.unit
    sources = sorted({r.source for r in rows if r.source})
    source = " | ".join(sources)
    note = _note(convention, coverage, low, rows)
    note += f" Unit: {unit}. Source: {source}"
    return Concentration(
        shares,
        value,
        band,
        round(total, 3),
        note,
        convention=convention,
        coverage_pct=coverage,
        low_coverage=low,
        hhi_low=hhi_low,
        hhi_high=hhi_high,
        source=source,
        unit=unit,
    )


def _note(convention: dict, coverage: float | None, low: bool, rows) -> str:
    by, denominator, fringe = convention["by"], convention["denominator"], convention["fringe"]
    parts = []
    if denominator == "listed":
        parts.append(UNLISTED["excluded"])
    elif fringe == "one_unit":
        parts.append(UNLISTED["other"])
    elif fringe == "excluded":
        parts.append(
            "Unlisted producers are left out; shares are of the world total (named-only HHI)."
        )
    else:
        parts.append(
            "Bounds: hhi_low spreads the unlisted producers into vanishingly small ones, "
            "hhi_high counts them as one producer."
        )
    if by == "company":
        parts.append(
            f"By company (rows as published); companies' country: {convention['company_country']}."
        )
    elif "company_country" in convention:
        parts.append(f"Countries from the company rows, by {convention['company_country']}.")
    if coverage is None:
        parts.append("No world total recorded: coverage unknown, no single figure given.")
    else:
        parts.append(f"The listed producers cover {coverage:g}% of the world total.")
        if coverage > 100:
            parts.append("They exceed it (rounding, or joint ventures counted twice).")
        if low:
            parts.append(
                f"Below the {min_coverage_pct():g}% coverage threshold: bounds only, "
                "no single figure."
            )
    withheld = [r.label for r in rows if r.kind == "withheld"]
    if withheld:
        parts.append(f"Withheld and not counted: {', '.join(withheld)}.")
    return " ".join(parts)
