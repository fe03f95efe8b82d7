"""A buyer's supply chain: trace, rule checks and what-if, as one requester sees it."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass, field, fields
from functools import partial
from itertools import count

import numpy as np
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
from .concentration.graph import EdgeTable, paused_gc
from .concentration.propagation import LazyFlows
from .concentration.rules import entity_key as rule_entity_key
from .concentration.rules import entity_sets
from .coverage import coverage_map
from .models import Company, MinedSource, Rule
from .querysets import Requester


@dataclass
class RuleResult:
    rule: str
    name: str
    # pass | fail | info | not_applicable | historical (checked after the rule's force
    # ended: shown for reference) | not_in_force (before it began: not checked)
    status: str
    value: float | None
    threshold: float | None
    detail: str
    source: str
    flows: Sequence[FlowMass] = field(default_factory=list)
    in_force_from: dt.date | None = None
    in_force_until: dt.date | None = None


CHECKED_KINDS = (
    Rule.Kind.SINGLE_COUNTRY_CAP,
    Rule.Kind.CONCERN,
    Rule.Kind.IRA_30D,
    Rule.Kind.PFE_MATERIAL_ASSISTANCE,
)


def checked_rules() -> dict[str, list[Rule]]:
    """The rules a trace is checked against, by kind, in code order: one query."""
    rules: dict[str, list[Rule]] = defaultdict(list)
    for rule in Rule.objects.filter(kind__in=CHECKED_KINDS).order_by("code"):
        rules[rule.kind].append(rule)
    return rules


def _span(rule: Rule) -> str:
    start = f"{rule.in_force_from:%d %b %Y}" if rule.in_force_from else "its start"
    end = f"{rule.in_force_until:%d %b %Y}" if rule.in_force_until else "now"
    return f"in force from {start} to {end}"


def in_force(rule: Rule, on: dt.date, check: Callable[[], list[RuleResult]]) -> list[RuleResult]:
    """The rule's results on `on`, dated: before its force, "not_in_force" and nothing
    checked; after it, "historical" with what the check would have said, for reference."""
    force = rule.force_on(on)
    if force == "not_yet":
        results = [
            RuleResult(
                rule.code,
                rule.name,
                "not_in_force",
                None,
                None,
                f"Not in force on {on:%d %b %Y}: {_span(rule)}.",
                rule.source,
            )
        ]
    else:
        results = check()
        if force == "ended":
            for r in results:
                verdict = {"pass": "would have been met", "fail": "would not have been met"}
                r.detail = (
                    f"Historical: {_span(rule)}; it ended after {rule.in_force_until:%d %b %Y}. "
                    f"Shown for reference ({verdict.get(r.status, r.status)}): {r.detail}"
                )
                r.status = "historical"
    for r in results:
        r.in_force_from, r.in_force_until = rule.in_force_from, rule.in_force_until
    return results


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
        # Written when first read, as the trace's own flows are: most callers want only
        # the status and the share.
        flows = LazyFlows(partial(_flows_in, result.stage_flows.get(stage, []), country))
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


def _flows_in(flows: Sequence[FlowMass], country: str) -> list[FlowMass]:
    """A stage's flows in one country, largest first as every rule's flows are."""
    return sorted((f for f in flows if f.country == country), key=lambda f: -f.share_pct)


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
    """The §30D critical-mineral share; its dates in force are the rule's (in_force)."""
    value = result.predicate_pct.get("ira_qualifying", 0.0)
    required = ira_applicable_pct(rule, on.year)
    starts = rule.params.get("requirement_from")

    def not_applicable(why: str) -> RuleResult:
        return RuleResult(rule.code, rule.name, "not_applicable", value, None, why, rule.source)

    if starts and on < dt.date.fromisoformat(starts):
        return not_applicable(f"The critical-mineral requirement applies from {starts}.")
    if required is None:
        return not_applicable(f"No critical-mineral requirement for {on.year}.")
    return RuleResult(
        rule.code,
        rule.name,
        "pass" if value >= required else "fail",
        value,
        required,
        f"{value:.2f}% qualifying against {required:g}% required for {on.year}.",
        rule.source,
        result.predicate_flows.get("ira_qualifying", []),
    )


