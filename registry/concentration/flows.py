"""Concentration of the registry's own recorded flows at one stage."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict

from django.db.models import Q, Sum, Value
from django.db.models.functions import Coalesce, NullIf

from ..models import MinedSource, MineOwnership, Rule, SourceLink, SupplyRelationship
from .hhi import (
    Concentration,
    ConcentrationInputError,
    _country_labels,
    concentration_of,
    hhi_rule,
)


def flow_concentration(
    *,
    mineral: str,
    stage: str,
    by: str = "country",
    attribution: str = "operator",
    as_of: dt.date | None = None,
    rule: Rule | None = None,
) -> Concentration:
    """Concentration of the registry's recorded flows at one stage.

    Mining: mine-to-processor volumes, attributed to the mine's country, or to
    companies by operator or by the owners' equity shares. Other stages: volumes
    shipped by suppliers at that stage, attributed to the supplier (facility) country
    or company."""
    rule = rule or hhi_rule()
    amounts: dict[str, float] = defaultdict(float)
    labels: dict[str, str] = {}
    black_mass = 0.0
    if stage == "mining":
        links = _in_period(SourceLink.objects.filter(mineral__code=mineral), as_of)
        # Recycled black mass is an "urban mine" in the model, but never mine production.
        recycled = links.filter(mine__method=MinedSource.Method.BLACK_MASS)
        black_mass = float(recycled.aggregate(v=Sum("volume_t"))["v"] or 0)
        links = links.exclude(mine__method=MinedSource.Method.BLACK_MASS)
        if by == "country":
            for code, total in links.values_list("mine__country").annotate(v=Sum("volume_t")):
                amounts[code] += float(total)
            labels = _country_labels(amounts)
        elif attribution == "operator":
            rows = links.values_list("mine__operator_id", "mine__operator__legal_name").annotate(
                v=Sum("volume_t")
            )
            for company_id, name, total in rows:
                key = str(company_id) if company_id else "unknown"
                amounts[key] += float(total)
                labels[key] = name or "Unknown operator"
        elif attribution == "equity":
            per_mine = dict(links.values_list("mine_id").annotate(v=Sum("volume_t")))
            owned: dict[int, float] = defaultdict(float)
            owners = MineOwnership.objects.filter(mine_id__in=per_mine).values_list(
                "mine_id", "company_id", "company__legal_name", "share_pct"
            )
            for mine_id, company_id, name, share in owners:
                amounts[str(company_id)] += float(per_mine[mine_id]) * float(share) / 100
                labels[str(company_id)] = name
                owned[mine_id] += float(share)
            unattributed = sum(float(v) * (1 - owned[m] / 100) for m, v in per_mine.items())
            if unattributed > 1e-9:
                amounts["unattributed"] = unattributed
                labels["unattributed"] = "Unattributed equity (owners not recorded)"
        else:
            raise ConcentrationInputError("attribution must be operator or equity")
    else:
        edges = _in_period(
            SupplyRelationship.objects.filter(
                mineral__code=mineral, stage__code=f"application.{stage}", volume_t__isnull=False
            ),
            as_of,
        )
        if by == "country":
            rows = (
                edges.annotate(
                    where=Coalesce(
                        NullIf("supplier_facility__country", models_empty()), "supplier__country"
                    )
                )
                .values_list("where")
                .annotate(v=Sum("volume_t"))
            )
            for code, total in rows:
                amounts[code] += float(total)
            labels = _country_labels(amounts)
        else:
            rows = edges.values_list("supplier_id", "supplier__legal_name").annotate(
                v=Sum("volume_t")
            )
            for company_id, name, total in rows:
                amounts[str(company_id)] += float(total)
                labels[str(company_id)] = name
    note = (
        "From the registry's recorded flows (tonnes of contained metal); shares of the "
        "recorded total."
    )
    convention = {"by": by, "denominator": "recorded", "fringe": "excluded"}
    if stage == "mining" and by == "company":
        note += f" Companies by {attribution}."
        convention["attribution"] = attribution
    if black_mass:
        note += f" Recycled black mass ({black_mass:g} t) is recycling, not mining: left out."
    result = concentration_of(dict(amounts), labels, rule, note)
    result.convention = convention
    result.source = "registry flows"
    result.unit = "t contained metal"
    return result


# The concentration page's views of the registry's flows: (stage, by, attribution).
FLOW_VIEWS = (
    ("mining", "country", "operator"),
    ("mining", "company", "operator"),
    ("mining", "company", "equity"),
    ("refining", "country", "operator"),
    ("refining", "company", "operator"),
)
FLOW_SHARES_KEPT = 12  # the page lists the largest shares; `share_count` counts them all


def flow_concentrations_payload(params: dict, requester=None) -> tuple[dict, list]:
    """Every flow view of one mineral for the concentration page, for a kept result
    (registry.kept, kind "concentration"): each groups all the mineral's flows, so the
    page serves them from there. Flows are not private: the requester does not matter."""
    rule = hhi_rule(params.get("rule"))
    flows = []
    for stage, by, attribution in FLOW_VIEWS:
        result = flow_concentration(
            mineral=params["mineral"], stage=stage, by=by, attribution=attribution, rule=rule
        )
        if result.shares:
            kept = asdict(result)
            kept["share_count"] = len(result.shares)
            kept["shares"] = kept["shares"][:FLOW_SHARES_KEPT]
            flows.append({"stage": stage, "by": by, "attribution": attribution, "c": kept})
    return {"flows": flows}, []


def models_empty():

    return Value("")


def _in_period(queryset, as_of: dt.date | None):
    if as_of is None:
        return queryset

    return queryset.filter(
        (Q(period_start__isnull=True) | Q(period_start__lte=as_of))
        & (Q(period_end__isnull=True) | Q(period_end__gte=as_of))
    )
