"""Across the chain and over time: mine-to-refinery flows by country, and published HHI
per year.

- `mine_to_refinery`: the registry's mine-to-processor links (SourceLink) grouped by the
  mine's country and the country of the facility that refines the ore (the facility's
  country, else its company's, as the flow views and the trace take a supplier's), in one
  aggregate query. Recycled black mass is not mining: it is kept apart, never drawn as a
  mine's country. Each flow says whether it rests on demo records.
- `hhi_series`: published production's HHI per recorded year, one line per stage and
  product (published.production_series, one query each).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

from django.db.models import BooleanField, Case, F, IntegerField, Max, Q, Sum, Value, When
from django.db.models.functions import Coalesce, NullIf
from django_countries import countries

from ..models import MinedSource, ProductionStatistic, Rule, SourceLink, SupplyRelationship
from .flows import flow_concentrations_payload
from .hhi import Concentration, ConcentrationInputError, hhi_rule
from .published import production_series

ILLUSTRATIVE = "illustrative (demo data)"


@dataclass
class ChainFlow:
    origin: str  # the mine's country (ISO code)
    origin_label: str
    destination: str  # the refining facility's country (ISO code)
    destination_label: str
    tonnes: float
    share_pct: float  # of all the mineral's mined tonnes shown
    demo: bool  # rests on at least one demo mine or facility


@dataclass
class MineToRefinery:
    mineral: str
    flows: list[ChainFlow]
    total: float
    recycled: list[ChainFlow] = field(default_factory=list)  # black mass, apart from mining
    recycled_total: float = 0.0
    demo: bool = False  # any flow shown rests on demo records
    label: str = ""  # ILLUSTRATIVE when demo, else empty
    as_of: dt.date | None = None
    note: str = (
        "From the registry's mine-to-processor links (tonnes of contained metal): the mine's "
        "country to the country of the facility that takes its output. Recycled black mass "
        "is not mining and is shown apart."
    )


def _name(code: str) -> str:
    return countries.name(code) or code or "Unknown"


def mine_to_refinery(*, mineral: str, as_of: dt.date | None = None) -> MineToRefinery:
    """Mined tonnes of `mineral` from each mining country to each refining country."""
    links = SourceLink.objects.filter(mineral__code=mineral)
    if as_of is not None:
        links = links.filter(
            (Q(period_start__isnull=True) | Q(period_start__lte=as_of))
            & (Q(period_end__isnull=True) | Q(period_end__gte=as_of))
        )
    rows = (
        links.annotate(
            origin=F("mine__country"),
            destination=Coalesce(
                NullIf("facility__country", Value("")), "facility__company__country"
            ),
            recycled=Case(
                When(mine__method=MinedSource.Method.BLACK_MASS, then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            ),
            from_demo=Case(
                When(Q(mine__demo=True) | Q(facility__demo=True), then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            ),
        )
        .values("origin", "destination", "recycled")
        .annotate(tonnes=Sum("volume_t"), demo=Max("from_demo"))
        .order_by()
    )
    mined: list[ChainFlow] = []
    recycled: list[ChainFlow] = []
    for row in rows:
        flow = ChainFlow(
            row["origin"],
            _name(row["origin"]),
            row["destination"],
            _name(row["destination"]),
            float(row["tonnes"] or 0),
            0.0,
            bool(row["demo"]),
        )
        (recycled if row["recycled"] else mined).append(flow)
    result = MineToRefinery(mineral, [], 0.0, as_of=as_of)
    for flows, kind in ((mined, "flows"), (recycled, "recycled")):
        total = sum(f.tonnes for f in flows)
        for f in flows:
            f.share_pct = round(100 * f.tonnes / total, 2) if total else 0.0
        flows.sort(key=lambda f: (-f.tonnes, f.origin, f.destination))
        setattr(result, kind, flows)
        setattr(result, "total" if kind == "flows" else "recycled_total", round(total, 3))
    result.demo = any(f.demo for f in mined + recycled)
    result.label = ILLUSTRATIVE if result.demo else ""
    return result


def mine_to_refinery_payload(params: dict, requester=None) -> tuple[dict, list]:
    """The mine-to-refinery flows as a kept result (registry.kept, kind
    "mine_to_refinery"): one aggregate over every mine link of the mineral, which grows
    with the registry (0.12 s at 50,000 companies). Not private: the requester does not
    matter."""
    as_of = dt.date.fromisoformat(params["as_of"]) if params.get("as_of") else None
    return asdict(mine_to_refinery(mineral=params["mineral"], as_of=as_of)), []


def concentration_page_payload(params: dict, requester=None) -> tuple[dict, list]:
    """The concentration page's kept result (registry.kept, kind "concentration"): the
    flow views and the mine-to-refinery flows, both grouping every flow of the mineral,
    in one result and one job. Flows are not private: the requester does not matter."""
    summary, rows = flow_concentrations_payload(params, requester)
    chain = mine_to_refinery(mineral=params["mineral"])
    summary["mine_to_refinery"] = asdict(chain)
    # Whether the flow views rest on demo records: the mining views read the mine links
    # (the chain's flag), the other stages the relationships.
    summary["flows_demo"] = (
        chain.demo
        or SupplyRelationship.objects.filter(mineral__code=params["mineral"], demo=True).exists()
    )
    return summary, rows


@dataclass
class Series:
    stage: str
    product: str
    unit: str
    source: str
    points: list[tuple[int, Concentration]]


def hhi_series(
    *,
    mineral: str,
    stage: str | None = None,
    product: str | None = None,
    rule: Rule | None = None,
    **convention,
) -> list[Series]:
    """Published HHI per year for every stage and product of `mineral` (or one of
    them): one query for the stages and products, then one per line."""
    rule = rule or hhi_rule()
    stats = ProductionStatistic.objects.filter(mineral__code=mineral)
    if stage:
        stats = stats.filter(stage=stage)
    if product:
        stats = stats.filter(product=product)
    lines = list(stats.values_list("stage", "product").distinct().order_by("stage", "product"))
    if (stage or product) and not lines:
        named = "product" if product else "stage"
        raise ConcentrationInputError(
            f"No published production of {mineral} for {named} {product or stage}", field=named
        )
    series = []
    for line_stage, product in lines:
        points = production_series(
            mineral=mineral, stage=line_stage, product=product, rule=rule, **convention
        )
        if points:
            last = points[-1][1]
            series.append(Series(line_stage, product, last.unit, last.source, points))
    return series