def year_threshold(table: dict, year: int) -> float | None:
    """A per-year table's figure: the year's, else the last year's before it (the
    statute's "after" row); None before the first."""
    years = sorted(int(y) for y in table)
    earlier = [y for y in years if y <= year]
    return float(table[str(earlier[-1])]) if earlier else None


MASS_NOT_COST = (
    "The statutory material assistance cost ratio is cost-based (direct costs not "
    "attributable to a prohibited foreign entity over total direct costs); the registry "
    "measures the mass of the mineral, a proxy."
)


def check_pfe(result: Trace, rule: Rule, on: dt.date, buyer_is_pfe: bool) -> RuleResult:
    """The share of the buyer's supply shown not to pass through a prohibited foreign
    entity, against the year's material-assistance threshold. Untraced supply is not
    shown to be free of them, so it is not counted as free."""
    key = rule_entity_key(rule)
    through = result.predicate_pct.get(key, 0.0)
    shown = round(max(0.0, 100.0 - through - result.untraced_pct), 4)
    required = year_threshold(rule.params["threshold_pct"], on.year)
    flows = result.predicate_flows.get(key, [])
    if required is None:
        return RuleResult(
            rule.code,
            rule.name,
            "not_applicable",
            shown,
            None,
            f"No threshold for {on.year}.",
            rule.source,
            flows,
        )
    detail = (
        f"{through:.2f}% of the supply passes through prohibited foreign entities and "
        f"{result.untraced_pct:.2f}% is untraced; {shown:.2f}% is shown to be free of them, "
        f"against {required:g}% required for {rule.params['component']} sold in {on.year}. "
        f"{MASS_NOT_COST}"
    )
    if buyer_is_pfe:
        detail += " The buyer itself meets the rule's entity tests: the taxpayer bar may deny "
        detail += "the credit whatever the ratio."
    return RuleResult(
        rule.code,
        rule.name,
        "pass" if shown >= required else "fail",
        shown,
        required,
        detail,
        rule.source,
        flows,
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
    graph: Graph, suppliers: Collection, cells: list[str], requester: Requester, on: dt.date
) -> dict[str, set]:
    """For each cell, the suppliers without coverage of it for the graph's mineral at the
    stages they supply at (registry.coverage), as the requester sees."""
    if not cells:
        return {}
    # The graph's companies as a subquery (its ids, one parameter), else the known ids.
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
    # Only companies with an attestation that counts can cover a cell: the stages and
    # cells of those alone are looked at, not of every supplier in a large graph.
    suppliers = set(suppliers)
    attested = suppliers.intersection(coverage.by_company)
    stages: dict = defaultdict(set)
    if attested:  # their edges picked out over the columns: a few among 10^5 edges
        edges = EdgeTable.of(graph.edges)
        at = np.flatnonzero(edges.supplied_by(attested))
        for p, supplier in zip(at.tolist(), edges.supplier[at].tolist(), strict=True):
            stages[supplier].add(edges.stage[p])
    covered = {c: coverage.cells(c, stages[c] or [None]) for c in attested}
    # All suppliers less the few covering the cell: a set difference, in C.
    return {cell: suppliers - {c for c, has in covered.items() if cell in has} for cell in cells}


def _evaluate(
    graph: Graph, *, requester: Requester, cells: list[str], on: dt.date, rule: Rule
) -> tuple[Trace, list[RuleResult]]:
    graph.edges = EdgeTable.of(graph.edges)  # a what-if's list, made columns once
    suppliers = graph.edges.suppliers() - {graph.buyer}
    by_kind = checked_rules()

    def first(kind: str) -> Rule | None:
        return by_kind[kind][0] if by_kind.get(kind) else None

    concern, ira, crma = first("concern"), first("ira_30d"), first("single_country_cap")
    pfe_rules = by_kind.get(Rule.Kind.PFE_MATERIAL_ASSISTANCE, [])
    entities = entity_sets(graph, pfe_rules)
    result = trace(
        graph,
        lacking={**lacking_companies(graph, suppliers, cells, requester, on), **entities},
        concern=concern,
        ira=ira,
        rule=rule,
    )
    rules: list[RuleResult] = []
    if crma:
        rules += in_force(crma, on, lambda: check_crma(result, crma))
    if concern:
        rules += in_force(concern, on, lambda: [check_concern(result, concern)])
    if ira:
        rules += in_force(ira, on, lambda: [check_ira(result, ira, on)])
    for pfe in pfe_rules:
        rules += in_force(pfe, on, partial(_pfe_results, result, pfe, on, entities))
    return result, rules


