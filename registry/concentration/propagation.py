"""Tracing arithmetic: the buyer's supply pushed upstream through the graph a level at a
time in topological order, then each path predicate carried along the same levels.

The steps, each a function: the edges that carry material to the buyer, cycles left out
(`acyclic_pushes`); every company's inputs weighted at once, in arrays (`_inputs`); the
mass pushed upstream (`propagate`); which edges meet each
predicate (`edge_mask`) and the mass carried to where it is first met (`carry`); shares
by mine (`mine_shares`) and at the processing stages (`processing_shares`); the flows
(`flow_list`); and the Trace put together (`trace`). The edges come as columns
(graph.EdgeTable), companies are numbered and the pushes are numpy arrays over the edges:
a trace walks tens of thousands of them, and a level's edges are pushed in a few array
operations instead of a Python call each; an Edge is made only for a flow shown. The
sums run in another order than a company-at-a-time walk, so the last bits of a share can
differ; every figure as published (rounded) is the same (tests/test_registry_trace_rewrite)
except at an exact rounding tie, where that last bit tips the fourth decimal (3 of 15,000
random graphs in a review).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import repeat
from operator import attrgetter

import numpy as np

from ..models import Rule
from .graph import CompanyInfo, Edge, EdgeTable, Graph, Link, MineInfo, paused_gc
from .hhi import Concentration, _country_labels, concentration_of, hhi_rule
from .rules import EdgeColumns, EdgeTest, never, path_predicates

PROCESSING_STAGES = ("refining", "cathode")

Node = int | str
NO_EDGES: list[Edge] = []  # read only
NO_LINKS: list[Link] = []


@dataclass
class Cycle:
    path: list[int | str]  # company ids, first == last
    names: list[str]


@dataclass(slots=True)
class FlowMass:
    kind: str  # "edge" | "source"
    id: int | str
    supplier: str
    buyer: str
    stage: str
    country: str
    share_pct: float  # of the buyer's supply of the mineral
    hypothetical: bool = False


@dataclass
class Trace:
    buyer: int | str
    buyer_name: str
    mineral: str
    mine_country: Concentration
    processing_country: Concentration
    processing_company: Concentration
    mining_company_operator: Concentration
    mining_company_equity: Concentration
    recycled_pct: float
    cahra_pct: float
    artisanal_pct: float
    untraced_pct: float
    lacking_coverage_pct: dict[str, float]
    cycles: list[Cycle]
    flows: Sequence[FlowMass]  # built when first read (LazyFlows)
    stage_country_mass: dict[str, dict[str, float]]  # stage -> country -> % of supply
    stage_flows: dict[str, Sequence[FlowMass]]
    predicate_pct: dict[str, float]
    predicate_flows: dict[str, Sequence[FlowMass]]  # built when first read
    tiers: int
    edge_count: int
    anomalies: list[str]


class Names(dict):
    """Company id -> name; an id not in the graph reads as itself."""

    def __missing__(self, key: Node) -> str:
        return str(key)


# --- Which edges: reachable from the buyer, cycles left out -------------------------


def _by_buyer(edges: Iterable[Edge]) -> defaultdict[Node, list[Edge]]:
    upstream: defaultdict[Node, list[Edge]] = defaultdict(list)
    for edge in edges:
        upstream[edge.buyer].append(edge)
    return upstream


def _break_cycles(graph: Graph) -> tuple[list[Edge], list[Cycle]]:
    """Depth-first from the buyer; an edge back onto the current path closes a cycle.
    Each cycle is reported with its path and that edge is left out."""
    upstream = _by_buyer(graph.edges)
    state: dict[Node, int] = {graph.buyer: 1}  # 1 on the path, 2 done
    back: set[Node] = set()
    cycles: list[Cycle] = []
    path: list[Node] = [graph.buyer]
    stack: list[tuple[Node, Iterator[Edge]]] = [(graph.buyer, iter(upstream[graph.buyer]))]
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
            # Written from supplier to buyer, as material flows.
            loop = list(reversed(path[path.index(nxt) :] + [nxt]))
            unknown = CompanyInfo  # a company not in the graph is named by its id
            names = [graph.companies.get(n, unknown(str(n), "", "", None)).name for n in loop]
            cycles.append(Cycle(loop, names))
        elif nxt not in state:
            state[nxt] = 1
            path.append(nxt)
            stack.append((nxt, iter(upstream[nxt])))
    return [e for e in graph.edges if e.id not in back], cycles


def _runs(first: np.ndarray, count: np.ndarray, frontier: np.ndarray) -> np.ndarray:
    """Positions, in edges grouped by buyer, of the frontier companies' runs of edges,
    end to end (`first`/`count`: each company's run's start and length)."""
    n = count[frontier]
    return np.repeat(first[frontier] - (np.cumsum(n) - n), n) + np.arange(n.sum())


def _reachable_edges(sup: np.ndarray, buy: np.ndarray, n_nodes: int) -> tuple[np.ndarray, int]:
    """Which edges carry material towards the buyer (company 0; what-if seeds may add
    others), and how many companies they reach, the buyer included."""
    order = np.argsort(buy, kind="stable")
    count = np.bincount(buy, minlength=n_nodes)
    first = np.cumsum(count) - count
    seen = np.zeros(n_nodes, dtype=bool)
    seen[0] = True
    frontier = np.zeros(1, dtype=np.int64)
    while frontier.size:
        suppliers = sup[order[_runs(first, count, frontier)]]
        frontier = np.unique(suppliers[~seen[suppliers]])
        seen[frontier] = True
    return seen[buy], int(seen.sum())


# --- Weights and the mass pushed upstream ----------------------------------------


@dataclass
class Pushes:
    """The mass pushed upstream, as arrays over the edges pushed (`edges`, in order) and
    the graph's mine links, companies numbered from the buyer's 0. `levels`: level by
    level from the buyer, the positions of the edges pushed then, by buyer (an edge its
    buyer does not draw on among them, carrying 0); a company is processed on the level
    after the last of the edges it supplies through."""

    nodes: list[Node]  # the companies by number
    sup: np.ndarray  # per edge: the supplier's number
    buy: np.ndarray  # per edge: the buyer's number
    edge_share: np.ndarray  # per edge: its share of the buyer's supply
    link_node: np.ndarray  # per link: its company's number
    link_share: np.ndarray  # per link: its share of the company's supply
    levels: list[np.ndarray] = field(default_factory=list)
    processed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # per company
    edge_flow: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per edge (0: none)
    link_flow: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per link
    anomalies: list[tuple[Node, str]] = field(default_factory=list)  # processed companies
    untraced: float = 0.0
    tiers: int = 0
    complete: bool = True  # False: a cycle kept some company from being processed


@dataclass
class _Inputs:
    """Each company's inputs weighted (`_inputs`), as arrays."""

    edge_share: np.ndarray
    pushed: np.ndarray  # per edge: pushed at all (a share of 0 is pushed)
    link_share: np.ndarray  # 0 where not pushed
    unexplained: np.ndarray  # per company
    anomaly: dict[int, str]  # company number -> anomaly


