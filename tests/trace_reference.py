"""The trace computed the plain way, a company at a time over dataclasses (as
registry.concentration.propagation was at commit db55b8a, before it was rewritten for
speed, with the rules changed since in both: an edge its buyer does not draw on no
longer holds its supplier back; shares within WHOLE of 100% make 100%; tiers and
anomalies count only where supply passes): the judge that the fast trace gives the same
results, kept only for tests."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator

from registry.concentration.graph import CompanyInfo, Edge, Graph, Link, MineInfo
from registry.concentration.hhi import _country_labels, concentration_of, hhi_rule
from registry.concentration.propagation import PROCESSING_STAGES, WHOLE, Cycle, FlowMass, Trace
from registry.concentration.rules import path_predicates
from registry.models import Rule


def _break_cycles(graph: Graph) -> tuple[list[Edge], list[Cycle]]:
    """Depth-first from the buyer; an edge back onto the current path closes a cycle.
    Each cycle is reported with its path and that edge is left out."""
    upstream: dict[int | str, list[Edge]] = defaultdict(list)
    for e in graph.edges:
        upstream[e.buyer].append(e)
    state: dict[int | str, int] = {}  # 1 on the path, 2 done
    back: set[int | str] = set()
    cycles: list[Cycle] = []
    path: list[int | str] = []
    stack: list[tuple[int | str, Iterator[Edge]]] = [(graph.buyer, iter(upstream[graph.buyer]))]
    state[graph.buyer] = 1
    path.append(graph.buyer)
    while stack:
        node, children = stack[-1]
        edge = next(children, None)
        if edge is None:
            state[node] = 2
            stack.pop()
            path.pop()
            continue
        nxt = edge.supplier
        if state.get(nxt) == 1:
            back.add(edge.id)
            loop = path[path.index(nxt) :] + [nxt]
            # Written from supplier to buyer, as material flows.
            loop = list(reversed(loop))
            cycles.append(
                Cycle(
                    loop,
                    [graph.companies.get(n, CompanyInfo(str(n), "", "", None)).name for n in loop],
                )
            )
        elif nxt not in state:
            state[nxt] = 1
            path.append(nxt)
            stack.append((nxt, iter(upstream[nxt])))
    return [e for e in graph.edges if e.id not in back], cycles


def _reachable(buyer, edges: list[Edge]) -> list[Edge]:
    """Only edges that carry material towards the buyer (what-if seeds may add others)."""
    upstream: dict = defaultdict(list)
    for edge in edges:
        upstream[edge.buyer].append(edge)
    seen, stack = {buyer}, [buyer]
    while stack:
        for edge in upstream[stack.pop()]:
            if edge.supplier not in seen:
                seen.add(edge.supplier)
                stack.append(edge.supplier)
    return [e for e in edges if e.buyer in seen]


def _weights(
    edges_in: list[Edge], links_in: list[Link]
) -> tuple[list[tuple[Edge | Link, float]], float, list[str]]:
    """Each input's share of a company's supply: reported shares first, the rest split
    by volume. Returns ([(item, weight)], unexplained share, anomalies)."""
    anomalies = []
    explicit = [(e, e.share / 100) for e in edges_in if e.share is not None]
    total_explicit = sum(w for _, w in explicit)
    if total_explicit > 1 + WHOLE:
        anomalies.append("reported shares exceed 100%; scaled down")
        explicit = [(e, w / total_explicit) for e, w in explicit]
        total_explicit = 1.0
    rest = 0.0 if total_explicit >= 1 - WHOLE else 1 - total_explicit
    by_volume: list[tuple[Edge | Link, float]] = [
        (e, e.volume) for e in edges_in if e.share is None and e.volume is not None
    ]
    by_volume += [(link, link.volume) for link in links_in]
    total_volume = sum(volume for _, volume in by_volume)
    weighted: list[tuple[Edge | Link, float]] = list(explicit)
    unexplained = rest
    if total_volume > 0 and rest > 0:
        weighted += [(item, rest * volume / total_volume) for item, volume in by_volume]
        unexplained = 0.0
    return weighted, unexplained, anomalies


def trace(
    graph: Graph,
    *,
    lacking: dict[str, set] | None = None,
    concern: Rule | None = None,
    ira: Rule | None = None,
    rule: Rule | None = None,
) -> Trace:
    """Volume-weighted shares of the buyer's supply, from the graph alone (no queries
    but the rules passed in)."""
    rule = rule or hhi_rule()
    lacking = lacking or {}
    edges, cycles = _break_cycles(graph)
    edges = _reachable(graph.buyer, edges)
    edges_in: dict = defaultdict(list)
    downstream_count: dict = defaultdict(int)
    for edge in edges:
        edges_in[edge.buyer].append(edge)
        downstream_count[edge.supplier] += 1
    links_in: dict = defaultdict(list)
    for link in graph.links:
        links_in[link.company].append(link)

    def name(cid: int | str) -> str:
        return graph.companies[cid].name if cid in graph.companies else str(cid)

    edge_tests, leaf_tests = path_predicates(graph, concern=concern, ira=ira, lacking=lacking)
    names = list(edge_tests)

    mass: dict = defaultdict(float)
    # Mass not yet meeting the predicate, by company.
    open_mass: dict[str, defaultdict[int | str, float]] = {p: defaultdict(float) for p in names}
    met = dict.fromkeys(names, 0.0)
    met_flows: dict[str, list[FlowMass]] = {p: [] for p in names}
    mass[graph.buyer] = 1.0
    for p in names:
        open_mass[p][graph.buyer] = 1.0

    edge_mass: dict = {}
    link_mass: dict = {}
    untraced = 0.0
    anomalies: list[str] = []
    depth = {graph.buyer: 0}
    ready = [graph.buyer]
    while ready:
        node = ready.pop()
        m = mass[node]
        weighted, unexplained, notes = _weights(edges_in[node], links_in[node])
        if m > 0:  # a company the buyer does not draw on is not its concern
            anomalies += [f"{name(node)}: {n}" for n in notes]
        untraced += m * unexplained
        for item, w in weighted:
            flow = m * w
            if isinstance(item, Edge):
                edge_mass[item.id] = edge_mass.get(item.id, 0) + flow
                mass[item.supplier] += flow
                if m > 0 and w > 0:  # tiers count edges carrying some of the supply
                    depth[item.supplier] = max(depth.get(item.supplier, 0), depth[node] + 1)
                for p in names:
                    carried = open_mass[p][node] * w
                    if not carried:
                        continue
                    if edge_tests[p](item):
                        met[p] += carried
                        met_flows[p].append(_edge_flow(item, carried, name))
                    else:
                        open_mass[p][item.supplier] += carried
            else:
                link_mass[item.id] = link_mass.get(item.id, 0) + flow
                mine = graph.mines[item.mine]
                for p in names:
                    carried = open_mass[p][node] * w
                    if carried and leaf_tests[p](mine):
                        met[p] += carried
                        met_flows[p].append(_link_flow(item, mine, carried, name))
        # Every edge into the node has now delivered, those it does not draw on with no
        # mass: none may hold its supplier back.
        for edge in edges_in[node]:
            downstream_count[edge.supplier] -= 1
            if downstream_count[edge.supplier] == 0:
                ready.append(edge.supplier)

    # Shares by mine (country, operator, equity), from mass reaching the mines.
    by_country: dict[str, float] = defaultdict(float)
    by_operator: dict[str, float] = defaultdict(float)
    by_equity: dict[str, float] = defaultdict(float)
    labels: dict[str, str] = {}
    cahra = artisanal = 0.0
    for link in graph.links:
        flow = link_mass.get(link.id, 0.0)
        if not flow:
            continue
        mine = graph.mines[link.mine]
        by_country[mine.country] += flow
        op_key = str(mine.operator) if mine.operator else "unknown"
        by_operator[op_key] += flow
        labels[op_key] = mine.operator_name or "Unknown operator"
        owned = 0.0
        for company_id, owner_name, share in mine.owners:
            by_equity[str(company_id)] += flow * share / 100
            labels[str(company_id)] = owner_name
            owned += share
        if owned < 100:
            by_equity["unattributed"] += flow * (100 - owned) / 100
            labels["unattributed"] = "Unattributed equity"
        cahra += flow if mine.cahra else 0.0
        artisanal += flow if mine.method == "artisanal" else 0.0

    stage_country: dict[str, dict[str, float]] = {s: defaultdict(float) for s in PROCESSING_STAGES}
    stage_flows: dict[str, list[FlowMass]] = {s: [] for s in PROCESSING_STAGES}
    processing_company: dict[str, float] = defaultdict(float)
    flows: list[FlowMass] = []
    for edge in edges:
        flow = edge_mass.get(edge.id, 0.0)
        if not flow:
            continue
        fm = _edge_flow(edge, flow, name)
        flows.append(fm)
        if edge.stage in stage_country:
            stage_country[edge.stage][edge.country] += flow
            stage_flows[edge.stage].append(fm)
        if edge.stage == "refining":
            processing_company[str(edge.supplier)] += flow
            labels[str(edge.supplier)] = name(edge.supplier)
    for link in graph.links:
        flow = link_mass.get(link.id, 0.0)
        if flow:
            flows.append(_link_flow(link, graph.mines[link.mine], flow, name))
    flows.sort(key=lambda f: -f.share_pct)

    country_labels = _country_labels(by_country)
    traced_note = "Shares of the traced supply; untraced supply is reported apart."
    return Trace(
        buyer=graph.buyer,
        buyer_name=name(graph.buyer),
        mineral=graph.mineral,
        mine_country=concentration_of(by_country, country_labels, rule, traced_note),
        processing_country=concentration_of(
            stage_country["refining"],
            _country_labels(stage_country["refining"]),
            rule,
            "Where the refining step of each flow happens.",
        ),
        processing_company=concentration_of(
            processing_company, labels, rule, "Refiners, by volume-weighted share."
        ),
        mining_company_operator=concentration_of(by_operator, labels, rule, "Mines by operator."),
        mining_company_equity=concentration_of(
            by_equity, labels, rule, "Mines by the owners' equity shares."
        ),
        recycled_pct=_pct(met["recycled"]),
        cahra_pct=_pct(cahra),
        artisanal_pct=_pct(artisanal),
        untraced_pct=_pct(untraced),
        lacking_coverage_pct={
            p.split(":", 1)[1]: _pct(met[p]) for p in names if p.startswith("lacking:")
        },
        cycles=cycles,
        flows=flows,
        stage_country_mass={
            s: {c: _pct(v) for c, v in d.items()} for s, d in stage_country.items()
        },
        stage_flows=stage_flows,
        predicate_pct={p: _pct(v) for p, v in met.items()},
        predicate_flows={p: _largest_first(f, graph) for p, f in met_flows.items()},
        tiers=max(depth.values()) if depth else 0,
        edge_count=len(edges),
        anomalies=sorted(set(anomalies)),
    )


def _largest_first(flows: list[FlowMass], graph: Graph) -> list[FlowMass]:
    """The order a rule's flows are shown in since the trace works level by level
    (unchanged arithmetic): largest first, ties edges then mine links in graph order."""
    at = {("edge", e.id): i for i, e in enumerate(graph.edges)}
    at.update({("source", link.id): i for i, link in enumerate(graph.links)})
    return sorted(flows, key=lambda f: (-f.share_pct, f.kind == "source", at[f.kind, f.id]))


def _pct(value: float) -> float:
    return round(100 * value, 4)


def _edge_flow(edge: Edge, flow: float, name: Callable[[int | str], str]) -> FlowMass:
    return FlowMass(
        "edge",
        edge.id,
        name(edge.supplier),
        name(edge.buyer),
        edge.stage,
        edge.country,
        _pct(flow),
        edge.hypothetical,
    )


def _link_flow(
    link: Link, mine: MineInfo, flow: float, name: Callable[[int | str], str]
) -> FlowMass:
    return FlowMass(
        "source",
        link.id,
        mine.name,
        name(link.company),
        "mining",
        mine.country,
        _pct(flow),
        link.hypothetical,
    )