def _pfe_results(result: Trace, rule: Rule, on: dt.date, entities: dict) -> list[RuleResult]:
    buyer_is_pfe = result.buyer in entities[rule_entity_key(rule)]
    return [check_pfe(result, rule, on, buyer_is_pfe)]


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
    # The collector paused throughout, not per step: between steps it would walk the
    # graph's tens of thousands of objects again at each collection.
    rule = hhi_rule(thresholds)
    with paused_gc():
        graph = load_graph(buyer, mineral, as_of)
        if first_tier is not None:
            edges = EdgeTable.of(graph.edges)
            keep = (edges.buyer != buyer.pk) | np.isin(edges.id, list(first_tier))
            graph.edges = edges.take(keep)
        result, rules = _evaluate(graph, requester=requester, cells=list(cells), on=on, rule=rule)
    return SupplyChain(result, rules, as_of, on, list(cells), rule.code)


# --- What-if ------------------------------------------------------------------


class ScenarioError(InvalidInput):
    pass


@dataclass
class WhatIf:
    baseline: SupplyChain
    scenario: SupplyChain
    changes: list[str]
    comparison: dict = field(default_factory=dict)


def compare(before: SupplyChain, after: SupplyChain) -> dict:
    """What a what-if moves, side by side: refining HHI by country and by company, the
    recycled share, and each rule's status and value."""

    def pair(get) -> dict:
        return {"before": get(before.trace), "after": get(after.trace)}

    after_rules = {(r.rule, r.name): r for r in after.rules}
    rules = []
    for r in before.rules:
        other = after_rules.get((r.rule, r.name))
        rules.append(
            {
                "rule": r.rule,
                "name": r.name,
                "status": {"before": r.status, "after": other.status if other else None},
                "value": {"before": r.value, "after": other.value if other else None},
            }
        )
    return {
        "refining_hhi_by_country": pair(lambda t: t.processing_country.hhi),
        "refining_hhi_by_company": pair(lambda t: t.processing_company.hhi),
        "recycled_pct": pair(lambda t: t.recycled_pct),
        "untraced_pct": pair(lambda t: t.untraced_pct),
        "rules": rules,
    }


class _Scenario:
    """The graph being changed, and how new companies' keys resolve to nodes."""

    def __init__(self, graph: Graph, keys: dict[str, str]):
        self.graph, self.keys = graph, keys
        self.changes: list[str] = []
        self.added: list[Edge] = []  # hypothetical edges, joined to the graph's at the end
        self._edges, self._feeds = count(1), count(1)

    def node(self, ref, where: str = "add"):
        if isinstance(ref, str) and ref in self.keys:
            return self.keys[ref]
        if isinstance(ref, int) or (isinstance(ref, str) and re.fullmatch(r"[0-9]{1,15}", ref)):
            return int(ref)
        raise ScenarioError(
            f"Unknown company {ref!r}: use a company id or a new company's key.", field=where
        )

    def add_edge(self, spec: dict, where: str = "add") -> None:
        supplier, target = self.node(spec["supplier"], where), self.node(spec["buyer"], where)
        if supplier == target:
            raise ScenarioError("A company cannot supply itself.", field=where)
        volume, share = spec.get("volume_t"), spec.get("share_pct")
        if (volume is None) == (share is None):
            raise ScenarioError("Give each added relationship volume_t or share_pct.", field=where)
        if (volume is not None and volume < 0) or (share is not None and not 0 <= share <= 100):
            raise ScenarioError("Volumes must be >= 0 and shares within 0-100%.", field=where)
        info = self.graph.companies.get(supplier)
        self.added.append(
            Edge(
                f"what-if:{next(self._edges)}",
                supplier,
                target,
                float(volume) if volume is not None else None,
                float(share) if share is not None else None,
                spec["stage"],
                spec.get("material", "refined_chemical"),
                spec.get("country") or (info.country if info else ""),
                hypothetical=True,
            )
        )
        self.changes.append(f"added {spec['stage']} supply {spec['supplier']} → {spec['buyer']}")

    def add_feed(self, company, mine: MineInfo, volume: float) -> None:
        """A hypothetical source (negative ids: never a recorded mine's)."""
        mine_id = -next(self._feeds)
        self.graph.mines[mine_id] = mine
        self.graph.links.append(
            Link(f"what-if-feed:{-mine_id}", mine_id, company, volume, hypothetical=True)
        )


