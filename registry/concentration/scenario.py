"""What-if on published refining statistics: a new dual-feedstock plant (seed 000) as a
new producer of one mineral and year, and the concentration before and after under the
same convention as the concentration page (published.production_concentration)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from decimal import Decimal

from config.errors import InvalidInput

from ..models import Company, ProductionStatistic, Rule
from . import published
from .hhi import Concentration, ConcentrationInputError, hhi_rule


class RefiningScenarioError(InvalidInput):
    pass


@dataclass
class Plant:
    name: str
    country: str
    virgin_t: float
    recycled_t: float

    @property
    def output_t(self) -> float:
        """Refined output at capacity: one tonne out per tonne of feed (stated)."""
        return self.virgin_t + self.recycled_t


@dataclass
class RefiningScenario:
    mineral: str
    year: int
    product: str
    unit: str
    convention: dict
    by_country: dict[str, Concentration]  # "before", "after"
    by_company: dict[str, Concentration] | None  # None: no company rows that year
    by_company_note: str
    world_t: dict[str, float]
    recycled: dict
    largest_country: dict  # the largest single country's share, against the CRMA cap
    changes: list[str] = field(default_factory=list)
    note: str = ""


NOTE = (
    "Each plant's refined output is its virgin and recycled feed at full capacity (one "
    "tonne out per tonne in), in the statistics' unit, added to its country, as a new "
    "company, and to the world total."
)


def _plants(specs) -> list[Plant]:
    if not specs:
        raise RefiningScenarioError("Add at least one plant.", field="plants")
    plants = []
    for spec in specs:
        virgin, recycled = float(spec.get("virgin_t") or 0), float(spec.get("recycled_t") or 0)
        if virgin < 0 or recycled < 0 or virgin + recycled <= 0:
            raise RefiningScenarioError(
                "A plant needs virgin_t and recycled_t >= 0, not both 0.", field="plants"
            )
        plants.append(Plant(spec["name"], spec["country"], virgin, recycled))
    return plants


def _with_plants(rows: list, plants: list[Plant]) -> list:
    """The rows as if the plants were in them (unsaved copies; nothing is written). The
    world total grows with them; an "Other countries" row stays what it was."""
    added = Decimal(str(sum(p.output_t for p in plants)))
    out = []
    for row in rows:
        if row.kind == ProductionStatistic.Kind.WORLD and row.quantity is not None:
            row = copy.copy(row)
            row.quantity = row.quantity + added
        out.append(row)
    template = rows[0]
    for i, plant in enumerate(plants, start=1):
        quantity = Decimal(str(plant.output_t))
        common = {
            "mineral_id": template.mineral_id,
            "product": template.product,
            "stage": template.stage,
            "year": template.year,
            "unit": template.unit,
            "source": "what-if (hypothetical)",
            "quantity": quantity,
            "country": plant.country,
        }
        out.append(ProductionStatistic(kind="country", label=plant.name, **common))
        # Negative ids: never a recorded company's.
        company = Company(pk=-i, legal_name=plant.name, country=plant.country)
        out.append(ProductionStatistic(kind="country", label=plant.name, company=company, **common))
    return out


def _largest(result: Concentration) -> dict:
    named = [s for s in result.shares if s.key != "other"]
    top = max(named, key=lambda s: s.share_pct, default=None)
    return {"country": top.key if top else "", "share_pct": top.share_pct if top else 0.0}


def refining_what_if(
    *,
    mineral: str,
    year: int,
    plants: list[dict],
    product: str | None = None,
    denominator: str = "world",
    fringe: str = "one_unit",
    rule: Rule | None = None,
) -> RefiningScenario:
    """Refining concentration by country and by company before and after adding the
    plants to one year's published statistics, and the recycled share they bring."""
    rule = rule or hhi_rule()
    new = _plants(plants)
    rows = list(
        ProductionStatistic.objects.filter(
            mineral__code=mineral, stage=ProductionStatistic.Stage.REFINING, year=year
        ).select_related("company")
    )
    rows = published.one_product(rows, mineral, "refining", product)
    if not rows:
        raise RefiningScenarioError(
            f"No published refining statistics for {mineral} {year}.", field="year"
        )
    after_rows = _with_plants(rows, new)

    def both(**conv) -> dict[str, Concentration]:
        convention = published.convention_of(
            conv.get("by", "country"), denominator, fringe, conv.get("company_country"), None
        )
        return {
            "before": published.concentration_from_rows(rows, convention, rule),
            "after": published.concentration_from_rows(after_rows, convention, rule),
        }

    by_country = both()
    by_company, company_note = None, ""
    if any(r.company_id for r in rows):
        by_company = both(by="company")
    else:
        company_note = (
            f"No company refining statistics recorded for {mineral} {year}: company HHI not "
            "given (import company rows through the bulk production table)."
        )
    world = {k: c.total for k, c in by_country.items()}
    recycled_t = sum(p.recycled_t for p in new)
    recycled = {
        "before_pct": None,
        "after_pct_at_least": round(100 * recycled_t / world["after"], 4) if world["after"] else 0,
        "note": "Published refining statistics do not say how much output comes from "
        "recycled feed: before is unknown; after counts the plants' recycled feed only.",
    }
    cap = Rule.objects.filter(kind=Rule.Kind.SINGLE_COUNTRY_CAP).order_by("code").first()
    largest: dict = {k: _largest(c) for k, c in by_country.items()}
    if cap:
        largest["cap_pct"] = float(cap.params["max_share_pct"])
        largest["rule"] = cap.code
        largest["note"] = (
            "World refining shares as a proxy: the CRMA benchmark is about the Union's "
            "consumption, not world production."
        )
    changes = [
        f"new dual-feedstock plant {p.name} ({p.country}): {p.virgin_t:g} t virgin, "
        f"{p.recycled_t:g} t recycled feed"
        for p in new
    ]
    return RefiningScenario(
        mineral=mineral,
        year=year,
        product=rows[0].product,
        unit=rows[0].unit,
        convention=by_country["before"].convention,
        by_country=by_country,
        by_company=by_company,
        by_company_note=company_note,
        world_t=world,
        recycled=recycled,
        largest_country=largest,
        changes=changes,
        note=NOTE,
    )


__all__ = ["ConcentrationInputError", "RefiningScenario", "refining_what_if"]
