"""Tracing arithmetic: the buyer's supply pushed upstream through the graph in one
pass in topological order, then each path predicate carried along the same pushes.

The steps, each a function: the edges that carry material to the buyer, cycles left out
(`acyclic_edges`); each company's inputs weighted (`weights`); the mass pushed upstream
(`propagate`); each predicate carried along the recorded pushes (`carry`); shares by mine
(`mine_shares`) and at the processing stages (`processing_shares`); the flows
(`flow_list`); and the Trace put together (`trace`). Edges are tuples (`Edge`) and the
pushes plain lists: a trace walks tens of thousands of them."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from operator import attrgetter, itemgetter

from ..models import Rule
from .graph import CompanyInfo, Edge, Graph, Link, MineInfo, paused_gc
from .hhi import Concentration, _country_labels, concentration_of, hhi_rule
from .rules import never, path_predicates

PROCESSING_STAGES = ("refining", "cathode")
VOLUME, SHARE = itemgetter(3), itemgetter(4)  # Edge fields, read in C

Node = int | str
EdgesIn = defaultdict[Node, list[Edge]]
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
    predicate_flows: dict[str, list[FlowMass]]
    tiers: int
    edge_count: int
    anomalies: list[str]


class Names(dict):
    """Company id -> name; an id not in the graph reads as itself."""

    def __missing__(self, key: Node) -> str:
        return str(key)


# --- Which edges: reachable from the buyer, cycles left out -------------------------


def _by_buyer(edges: list[Edge]) -> defaultdict[Node, list[Edge]]:
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


def _reachable(buyer: Node, edges: list[Edge]) -> tuple[list[Edge], EdgesIn, int]:
    """Only edges that carry material towards the buyer (what-if seeds may add others),
    grouped by buyer too, and how many companies they reach, the buyer included."""
    upstream = _by_buyer(edges)
    seen, stack = {buyer}, [buyer]
    while stack:
        for edge in upstream[stack.pop()]:
            if edge.supplier not in seen:
                seen.add(edge.supplier)
                stack.append(edge.supplier)
    if upstream.keys() <= seen:  # every buyer reached: keep all
        return edges, upstream, len(seen)
    kept = defaultdict(list, {b: group for b, group in upstream.items() if b in seen})
    return [e for e in edges if e.buyer in seen], kept, len(seen)


# --- Weights and the mass pushed upstream ----------------------------------------


@dataclass(slots=True)
class Weights:
    """A company's inputs and each one's share of its supply, in the order pushed
    (parallel lists: no tuple per edge)."""

    edges: list[Edge]
    shares: list[float]
    links: list[Link]
    link_shares: list[float]
    unexplained: float
    anomaly: str = ""


def weights(edges_in: list[Edge], links_in: list[Link]) -> Weights:
    """Reported shares first, the rest split by volume among the edges without a share
    and the mine links; what neither explains is untraced."""
    if not edges_in:  # a company fed by mines alone, or by nothing recorded
        total = sum([link.volume for link in links_in])
        if total > 0:
            return Weights([], [], list(links_in), [v.volume / total for v in links_in], 0.0)
        return Weights([], [], [], [], 1)
    volumes = list(map(VOLUME, edges_in))
    if list(map(SHARE, edges_in)).count(None) == len(edges_in) and None not in volumes:
        return _volume_weights(edges_in, volumes, links_in)
    anomaly = ""
    explicit = [e for e in edges_in if e.share is not None]
    shares = [share / 100 for e in explicit if (share := e.share) is not None]
    total_explicit = sum(shares)
    if total_explicit > 1:
        anomaly = "reported shares exceed 100%; scaled down"
        shares = [w / total_explicit for w in shares]
        total_explicit = 1.0
    rest = 1 - total_explicit
    by_volume = [e for e in edges_in if e.share is None and e.volume is not None]
    volumes = [v for e in by_volume if (v := e.volume) is not None]
    # One sum, edges then links, as the shares were always added up.
    total_volume = sum([*volumes, *(link.volume for link in links_in)])
    if total_volume > 0 and rest > 0:
        shares += [rest * v / total_volume for v in volumes]
        link_shares = [rest * link.volume / total_volume for link in links_in]
        return Weights(explicit + by_volume, shares, list(links_in), link_shares, 0.0, anomaly)
    return Weights(explicit, shares, [], [], rest, anomaly)


def _volume_weights(edges_in: list[Edge], volumes: list[float], links_in: list[Link]) -> Weights:
    """`weights` when every edge has a volume and none a share, the usual case, without
    its passes over the edges: the same divisions in the same order."""
    total_volume = sum([*volumes, *(link.volume for link in links_in)])
    if total_volume > 0:
        shares = [v / total_volume for v in volumes]  # rest is 1: 1 * v is v, exactly
        link_shares = [link.volume / total_volume for link in links_in]
        return Weights(edges_in, shares, list(links_in), link_shares, 0.0)
    return Weights([], [], [], [], 1)


@dataclass
class Pushes:
    """The mass pushed upstream: per company in the order processed, its mass and
    weights; each edge's and link's flow (share of the buyer's supply)."""

    order: list[tuple[Node, Weights]] = field(default_factory=list)
    edge_flow: defaultdict[Node, float] = field(default_factory=lambda: defaultdict(float))
    link_flow: defaultdict[Node, float] = field(default_factory=lambda: defaultdict(float))
    untraced: float = 0.0
    tiers: int = 0
    complete: bool = True  # False: a cycle kept some company from being reached


def propagate(graph: Graph, edges: list[Edge], edges_in: EdgesIn, reachable: int | None) -> Pushes:
    """Kahn's order from the buyer: a company is processed once every edge it supplies
    through has brought it its mass. Incomplete when fewer than the `reachable`
    companies (None: all the edges name) were processed: a cycle, an edge from a
    company the buyer does not reach, or only edges with neither share nor volume."""
    buyer = graph.buyer
    links_in: defaultdict[Node, list[Link]] = defaultdict(list)
    for link in graph.links:
        links_in[link.company].append(link)
    waiting = Counter(map(itemgetter(1), edges))  # edges still to bring mass, by supplier
    out = Pushes(complete=buyer not in waiting)
    if not out.complete:
        return out
    mass: defaultdict[Node, float] = defaultdict(float)
    mass[buyer] = 1.0
    depth = {buyer: 0}
    edge_flow, link_flow, order = out.edge_flow, out.link_flow, out.order
    ready = [buyer]
    while ready:
        node = ready.pop()
        m, d = mass[node], depth[node] + 1
        w = weights(edges_in.get(node, NO_EDGES), links_in.get(node, NO_LINKS))
        order.append((node, w))
        out.untraced += m * w.unexplained
        for edge, share in zip(w.edges, w.shares, strict=True):
            flow = m * share
            edge_flow[edge.id] = flow  # each edge is pushed once, by its one buyer
            supplier = edge.supplier
            mass[supplier] += flow
            if depth.get(supplier, 0) < d:
                depth[supplier] = d
            left = waiting[supplier] - 1
            waiting[supplier] = left
            if not left:
                ready.append(supplier)
        for link, share in zip(w.links, w.link_shares, strict=True):
            link_flow[link.id] = m * share
    if reachable is None:
        reachable = len(waiting.keys() | edges_in.keys() | {buyer})
    out.complete = len(order) == reachable
    out.tiers = max(depth.values())
    return out


def acyclic_pushes(graph: Graph) -> tuple[list[Edge], list[Cycle], Pushes]:
    """Most graphs, as loaded, have every edge reachable and no cycle: push first, and
    only if some company was never processed look for edges the buyer does not reach
    (what-if seeds), then for cycles, and push again without them."""
    edges_in = _by_buyer(graph.edges)
    pushes = propagate(graph, graph.edges, edges_in, None)
    if pushes.complete:
        return graph.edges, [], pushes
    edges, edges_in, reachable = _reachable(graph.buyer, graph.edges)
    if len(edges) < len(graph.edges):
        pushes = propagate(graph, edges, edges_in, reachable)
        if pushes.complete:
            return edges, [], pushes
    edges, cycles = _break_cycles(graph)
    edges, edges_in, reachable = _reachable(graph.buyer, edges)
    return edges, cycles, propagate(graph, edges, edges_in, reachable)


# --- Predicates carried along the pushes --------------------------------------------


def carry(
    pushes: Pushes,
    edges: list[Edge],
    mines: dict[int, MineInfo],
    edge_test: Callable[[Edge], bool],
    leaf_test: Callable[[MineInfo], bool],
    flow_of: FlowMaker,
) -> tuple[float, list[FlowMass]]:
    """The share of the supply whose path meets the predicate, and the flows where it is
    first met. Mass not yet meeting it is carried upstream along the recorded pushes,
    each edge tested at most once; a company none reaches is skipped."""
    if edge_test is never or not any(map(edge_test, edges)):
        return _carry_to_mines(pushes, mines, leaf_test, flow_of)
    open_mass: dict[Node, float] = {pushes.order[0][0]: 1.0}
    get = open_mass.get  # bound once: the loop below runs once per edge
    met = 0.0
    flows: list[FlowMass] = []
    for node, w in pushes.order:
        carried_in = get(node)
        if not carried_in:
            continue
        for edge, share in zip(w.edges, w.shares, strict=True):
            carried = carried_in * share
            if not carried:
                continue
            if edge_test(edge):
                met += carried
                flows.append(flow_of.edge(edge, carried))
            else:
                supplier = edge.supplier
                open_mass[supplier] = get(supplier, 0.0) + carried
        for link, share in zip(w.links, w.link_shares, strict=True):
            carried = carried_in * share
            mine = mines[link.mine]
            if carried and leaf_test(mine):
                met += carried
                flows.append(flow_of.link(link, mine, carried))
    return met, flows


def _carry_to_mines(
    pushes: Pushes,
    mines: dict[int, MineInfo],
    leaf_test: Callable[[MineInfo], bool],
    flow_of: FlowMaker,
) -> tuple[float, list[FlowMass]]:
    """`carry` when no edge meets the predicate: the mass not meeting it is then all the
    mass, the same products in the same order, so only the mine links need a look."""
    met = 0.0
    flows: list[FlowMass] = []
    link_flow = pushes.link_flow
    for _node, w in pushes.order:
        for link in w.links:
            carried = link_flow[link.id]
            mine = mines[link.mine]
            if carried and leaf_test(mine):
                met += carried
                flows.append(flow_of.link(link, mine, carried))
    return met, flows


# --- Shares ------------------------------------------------------------------------


@dataclass
class MineShares:
    country: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    operator: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    equity: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    labels: dict[str, str] = field(default_factory=dict)
    cahra: float = 0.0
    artisanal: float = 0.0


def mine_shares(graph: Graph, link_flow: dict[Node, float]) -> MineShares:
    """By mine country, operator and owners' equity, from the mass reaching the mines."""
    out = MineShares()
    for link in graph.links:
        flow = link_flow.get(link.id, 0.0)
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
    edges: dict[str, list[Edge]]  # stage -> its edges with mass, in edge order
    refiners: defaultdict[str, float]


def processing_shares(
    edges: list[Edge], edge_flow: dict[Node, float], labels: dict[str, str], names: Names
) -> ProcessingShares:
    """Where each processing step happens and who refines. Refiners' names are added
    to `labels`."""
    out = ProcessingShares(
        {s: defaultdict(float) for s in PROCESSING_STAGES},
        {s: [] for s in PROCESSING_STAGES},
        defaultdict(float),
    )
    for edge in edges:
        stage = edge.stage
        if stage not in out.country:
            continue
        flow = edge_flow.get(edge.id, 0.0)
        if not flow:
            continue
        out.country[stage][edge.country] += flow
        out.edges[stage].append(edge)
        if stage == "refining":
            key = str(edge.supplier)
            out.refiners[key] += flow
            labels[key] = names[edge.supplier]
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


def edge_flows(
    edges: list[Edge], edge_flow: dict[Node, float], flow_of: FlowMaker
) -> list[FlowMass]:
    """Each edge with mass, in edge order."""
    out = []
    for edge in edges:
        flow = edge_flow.get(edge.id, 0.0)
        if flow:
            out.append(flow_of.edge(edge, flow))
    return out


def flow_list(
    graph: Graph,
    edges: list[Edge],
    edge_flow: dict[Node, float],
    link_flow: dict[Node, float],
    flow_of: FlowMaker,
) -> list[FlowMass]:
    """Every edge and mine link with mass, largest first (ties in graph order)."""
    flows = edge_flows(edges, edge_flow, flow_of)
    for link in graph.links:
        flow = link_flow.get(link.id, 0.0)
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
    met_flows: dict[str, list[FlowMass]] = {}
    carried: dict[tuple, tuple[float, list[FlowMass]]] = {}  # rules sharing tests: once
    for p, test in edge_tests.items():
        key = (test, leaf_tests[p])
        if key not in carried:
            carried[key] = carry(pushes, edges, graph.mines, test, leaf_tests[p], flow_of)
        met[p], flows = carried[key]
        met_flows[p] = list(flows)
    by_mine = mine_shares(graph, pushes.link_flow)
    processing = processing_shares(edges, pushes.edge_flow, by_mine.labels, names)
    anomalies = {f"{names[node]}: {w.anomaly}" for node, w in pushes.order if w.anomaly}
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
        flows=LazyFlows(
            partial(flow_list, graph, edges, pushes.edge_flow, pushes.link_flow, flow_of)
        ),
        stage_country_mass={
            s: {c: _pct(v) for c, v in d.items()} for s, d in processing.country.items()
        },
        stage_flows={
            s: LazyFlows(partial(edge_flows, group, pushes.edge_flow, flow_of))
            for s, group in processing.edges.items()
        },
        predicate_pct={p: _pct(v) for p, v in met.items()},
        predicate_flows=met_flows,
        tiers=pushes.tiers,
        edge_count=len(edges),
        anomalies=sorted(anomalies),
    )
