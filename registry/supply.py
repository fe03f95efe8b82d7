"""A buyer's supply chain: trace, rule checks and what-if, as one requester sees it."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from itertools import count

from django.db.models.expressions import RawSQL

from config.errors import InvalidInput
from taxonomy.models import Mineral

from . import kept
from .concentration import (
    CompanyInfo,
    Edge,
    FlowMass,
    Graph,
    Link,
    MineInfo,
    Trace,
    hhi_rule,
    load_graph,
    trace,
    upstream_sql,
)
from .coverage import coverage_map
from .models import Company, MinedSource, Rule
from .querysets import Requester


@dataclass
class RuleResult:
    rule: str
    name: str
    status: str  # pass | fail | info | not_applicable | historical
    value: float | None
    threshold: float | None
    detail: str
    source: str
    flows: list[FlowMass] = field(default_factory=list)


def _rule(kind: str, code: str | None = None) -> Rule | None:
    rules = Rule.objects.filter(kind=kind)
    return (rules.filter(code=code) if code else rules.order_by("code")).first()


def check_crma(result: Trace, rule: Rule) -> list[RuleResult]:
    params = rule.params
    cap, exempt = float(params["max_share_pct"]), set(params["exempt_countries"])
    out = []
    for stage in params["stages"]:
        masses = result.stage_country_mass.get(stage, {})
        total = sum(masses.values())
        if not total:
            out.append(
                RuleResult(
                    rule.code,
                    f"{rule.name} ({stage})",
                    "not_applicable",
                    None,
                    cap,
                    f"No traced flows at the {stage} stage.",
                    rule.source,
                )
            )
            continue
        third = {c: 100 * v / total for c, v in masses.items() if c not in exempt}
        country, share = max(third.items(), key=lambda kv: kv[1], default=("", 0.0))
        status = "fail" if share > cap else "pass"
        detail = (
            f"Largest third-country share at the {stage} stage: {country or 'none'} "
            f"{share:.2f}% (cap {cap:g}%)."
        )
        flows = [f for f in result.stage_flows.get(stage, []) if f.country == country]
        out.append(
            RuleResult(
                rule.code,
                f"{rule.name} ({stage})",
                status,
                round(share, 4),
                cap,
                detail,
                rule.source,
                flows,
            )
        )
    return out


def check_concern(result: Trace, rule: Rule) -> RuleResult:
    value = result.predicate_pct.get("concern", 0.0)
    cap = rule.params.get("max_share_pct")
    status = "info" if cap is None else ("fail" if value > float(cap) else "pass")
    countries = ", ".join(rule.params.get("countries", []))
    detail = (
        f"{value:.2f}% of the supply passes through a country of concern ({countries}) "
        "or an entity of concern (state-owned by one at or above the threshold, or listed)."
    )
    return RuleResult(
        rule.code,
        rule.name,
        status,
        value,
        cap,
        detail,
        rule.source,
        result.predicate_flows.get("concern", []),
    )


def ira_applicable_pct(rule: Rule, year: int) -> float | None:
    table = {int(k): float(v) for k, v in rule.params["applicable_pct"].items()}
    if year < min(table):
        return None
    return table.get(year, table[max(table)] if year > max(table) else None)


def check_ira(result: Trace, rule: Rule, on: dt.date) -> RuleResult:
    value = result.predicate_pct.get("ira_qualifying", 0.0)
    required = ira_applicable_pct(rule, on.year)
    ended = dt.date.fromisoformat(rule.params["credit_ended_after"])
    starts = rule.params.get("requirement_from")

    def not_applicable(why: str) -> RuleResult:
        return RuleResult(rule.code, rule.name, "not_applicable", value, None, why, rule.source)

    if starts and on < dt.date.fromisoformat(starts):
        return not_applicable(f"The critical-mineral requirement applies from {starts}.")
    if required is None:
        return not_applicable(f"No critical-mineral requirement for {on.year}.")
    meets = value >= required
    if on > ended:
        status = "historical"
        detail = (
            f"The §30D credit ended for vehicles acquired after {ended:%d %b %Y}; shown for "
            f"reference: {value:.2f}% qualifying against the {on.year} figure of "
            f"{required:g}% ({'would meet' if meets else 'would not meet'} it)."
        )
    else:
        status = "pass" if meets else "fail"
        detail = f"{value:.2f}% qualifying against {required:g}% required for {on.year}."
    return RuleResult(
        rule.code,
        rule.name,
        status,
        value,
        required,
        detail,
        rule.source,
        result.predicate_flows.get("ira_qualifying", []),
    )


@dataclass
class SupplyChain:
    trace: Trace
    rules: list[RuleResult]
    as_of: dt.date | None
    checked_on: dt.date
    cells: list[str]
    thresholds: str
    queries_note: str = ""


def lacking_companies(
    graph: Graph, suppliers: list, cells: list[str], requester: Requester, on: dt.date
) -> dict[str, set]:
    """For each cell, the suppliers without coverage of it for the graph's mineral at the
    stages they supply at (registry.coverage), as the requester sees."""
    if not cells:
        return {}
    stages: dict = defaultdict(set)
    for edge in graph.edges:
        stages[edge.supplier].add(edge.stage)
    # The graph's companies as a subquery (no id list sent back), else the known ids.
    companies = (
        Company.objects.filter(pk__in=graph.upstream).values("pk")
        if graph.upstream is not None
        else [i for i in suppliers if isinstance(i, int)]
    )
    coverage = coverage_map(
        companies,
        requester=requester,
        on=on,
        mineral=graph.mineral,
    )
    covered = {c: coverage.cells(c, stages[c] or [None]) for c in suppliers}
    return {cell: {c for c in suppliers if cell not in covered[c]} for cell in cells}


def _evaluate(
    graph: Graph, *, requester: Requester, cells: list[str], on: dt.date, thresholds: str | None
) -> tuple[Trace, list[RuleResult]]:
    nodes = sorted({graph.buyer, *(e.supplier for e in graph.edges)}, key=str)
    suppliers = [n for n in nodes if n != graph.buyer]
    concern, ira, crma = _rule("concern"), _rule("ira_30d"), _rule("single_country_cap")
    result = trace(
        graph,
        lacking=lacking_companies(graph, suppliers, cells, requester, on),
        concern=concern,
        ira=ira,
        rule=hhi_rule(thresholds),
    )
    rules: list[RuleResult] = []
    if crma:
        rules += check_crma(result, crma)
    if concern:
        rules.append(check_concern(result, concern))
    if ira:
        rules.append(check_ira(result, ira, on))
    return result, rules


def supply_chain(
    buyer: Company,
    mineral: Mineral,
    *,
    requester: Requester,
    as_of: dt.date | None = None,
    cells: Sequence[str] = (),
    thresholds: str | None = None,
    checked_on: dt.date | None = None,
    first_tier: set[int] | None = None,
) -> SupplyChain:
    """`first_tier`: keep only these relationships into the buyer (the suppliers of one
    battery model, say); everything upstream of them is followed as usual."""
    on = checked_on or as_of or dt.date.today()
    graph = load_graph(buyer, mineral, as_of)
    if first_tier is not None:
        graph.edges = [e for e in graph.edges if e.buyer != buyer.pk or e.id in first_tier]
    result, rules = _evaluate(
        graph, requester=requester, cells=list(cells), on=on, thresholds=thresholds
    )
    return SupplyChain(result, rules, as_of, on, list(cells), hhi_rule(thresholds).code)


# --- What-if ------------------------------------------------------------------


class ScenarioError(InvalidInput):
    pass


@dataclass
class WhatIf:
    baseline: SupplyChain
    scenario: SupplyChain
    changes: list[str]


def what_if(
    buyer: Company,
    mineral: Mineral,
    *,
    requester: Requester,
    new_companies: Sequence[dict] = (),
    add: Sequence[dict] = (),
    remove: Sequence[int] = (),
    add_sources: Sequence[dict] = (),
    as_of: dt.date | None = None,
    cells: Sequence[str] = (),
    thresholds: str | None = None,
    checked_on: dt.date | None = None,
) -> WhatIf:
    """Add, remove or swap suppliers and sources and see the effect; nothing is saved.

    `new_companies`: [{key, legal_name, country}] hypothetical companies (e.g. a regional
    dual-feedstock refinery), referred to by their key in `add` and `add_sources`.
    `add`: [{supplier, buyer, stage, material, volume_t | share_pct, country?}] where
    supplier/buyer are company ids or new keys. `remove`: relationship ids.
    `add_sources`: [{mine, company, volume_t}] mine id into a company (id or key)."""
    baseline = supply_chain(
        buyer,
        mineral,
        requester=requester,
        as_of=as_of,
        cells=cells,
        thresholds=thresholds,
        checked_on=checked_on,
    )
    keys = {c["key"]: f"new:{c['key']}" for c in new_companies}
    if len(keys) != len(new_companies):
        raise ScenarioError("Each new company needs a distinct key.")

    def node(ref):
        if isinstance(ref, str) and ref in keys:
            return keys[ref]
        if isinstance(ref, int) or (isinstance(ref, str) and re.fullmatch(r"[0-9]{1,15}", ref)):
            return int(ref)
        raise ScenarioError(f"Unknown company {ref!r}: use a company id or a new company's key.")

    named = {node(a["supplier"]) for a in add} | {node(a["buyer"]) for a in add}
    existing = sorted(i for i in named if isinstance(i, int))
    found = set(Company.objects.filter(pk__in=existing).values_list("pk", flat=True))
    if set(existing) - found:
        raise ScenarioError(f"Unknown company ids: {sorted(set(existing) - found)}")
    graph = load_graph(buyer, mineral, as_of, extra_seeds=existing)
    changes = []
    for c in new_companies:
        graph.companies[keys[c["key"]]] = CompanyInfo(c["legal_name"], c["country"], "", None)
        changes.append(f"new company {c['legal_name']} ({c['country']})")
    known_ids = {e.id for e in graph.edges}
    missing = [r for r in remove if r not in known_ids]
    if missing:
        raise ScenarioError(f"Relationships not in this buyer's {mineral.code} graph: {missing}")
    graph.edges = [e for e in graph.edges if e.id not in set(remove)]
    changes += [f"removed relationship {r}" for r in remove]
    seq = count(1)
    for spec in add:
        supplier, target = node(spec["supplier"]), node(spec["buyer"])
        if supplier == target:
            raise ScenarioError("A company cannot supply itself.")
        volume, share = spec.get("volume_t"), spec.get("share_pct")
        if (volume is None) == (share is None):
            raise ScenarioError("Give each added relationship volume_t or share_pct.")
        if (volume is not None and volume < 0) or (share is not None and not 0 <= share <= 100):
            raise ScenarioError("Volumes must be >= 0 and shares within 0-100%.")
        info = graph.companies.get(supplier)
        country = spec.get("country") or (info.country if info else "")
        graph.edges.append(
            Edge(
                f"what-if:{next(seq)}",
                supplier,
                target,
                float(volume) if volume is not None else None,
                float(share) if share is not None else None,
                spec["stage"],
                spec.get("material", "refined_chemical"),
                country,
                hypothetical=True,
            )
        )
        changes.append(f"added {spec['stage']} supply {spec['supplier']} → {spec['buyer']}")
    mine_ids = [s["mine"] for s in add_sources]
    mines = {
        m.pk: m for m in MinedSource.objects.filter(pk__in=mine_ids).select_related("operator")
    }
    for spec in add_sources:
        mine = mines.get(spec["mine"])
        if mine is None:
            raise ScenarioError(f"Unknown mine {spec['mine']!r}.")

        graph.mines.setdefault(
            mine.pk,
            MineInfo(
                mine.name,
                mine.country.code,
                mine.method,
                mine.cahra,
                mine.operator_id,
                mine.operator.legal_name if mine.operator else "",
            ),
        )
        graph.links.append(
            Link(
                f"what-if-source:{next(seq)}",
                mine.pk,
                node(spec["company"]),
                float(spec["volume_t"]),
                hypothetical=True,
            )
        )
        changes.append(f"added source {mine.name} → {spec['company']}")
    on = checked_on or as_of or dt.date.today()
    result, rules = _evaluate(
        graph, requester=requester, cells=list(cells), on=on, thresholds=thresholds
    )
    scenario = SupplyChain(result, rules, as_of, on, list(cells), baseline.thresholds)
    return WhatIf(baseline, scenario, changes)


# --- The trace as a kept result (registry.kept) ---------------------------------

RULE_FLOWS_SHOWN = 20  # each rule result names its largest flows; `flow_count` says how many
SHARES_SHOWN = 100  # each concentration lists its largest shares; `share_count` all of them
TRACE_FIELDS = (
    "buyer",
    "buyer_name",
    "mineral",
    "recycled_pct",
    "cahra_pct",
    "artisanal_pct",
    "untraced_pct",
    "lacking_coverage_pct",
    "tiers",
    "edge_count",
    "anomalies",
)
CONCENTRATIONS = (
    "mine_country",
    "processing_country",
    "processing_company",
    "mining_company_operator",
    "mining_company_equity",
)


def _concentration(value) -> dict:
    out = asdict(value)
    out["share_count"] = len(out["shares"])
    out["shares"] = out["shares"][:SHARES_SHOWN]
    return out


def summary_of(chain: SupplyChain) -> tuple[dict, list[dict]]:
    """The trace's summary (shares, HHI, rule results, counts) and its flows, largest
    first: the summary is small whatever the graph; the flows are served a page at a
    time. Shares and each rule's flows are cut to the largest (with their counts)."""
    t = chain.trace
    trace = {name: getattr(t, name) for name in TRACE_FIELDS}
    trace["buyer"] = str(t.buyer)  # ids as the API has always written them: strings
    trace.update({name: _concentration(getattr(t, name)) for name in CONCENTRATIONS})
    trace["cycles"] = [{"path": [str(n) for n in c.path], "names": list(c.names)} for c in t.cycles]
    trace["flow_count"] = len(t.flows)
    rules = []
    for rule in chain.rules:
        out = asdict(rule)
        out["flow_count"] = len(rule.flows)
        out["flows"] = [_flow(f) for f in rule.flows[:RULE_FLOWS_SHOWN]]
        rules.append(out)
    summary = {
        "trace": trace,
        "rules": rules,
        "as_of": chain.as_of,
        "checked_on": chain.checked_on,
        "cells": chain.cells,
        "thresholds": chain.thresholds,
    }
    return summary, [_flow(f) for f in t.flows]