def _add_plant(scenario: _Scenario, plant: dict) -> None:
    """A regional dual-feedstock refinery: a new company refining virgin and recycled feed
    (each a capacity in tonnes, taken at full use) and supplying one company of the chain."""
    node = scenario.keys[plant["key"]]
    name, country = plant["legal_name"], plant["country"]
    virgin, recycled = float(plant.get("virgin_t") or 0), float(plant.get("recycled_t") or 0)
    if virgin < 0 or recycled < 0 or virgin + recycled <= 0:
        raise ScenarioError(
            "A plant needs virgin_t and recycled_t >= 0, not both 0.", field="plants"
        )
    scenario.graph.companies[node] = CompanyInfo(name, country, "", None)
    if virgin:
        origin = plant.get("virgin_country") or country
        feed = MineInfo(f"{name}: virgin feed", origin, "industrial", False, None, "")
        scenario.add_feed(node, feed, virgin)
    if recycled:
        origin = plant.get("recycled_country") or country
        feed = MineInfo(f"{name}: recycled feed", origin, "black_mass", False, None, "")
        scenario.add_feed(node, feed, recycled)
    scenario.changes.append(
        f"new dual-feedstock plant {name} ({country}): {virgin:g} t virgin, {recycled:g} t "
        "recycled feed"
    )
    scenario.add_edge(
        {
            "supplier": plant["key"],
            "buyer": plant["supplies"],
            "stage": plant.get("stage", "refining"),
            "material": plant.get("material", "refined_chemical"),
            "volume_t": plant.get("volume_t"),
            "share_pct": plant.get("share_pct"),
            "country": country,
        },
        where="plants",
    )


def _add_source(scenario: _Scenario, spec: dict, mines: dict) -> None:
    mine = mines.get(spec["mine"])
    if mine is None:
        raise ScenarioError(f"Unknown mine {spec['mine']!r}.", field="add_sources")
    scenario.graph.mines.setdefault(
        mine.pk,
        MineInfo(
            mine.name,
            mine.country.code,
            mine.method,
            mine.cahra,
            mine.operator_id,
            mine.operator.legal_name if mine.operator else "",
            origin=mine.recycled_origin,
        ),
    )
    scenario.graph.links.append(
        Link(
            f"what-if-source:{spec['mine']}:{len(scenario.graph.links)}",
            mine.pk,
            scenario.node(spec["company"], "add_sources"),
            float(spec["volume_t"]),
            hypothetical=True,
        )
    )
    scenario.changes.append(f"added source {mine.name} → {spec['company']}")