def _numbered(edges: EdgeTable, links: list[Link], buyer: Node):
    """Numbers for the companies, the buyer 0: (companies by number, supplier and buyer
    numbers per edge, company number per link, how many companies the edges name)."""
    n = len(edges)
    try:  # company ids: numbered in C
        if edges.supplier.dtype == object or edges.buyer.dtype == object:
            raise TypeError
        ids = np.concatenate(
            [
                np.array([buyer], dtype=np.int64),
                edges.supplier,
                edges.buyer,
                np.fromiter((link.company for link in links), np.int64, len(links)),
            ]
        )
    except (TypeError, ValueError):  # a what-if's new companies are named by text
        return _numbered_by_dict(edges, links, buyer)
    nodes, number = _factorize(ids)
    swap = np.arange(len(nodes))  # the buyer's number and 0 swapped
    swap[[0, number[0]]] = swap[[number[0], 0]]
    number, nodes = swap[number], nodes[swap]
    in_edges = int(np.count_nonzero(np.bincount(number[: 2 * n + 1])))
    return (
        nodes.tolist(),
        number[1 : n + 1],
        number[n + 1 : 2 * n + 1],
        number[2 * n + 1 :],
        in_edges,
    )


def _factorize(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ids in order, and each id's place among them: through a table over
    the ids' span when it is small against their count (ids are dense), else by sorting."""
    low, high = int(ids.min()), int(ids.max())
    if high - low > 4 * len(ids) + 1_000_000:
        return np.unique(ids, return_inverse=True)
    present = np.zeros(high - low + 1, dtype=bool)
    present[ids - low] = True
    place = np.cumsum(present, dtype=np.int64) - 1
    return np.flatnonzero(present) + low, place[ids - low]


def _numbered_by_dict(edges: EdgeTable, links: list[Link], buyer: Node):
    index: dict[Node, int] = {buyer: 0}
    number = index.setdefault  # a new company gets the next number

    def numbers(nodes: Iterator[Node], n: int) -> np.ndarray:
        return np.fromiter((number(c, len(index)) for c in nodes), np.int64, n)

    sup = numbers(iter(edges.supplier.tolist()), len(edges))
    buy = numbers(iter(edges.buyer.tolist()), len(edges))
    in_edges = len(index)
    link_node = numbers((link.company for link in links), len(links))
    return list(index), sup, buy, link_node, in_edges


SCALED_DOWN = "reported shares exceed 100%; scaled down"
# Reported shares this close to 100% make 100%: 70% + 20% + 10% as floats is
# 0.9999999999999999, which would leave a sliver for the volumes and flag no anomaly
# only by luck (some splits land just above 1).
WHOLE = 1e-9


def _inputs(edges: EdgeTable, links: list[Link], n_nodes: int, buy, link_node) -> _Inputs:
    """Each company's inputs weighted, all companies at once over the columns: reported
    shares first (scaled down where they add up to more than 100%), the rest split by
    volume among the edges without a share and the mine links; what neither explains
    is untraced. Sums run edges then links, each in graph order, and each weight is
    (rest * volume) / total: the same floating-point operations, in the same order, as
    a company-at-a-time walk (tests/trace_reference.py)."""
    volume, reported = edges.volume, edges.share  # NaN: none recorded
    explicit = ~np.isnan(reported)
    by_volume = ~explicit & ~np.isnan(volume)
    share = np.where(explicit, reported / 100, 0.0)
    total_explicit = np.bincount(buy[explicit], weights=share[explicit], minlength=n_nodes)
    over = total_explicit > 1 + WHOLE
    with np.errstate(divide="ignore", invalid="ignore"):
        if over.any():
            share = np.where(explicit & over[buy], share / total_explicit[buy], share)
            total_explicit = np.where(over, 1.0, total_explicit)
        rest = np.where(total_explicit >= 1 - WHOLE, 0.0, 1 - total_explicit)
        link_volume = np.fromiter((link.volume for link in links), float, len(links))
        total = np.bincount(
            np.concatenate([buy[by_volume], link_node]),
            weights=np.concatenate([volume[by_volume], link_volume]),
            minlength=n_nodes,
        )
        fed = (total > 0) & (rest > 0)
        by_volume &= fed[buy]
        edge_share = np.where(
            explicit, share, np.where(by_volume, rest[buy] * volume / total[buy], 0.0)
        )
        link_share = np.where(fed[link_node], rest[link_node] * link_volume / total[link_node], 0.0)
    anomaly = dict.fromkeys(np.flatnonzero(over).tolist(), SCALED_DOWN)
    return _Inputs(edge_share, explicit | by_volume, link_share, np.where(fed, 0.0, rest), anomaly)


def propagate(graph: Graph, edges: EdgeTable, reachable: int | None) -> Pushes:
    """Kahn's order from the buyer, a level at a time: a company is processed once every
    edge it supplies through has brought it its mass, which is none for an edge its
    buyer does not draw on (its reported shares already make 100%, or it has no volume
    to go by): that edge still counts as delivered once its buyer is processed, so the
    supplier passes on what its other sales bring. Tiers and anomalies count only where
    some of the buyer's supply passes. Incomplete when fewer than the
    `reachable` companies (None: all the edges name) were processed: a cycle, or an edge
    from a company the buyer does not reach."""
    links = graph.links
    nodes, sup, buy, link_node, in_edges = _numbered(edges, links, graph.buyer)
    n_nodes = len(nodes)
    waiting = np.bincount(sup, minlength=n_nodes)  # edges still to bring mass, by supplier
    inputs = _inputs(edges, links, n_nodes, buy, link_node)
    out = Pushes(nodes, sup, buy, inputs.edge_share, link_node, inputs.link_share)
    out.processed = np.zeros(n_nodes, dtype=bool)
    out.edge_flow, out.link_flow = np.zeros(len(edges)), np.zeros(len(links))
    if waiting[0]:  # the buyer supplies a company upstream of it: a cycle
        out.complete = False
        return out
    # The edges grouped by buyer (stable: in edge order within a buyer); those not pushed
    # carry a share of 0.
    by_buyer = np.argsort(buy, kind="stable")
    count = np.bincount(buy, minlength=n_nodes)
    first = np.cumsum(count) - count
    mass = np.zeros(n_nodes)
    mass[0] = 1.0
    depth = np.zeros(n_nodes, dtype=np.int64)
    processed = out.processed
    frontier = np.zeros(1, dtype=np.int64)
    while frontier.size:
        processed[frontier] = True
        if not count[frontier].sum():
            break
        at = by_buyer[_runs(first, count, frontier)]
        suppliers = sup[at]
        np.add.at(mass, suppliers, mass[buy[at]] * out.edge_share[at])
        # Tiers count the edges that carry some of the buyer's supply.
        live = (out.edge_share[at] > 0) & (mass[buy[at]] > 0)
        np.maximum.at(depth, suppliers[live], depth[buy[at[live]]] + 1)
        np.subtract.at(waiting, suppliers, 1)
        out.levels.append(at)
        reached = np.unique(suppliers)
        frontier = reached[waiting[reached] == 0]
    for at in out.levels:
        out.edge_flow[at] = mass[buy[at]] * out.edge_share[at]
    out.link_flow = np.where(processed[link_node], mass[link_node] * out.link_share, 0.0)
    out.untraced = float(np.dot(mass[processed], inputs.unexplained[processed]))
    # Only where some of the buyer's supply passes: a company it does not draw on is
    # not its concern.
    out.anomalies = [(nodes[i], a) for i, a in inputs.anomaly.items() if mass[i] > 0]
    if reachable is None:
        reachable = in_edges
    out.complete = int(processed.sum()) == reachable  # only the edges' companies can be
    out.tiers = int(depth.max()) if depth.size else 0
    return out


def acyclic_pushes(graph: Graph) -> tuple[EdgeTable, list[Cycle], Pushes]:
    """Most graphs, as loaded, have every edge reachable and no cycle: push first, and
    only if some company was never processed look for edges the buyer does not reach
    (what-if seeds), then for cycles, and push again without them (the cycles are found
    walking the edges one by one: rare, and never on a graph as loaded without one)."""
    table = EdgeTable.of(graph.edges)
    pushes = propagate(graph, table, None)
    if pushes.complete:
        return table, [], pushes
    reached, reachable = _reachable_edges(pushes.sup, pushes.buy, len(pushes.nodes))
    if not reached.all():
        kept = table.take(reached)
        pushes = propagate(graph, kept, reachable)
        if pushes.complete:
            return kept, [], pushes
    edges, cycles = _break_cycles(graph)
    acyclic = EdgeTable.of(edges)
    nodes, sup, buy, *_ = _numbered(acyclic, graph.links, graph.buyer)
    reached, reachable = _reachable_edges(sup, buy, len(nodes))
    kept = acyclic.take(reached)
    return kept, cycles, propagate(graph, kept, reachable)


# --- Predicates carried along the pushes --------------------------------------------


def edge_mask(columns: EdgeColumns, test: Callable[[Edge], bool]) -> np.ndarray:
    """Which edges meet a test: over the columns when it can say, else edge by edge."""
    if isinstance(test, EdgeTest):
        return test.mask(columns)
    if test is never:
        return np.zeros(len(columns.edges), dtype=bool)
    return np.fromiter(map(test, columns.edges), bool, len(columns.edges))  # Edge by Edge


def carry(
    pushes: Pushes,
    edges: EdgeTable,
    links: list[Link],
    mines: dict[int, MineInfo],
    meets: np.ndarray,
    leaf_test: Callable[[MineInfo], bool],
    flow_of: FlowMaker,
) -> tuple[float, Sequence[FlowMass]]:
    """The share of the supply whose path meets the predicate, and the flows where it is
    first met, largest first (ties in graph order: edges, then mine links). Mass not yet
    meeting it is carried upstream along the pushes, level by level."""
    met_at: list[tuple[float, int, int]] = []  # (flow, 0 edge | 1 link, position)
    if meets.any():
        carried_in = np.zeros(len(pushes.processed))
        carried_in[0] = 1.0
        for at in pushes.levels:
            carried = carried_in[pushes.buy[at]] * pushes.edge_share[at]
            hit = meets[at]
            first = hit & (carried != 0)
            met_at += zip(carried[first].tolist(), repeat(0), at[first].tolist())
            rest = ~hit
            np.add.at(carried_in, pushes.sup[at][rest], carried[rest])
        reached = pushes.processed[pushes.link_node]
        link_flow = np.where(reached, carried_in[pushes.link_node] * pushes.link_share, 0.0)
    else:  # no edge meets it: all the mass reaches the mines as pushed
        link_flow = pushes.link_flow
    leaves = np.flatnonzero(link_flow).tolist()
    flows = link_flow.tolist()
    met_at += ((flows[p], 1, p) for p in leaves if leaf_test(mines[links[p].mine]))
    met = sum(m[0] for m in met_at)
    return met, LazyFlows(partial(_met_flows, met_at, edges, links, mines, flow_of))


def _met_flows(
    met_at: list[tuple[float, int, int]],
    edges: EdgeTable,
    links: list[Link],
    mines: dict[int, MineInfo],
    flow_of: FlowMaker,
) -> list[FlowMass]:
    """Where a predicate is first met, largest first as shown (rounded), ties edges then
    mine links in graph order."""
    met_at.sort(key=lambda m: (-round(100 * m[0], 4), m[1], m[2]))
    at = [p for _, kind, p in met_at if kind == 0]
    rows = dict(zip(at, edges.rows(at), strict=True))
    return [
        flow_of.edge(rows[p], f) if kind == 0 else flow_of.link(links[p], mines[links[p].mine], f)
        for f, kind, p in met_at
    ]


# --- Shares ------------------------------------------------------------------------


@dataclass
class MineShares:
    country: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    operator: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    equity: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    labels: dict[str, str] = field(default_factory=dict)
    cahra: float = 0.0
    artisanal: float = 0.0


def mine_shares(graph: Graph, link_flow: list[float]) -> MineShares:
    """By mine country, operator and owners' equity, from the mass reaching the mines
    (`link_flow`: per link of the graph, in order)."""
    out = MineShares()
    for link, flow in zip(graph.links, link_flow, strict=True):
        if not flow:
            continue
        mine = graph.mines[link.mine]
        out.country[mine.country] += flow
        op_key = str(mine.operator) if mine.operator else "unknown"
        out.operator[op_key] += flow
        out.labels[op_key] = mine.operator_name or "Unknown operator"
        owned = 0.0
        for company_id, owner_name, share in mine.owners:
            out.equity[str(company_id)] += flow * share / 100
            out.labels[str(company_id)] = owner_name
            owned += share
        if owned < 100:
            out.equity["unattributed"] += flow * (100 - owned) / 100
            out.labels["unattributed"] = "Unattributed equity"
        out.cahra += flow if mine.cahra else 0.0
        out.artisanal += flow if mine.method == "artisanal" else 0.0
    return out


@dataclass
class ProcessingShares:
    country: dict[str, defaultdict[str, float]]  # stage -> country -> mass
    edges: dict[str, list[tuple[int, float]]]  # stage -> its edges (positions) with mass
    refiners: defaultdict[str, float]


def processing_shares(
    edges: EdgeTable, at: np.ndarray, edge_flow: np.ndarray, labels: dict[str, str], names: Names
) -> ProcessingShares:
    """Where each processing step happens and who refines, from the edges at positions
    `at` (in edge order) with their mass. Refiners' names are added to `labels`."""
    out = ProcessingShares(
        {s: defaultdict(float) for s in PROCESSING_STAGES},
        {s: [] for s in PROCESSING_STAGES},
        defaultdict(float),
    )
    stages, countries = edges.stage, edges.country
    flowing = zip(at.tolist(), edge_flow[at].tolist(), edges.supplier[at].tolist(), strict=True)
    for p, flow, supplier in flowing:
        stage = stages[p]
        if stage not in out.country or not flow:
            continue
        out.country[stage][countries[p]] += flow
        out.edges[stage].append((p, flow))
        if stage == "refining":
            key = str(supplier)
            out.refiners[key] += flow
            labels[key] = names[supplier]
    return out


# --- Flows ------------------------------------------------------------------------


class FlowMaker:
    """FlowMass rows for edges and mine links, names looked up once per company."""

    def __init__(self, names: Names):
        self.names = names

    def edge(self, edge: Edge, flow: float) -> FlowMass:
        names = self.names
        return FlowMass(
            "edge",
            edge.id,
            names[edge.supplier],
            names[edge.buyer],
            edge.stage,
            edge.country,
            round(100 * flow, 4),
            edge.hypothetical,
        )

    def link(self, link: Link, mine: MineInfo, flow: float) -> FlowMass:
        return FlowMass(
            "source",
            link.id,
            mine.name,
            self.names[link.company],
            "mining",
            mine.country,
            round(100 * flow, 4),
            link.hypothetical,
        )


class LazyFlows(Sequence[FlowMass]):
    """A list of flows built on first read: a trace has one per edge (tens of
    thousands) and most callers read only its shares."""

    __slots__ = ("_build", "_rows")
    __hash__ = None  # type: ignore[assignment]  # equal to lists, as a list is

    def __init__(self, build: Callable[[], list[FlowMass]]):
        self._build: Callable[[], list[FlowMass]] | None = build
        self._rows: list[FlowMass] | None = None

    def rows(self) -> list[FlowMass]:
        if self._rows is None:
            assert self._build is not None
            self._rows, self._build = self._build(), None
        return self._rows

    def __len__(self) -> int:
        return len(self.rows())

    def __getitem__(self, index):  # a slice gives a list
        return self.rows()[index]

    def __iter__(self) -> Iterator[FlowMass]:
        return iter(self.rows())

    def __eq__(self, other: object) -> bool:
        return self.rows() == (other.rows() if isinstance(other, LazyFlows) else other)

    def __repr__(self) -> str:
        return repr(self.rows())


def edge_flows(flowing: Iterable[tuple[Edge, float]], flow_of: FlowMaker) -> list[FlowMass]:
    """Each edge with mass, in edge order."""
    return [flow_of.edge(edge, flow) for edge, flow in flowing if flow]


def _flows_at(edges: EdgeTable, at: list[tuple[int, float]], flow_of: FlowMaker):
    """`edge_flows` of the edges at some positions, each made an Edge only now."""
    rows = edges.rows([p for p, _ in at])
    return edge_flows(zip(rows, [flow for _, flow in at], strict=True), flow_of)


def flow_list(
    graph: Graph,
    edges: EdgeTable,
    edge_flow: list[float],
    link_flow: list[float],
    flow_of: FlowMaker,
) -> list[FlowMass]:
    """Every edge and mine link with mass, largest first (ties in graph order)."""
    flows = edge_flows(zip(edges, edge_flow, strict=True), flow_of)
    for link, flow in zip(graph.links, link_flow, strict=True):
        if flow:
            flows.append(flow_of.link(link, graph.mines[link.mine], flow))
    flows.sort(key=attrgetter("share_pct"), reverse=True)  # stable: ties keep their order
    return flows


# --- The trace ----------------------------------------------------------------------


def _pct(value: float) -> float:
    return round(100 * value, 4)


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
    with paused_gc():
        return _trace(graph, lacking or {}, concern, ira, rule)


def _trace(
    graph: Graph, lacking: dict[str, set], concern: Rule | None, ira: Rule | None, rule: Rule
) -> Trace:
    names = Names((cid, info.name) for cid, info in graph.companies.items())
    flow_of = FlowMaker(names)
    edges, cycles, pushes = acyclic_pushes(graph)
    edge_tests, leaf_tests = path_predicates(graph, concern=concern, ira=ira, lacking=lacking)
    met: dict[str, float] = {}
    met_flows: dict[str, Sequence[FlowMass]] = {}
    carried: dict[tuple, tuple[float, Sequence[FlowMass]]] = {}  # rules sharing tests: once
    columns = EdgeColumns(edges, pushes.sup, pushes.nodes)
    for p, test in edge_tests.items():
        key = (test, leaf_tests[p])
        if key not in carried:
            meets = edge_mask(columns, test)
            carried[key] = carry(
                pushes, edges, graph.links, graph.mines, meets, leaf_tests[p], flow_of
            )
        met[p], met_flows[p] = carried[key]
    edge_flow, link_flow = pushes.edge_flow.tolist(), pushes.link_flow.tolist()
    by_mine = mine_shares(graph, link_flow)
    # Only the processing steps with mass are looked at: a fraction of the edges.
    at = columns.among("stage", set(PROCESSING_STAGES)) & (pushes.edge_flow != 0)
    processing = processing_shares(
        edges, np.flatnonzero(at), pushes.edge_flow, by_mine.labels, names
    )
    anomalies = {f"{names[node]}: {anomaly}" for node, anomaly in pushes.anomalies}
    refining = processing.country["refining"]
    labels = by_mine.labels
    return Trace(
        buyer=graph.buyer,
        buyer_name=names[graph.buyer],
        mineral=graph.mineral,
        mine_country=concentration_of(
            by_mine.country,
            _country_labels(by_mine.country),
            rule,
            "Shares of the traced supply; untraced supply is reported apart.",
        ),
        processing_country=concentration_of(
            refining,
            _country_labels(refining),
            rule,
            "Where the refining step of each flow happens.",
        ),
        processing_company=concentration_of(
            processing.refiners, labels, rule, "Refiners, by volume-weighted share."
        ),
        mining_company_operator=concentration_of(
            by_mine.operator, labels, rule, "Mines by operator."
        ),
        mining_company_equity=concentration_of(
            by_mine.equity, labels, rule, "Mines by the owners' equity shares."
        ),
        recycled_pct=_pct(met["recycled"]),
        cahra_pct=_pct(by_mine.cahra),
        artisanal_pct=_pct(by_mine.artisanal),
        untraced_pct=_pct(pushes.untraced),
        lacking_coverage_pct={
            p.split(":", 1)[1]: _pct(v) for p, v in met.items() if p.startswith("lacking:")
        },
        cycles=cycles,
        # Not the pushes: kept alive, their objects would cost each garbage collection.
        flows=LazyFlows(partial(flow_list, graph, edges, edge_flow, link_flow, flow_of)),
        stage_country_mass={
            s: {c: _pct(v) for c, v in d.items()} for s, d in processing.country.items()
        },
        stage_flows={
            s: LazyFlows(partial(_flows_at, edges, group, flow_of))
            for s, group in processing.edges.items()
        },
        predicate_pct={p: _pct(v) for p, v in met.items()},
        predicate_flows=met_flows,
        tiers=pushes.tiers,
        edge_count=len(edges),
        anomalies=sorted(anomalies),
    )