def _flow(flow: FlowMass) -> dict:
    return {**asdict(flow), "id": str(flow.id)}


def upstream_count(buyer: Company, mineral: Mineral, as_of: dt.date | None) -> int:
    """How many companies the trace walks (the buyer and its upstream): one query."""
    sql, params = upstream_sql([buyer.pk], mineral.pk, as_of)
    return Company.objects.filter(pk__in=RawSQL(sql, params)).count()


def supply_chain_payload(params: dict, requester: Requester) -> tuple[dict, list[dict]]:
    """`supply_chain` from a kept result's parameters (registry.kept)."""
    day = dt.date.fromisoformat
    buyer = Company.objects.get(pk=params["buyer"])
    mineral = Mineral.objects.get(code=params["mineral"])
    chain = supply_chain(
        buyer,
        mineral,
        requester=requester,
        as_of=day(params["as_of"]) if params["as_of"] else None,
        cells=params["cells"],
        thresholds=params["thresholds"],
        checked_on=day(params["checked_on"]),
    )
    return summary_of(chain)


def supply_chain_served(
    buyer: Company,
    mineral: Mineral,
    *,
    requester: Requester,
    as_of: dt.date | None = None,
    cells: Sequence[str] = (),
    thresholds: str | None = None,
    checked_on: dt.date | None = None,
    flows: slice = slice(0, 50),
) -> kept.Served:
    """The trace's summary and one page of its flows: inline for a small graph, from a
    kept result for a large one (registry.kept; `kept.NotReady` while it is computed)."""
    query = {
        "buyer": buyer.pk,
        "mineral": mineral.code,
        "as_of": as_of,
        "cells": sorted(set(cells)),
        "thresholds": thresholds or hhi_rule().code,
        "checked_on": checked_on or as_of or dt.date.today(),
    }
    return kept.serve(
        "supply_chain",
        query,
        requester,
        population=lambda: upstream_count(buyer, mineral, as_of),
        rows=flows,
    )