def what_if(
    buyer: Company,
    mineral: Mineral,
    *,
    requester: Requester,
    new_companies: Sequence[dict] = (),
    add: Sequence[dict] = (),
    remove: Sequence[int] = (),
    add_sources: Sequence[dict] = (),
    plants: Sequence[dict] = (),
    as_of: dt.date | None = None,
    cells: Sequence[str] = (),
    thresholds: str | None = None,
    checked_on: dt.date | None = None,
) -> WhatIf:
    """Add, remove or swap suppliers and sources, or add a dual-feedstock plant, and see
    the effect; nothing is saved. Hypothetical edges and sources are marked.

    `new_companies`: [{key, legal_name, country}] hypothetical companies, referred to by
    their key in `add` and `add_sources`.
    `add`: [{supplier, buyer, stage, material, volume_t | share_pct, country?}] where
    supplier/buyer are company ids or new keys. `remove`: relationship ids.
    `add_sources`: [{mine, company, volume_t}] mine id into a company (id or key).
    `plants`: [{key, legal_name, country, virgin_t, recycled_t, supplies, volume_t |
    share_pct, virgin_country?, recycled_country?, stage?}] a regional dual-feedstock
    refinery (seed 000) supplying `supplies` (a company id or key) its stated volume or
    share, its feed taken at capacity."""
    baseline = supply_chain(
        buyer,
        mineral,
        requester=requester,
        as_of=as_of,
        cells=cells,
        thresholds=thresholds,
        checked_on=checked_on,
    )
    news = [*new_companies, *plants]
    keys = {c["key"]: f"new:{c['key']}" for c in news}
    if len(keys) != len(news):
        where = "plants" if plants else "new_companies"
        raise ScenarioError("Each new company and plant needs a distinct key.", field=where)
    probe = _Scenario(Graph(buyer.pk, mineral.code, [], [], {}, {}), keys)
    named = {
        "add": {probe.node(a[side]) for a in add for side in ("supplier", "buyer")},
        "plants": {probe.node(p["supplies"], "plants") for p in plants},
    }
    existing = sorted(i for ids in named.values() for i in ids if isinstance(i, int))
    found = set(Company.objects.filter(pk__in=existing).values_list("pk", flat=True))
    for where, ids in named.items():
        unknown = sorted(i for i in ids if isinstance(i, int) and i not in found)
        if unknown:
            raise ScenarioError(f"Unknown company ids: {unknown}", field=where)
    graph = load_graph(buyer, mineral, as_of, extra_seeds=existing)
    scenario = _Scenario(graph, keys)
    for c in new_companies:
        graph.companies[keys[c["key"]]] = CompanyInfo(c["legal_name"], c["country"], "", None)
        scenario.changes.append(f"new company {c['legal_name']} ({c['country']})")
    edges = EdgeTable.of(graph.edges)
    known_ids = set(edges.id.tolist())
    missing = [r for r in remove if r not in known_ids]
    if missing:
        raise ScenarioError(
            f"Relationships not in this buyer's {mineral.code} graph: {missing}", field="remove"
        )
    graph.edges = edges.take(~np.isin(edges.id, list(remove))) if remove else edges
    scenario.changes += [f"removed relationship {r}" for r in remove]
    for spec in add:
        scenario.add_edge(spec)
    for plant in plants:
        _add_plant(scenario, plant)
    mines = MinedSource.objects.filter(pk__in=[s["mine"] for s in add_sources])
    by_pk = {m.pk: m for m in mines.select_related("operator")}
    for spec in add_sources:
        _add_source(scenario, spec, by_pk)
    if scenario.added:
        graph.edges = EdgeTable.of([*graph.edges, *scenario.added])
    on = checked_on or as_of or dt.date.today()
    result, rules = _evaluate(
        graph, requester=requester, cells=list(cells), on=on, rule=hhi_rule(thresholds)
    )
    after = SupplyChain(result, rules, as_of, on, list(cells), baseline.thresholds)
    return WhatIf(baseline, after, scenario.changes, compare(baseline, after))


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


def summary_of(chain: SupplyChain) -> tuple[dict, Sequence[dict]]:
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
    return summary, FlowRows(t.flows)


FLOW_FIELDS = tuple(f.name for f in fields(FlowMass))


def _flow(flow: FlowMass) -> dict:
    # Not asdict(): it deep-copies every value, a tenth of a small trace's answer.
    out = {name: getattr(flow, name) for name in FLOW_FIELDS}
    out["id"] = str(flow.id)
    return out


class FlowRows(Sequence[dict]):
    """A trace's flows as answer rows, each written when read: an answer shows a page of
    them, a kept result all."""

    def __init__(self, flows: Sequence[FlowMass]):
        self.flows = flows

    def __len__(self) -> int:
        return len(self.flows)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [_flow(f) for f in self.flows[index]]
        return _flow(self.flows[index])


def upstream_count(buyer: Company, mineral: Mineral, as_of: dt.date | None) -> int:
    """How many companies the trace walks (the buyer and its upstream): one query."""
    sql, params = upstream_sql([buyer.pk], mineral.pk, as_of)
    return Company.objects.filter(pk__in=RawSQL(sql, params)).count()


def supply_chain_payload(params: dict, requester: Requester) -> tuple[dict, Sequence[dict]]:
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
