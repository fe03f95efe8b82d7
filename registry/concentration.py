"""Supply concentration: HHI from published production and from the registry's flows,
and a buyer's supply traced upstream to the mines.

Tracing loads the buyer's whole upstream graph in one recursive SQL query (plus a
fixed handful for mines, owners, companies and coverage) and does the arithmetic
in memory, in one pass over the edges in topological order.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field

from django.db import connection
from django.db.models import F, Q, Sum, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, NullIf
from django_countries import countries

from config.errors import InvalidInput, MissingReferenceData
from taxonomy.models import Cell, Mineral

from .models import (
    Company,
    Facility,
    MineOwnership,
    ProductionStatistic,
    Rule,
    SourceLink,
    SupplyRelationship,
)

# --- HHI -------------------------------------------------------------------


def hhi(shares_pct: Iterable[float]) -> float:
    """Herfindahl-Hirschman index from percentage shares (0 to 10,000)."""
    return round(sum(s * s for s in shares_pct), 1)


@dataclass
class Band:
    rule: str
    label: str  # unconcentrated | moderately concentrated | highly concentrated
    moderate_from: float
    high_above: float
    source: str


def band_for(value: float, rule: Rule) -> Band:
    moderate, high = rule.params["moderate_from"], rule.params["high_above"]
    if value > high:
        label = "highly concentrated"
    elif value >= moderate:
        label = "moderately concentrated"
    else:
        label = "unconcentrated"
    return Band(rule.code, label, moderate, high, rule.source)


def hhi_rule(code: str | None = None) -> Rule:
    rules = Rule.objects.filter(kind=Rule.Kind.HHI_BANDS)
    rule = rules.filter(code=code).first() if code else rules.order_by("code").first()
    if rule is None and code:
        raise InvalidInput(f"Unknown HHI threshold set {code!r}", field="thresholds")
    if rule is None:
        raise MissingReferenceData("No HHI rule loaded")
    return rule


@dataclass
class Share:
    key: str
    label: str
    amount: float
    share_pct: float


@dataclass
class Concentration:
    shares: list[Share]
    hhi: float
    band: Band
    total: float
    note: str = ""

    @property
    def top(self) -> list[Share]:
        return self.shares[:5]


def concentration_of(
    amounts: dict[str, float], labels: dict[str, str], rule: Rule, note: str = ""
) -> Concentration:
    total = sum(amounts.values())
    shares = sorted(
        (
            Share(
                key,
                labels.get(key, key),
                round(amount, 3),
                round(100 * amount / total, 4) if total else 0.0,
            )
            for key, amount in amounts.items()
            if amount > 0
        ),
        key=lambda s: (-s.amount, s.key),
    )
    value = hhi(100 * amount / total for amount in amounts.values()) if total else 0.0
    return Concentration(shares, value, band_for(value, rule), round(total, 3), note)


# --- From published production statistics ----------------------------------

UNLISTED = {
    "other": "Unlisted producers ('Other countries', or the world total less the listed "
    "countries) count as one producer.",
    "excluded": "Unlisted producers are left out; shares are of the listed countries' total.",
}


class ConcentrationInputError(InvalidInput):
    pass


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


# --- From the registry's own flows ------------------------------------------


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
    if stage == "mining":
        links = SourceLink.objects.filter(mineral__code=mineral)
        links = _in_period(links, as_of)
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
    note = "From the registry's recorded flows (tonnes of contained metal)."
    if stage == "mining" and by == "company":
        note += f" Companies by {attribution}."
    return concentration_of(dict(amounts), labels, rule, note)


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


def _country_labels(amounts) -> dict[str, str]:

    return {code: dict(countries).get(code, code) for code in amounts}


def _in_period(queryset, as_of: dt.date | None):
    if as_of is None:
        return queryset

    return queryset.filter(
        (Q(period_start__isnull=True) | Q(period_start__lte=as_of))
        & (Q(period_end__isnull=True) | Q(period_end__gte=as_of))
    )


# --- A buyer's supply graph -------------------------------------------------


@dataclass
class Edge:
    id: int | str
    supplier: int | str
    buyer: int | str
    volume: float | None
    share: float | None
    stage: str
    material: str
    country: str  # the supplier facility's country, else the supplier's
    hypothetical: bool = False


@dataclass
class Link:
    id: int | str
    mine: int
    company: int | str
    volume: float
    hypothetical: bool = False


@dataclass
class MineInfo:
    name: str
    country: str
    method: str
    cahra: bool
    operator: int | None
    operator_name: str
    owners: list[tuple[int, str, float]] = field(default_factory=list)
    origin: str = ""  # black mass: pre_consumer | post_consumer


@dataclass
class CompanyInfo:
    name: str
    country: str
    state_owner: str
    state_pct: float | None


@dataclass
class Graph:
    buyer: int | str
    mineral: str
    edges: list[Edge]
    links: list[Link]
    mines: dict[int, MineInfo]
    companies: dict[int | str, CompanyInfo]
    queries: int = 0
    # The graph's companies as a subquery (load_graph), for questions asked of all of them.
    upstream: RawSQL | None = None


def _chunks(ids: list, size: int = 5000):
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def _period_sql(alias: str, as_of: dt.date | None) -> tuple[str, list]:
    if as_of is None:
        return "1=1", []
    return (
        f"({alias}.period_start IS NULL OR {alias}.period_start <= %s) AND "
        f"({alias}.period_end IS NULL OR {alias}.period_end >= %s)",
        [as_of, as_of],
    )


def upstream_sql(seeds: list[int], mineral_id: int, as_of: dt.date | None) -> tuple[str, list]:
    """The ids of the seeds and every company upstream of them for one mineral, as one
    recursive query (SQL and parameters) to use as a subquery: the set stays in the
    database, never sent back as a list of ids. UNION (not UNION ALL) keeps each company
    once, so a cycle cannot loop. Portable: PostgreSQL and SQLite both take a WITH
    RECURSIVE inside `IN (...)`."""
    rel = SupplyRelationship._meta.db_table
    company = Company._meta.db_table
    period, params = _period_sql("r", as_of)
    seed_marks = ", ".join(["%s"] * len(seeds))
    sql = f"""
        WITH RECURSIVE upstream(company_id) AS (
            SELECT id FROM {company} WHERE id IN ({seed_marks})
            UNION
            SELECT r.supplier_id FROM {rel} r
            JOIN upstream u ON r.buyer_id = u.company_id
            WHERE r.mineral_id = %s AND {period}
        )
        SELECT company_id FROM upstream
    """
    return sql, [*seeds, mineral_id, *params]


def upstream_edges_cte(seeds: list[int], mineral_id: int, as_of: dt.date | None) -> list[tuple]:
    """Every edge upstream of the seeds for one mineral, in one recursive query."""
    rel = SupplyRelationship._meta.db_table
    fac = Facility._meta.db_table
    cell = Cell._meta.db_table
    company = Company._meta.db_table
    upstream, upstream_params = upstream_sql(seeds, mineral_id, as_of)
    period, params = _period_sql("r", as_of)
    sql = f"""
        SELECT r.id, r.supplier_id, r.buyer_id, r.volume_t, r.share_pct, c.code, r.material,
               COALESCE(NULLIF(f.country, ''), s.country)
        FROM {rel} r
        JOIN {cell} c ON c.id = r.stage_id
        JOIN {company} s ON s.id = r.supplier_id
        LEFT JOIN {fac} f ON f.id = r.supplier_facility_id
        WHERE r.buyer_id IN ({upstream}) AND r.mineral_id = %s AND {period}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [*upstream_params, mineral_id, *params])
        return cursor.fetchall()


def upstream_edges_per_tier(
    seeds: list[int], mineral_id: int, as_of: dt.date | None
) -> tuple[list[tuple], int]:
    """The same edges with one query per tier: the portable fallback, and the
    benchmark's point of comparison. Returns (rows, queries run)."""

    seen: set[int] = set(seeds)
    frontier = list(seeds)
    rows: list[tuple] = []
    queries = 0
    while frontier:
        next_frontier: list[int] = []
        for chunk in _chunks(frontier):
            qs = (
                _in_period(
                    SupplyRelationship.objects.filter(buyer_id__in=chunk, mineral_id=mineral_id),
                    as_of,
                )
                .annotate(
                    stage_code=F("stage__code"),
                    where=Coalesce(
                        NullIf("supplier_facility__country", Value("")), "supplier__country"
                    ),
                )
                .values_list(
                    "id",
                    "supplier_id",
                    "buyer_id",
                    "volume_t",
                    "share_pct",
                    "stage_code",
                    "material",
                    "where",
                )
            )
            batch = list(qs)
            queries += 1
            rows.extend(batch)
            for row in batch:
                if row[1] not in seen:
                    seen.add(row[1])
                    next_frontier.append(row[1])
        frontier = next_frontier
    return rows, queries


def load_graph(
    buyer: Company,
    mineral: Mineral,
    as_of: dt.date | None = None,
    extra_seeds: Iterable[int] = (),
    per_tier: bool = False,
) -> Graph:
    seeds = [buyer.pk, *extra_seeds]
    if per_tier:
        rows, queries = upstream_edges_per_tier(seeds, mineral.pk, as_of)
    else:
        rows, queries = upstream_edges_cte(seeds, mineral.pk, as_of), 1
    edges = [
        Edge(
            r[0],
            r[1],
            r[2],
            float(r[3]) if r[3] is not None else None,
            float(r[4]) if r[4] is not None else None,
            r[5].split(".", 1)[1],
            r[6],
            r[7],
        )
        for r in rows
    ]
    upstream = RawSQL(*upstream_sql(seeds, mineral.pk, as_of))
    links: list[Link] = []
    mines: dict[int, MineInfo] = {}
    sources = _in_period(
        SourceLink.objects.filter(facility__company_id__in=upstream, mineral=mineral), as_of
    )
    link_rows = sources.values_list(
        "id",
        "mine_id",
        "facility__company_id",
        "volume_t",
        "mine__name",
        "mine__country",
        "mine__method",
        "mine__cahra",
        "mine__operator_id",
        "mine__operator__legal_name",
        "mine__recycled_origin",
    )
    for (
        lid,
        mine_id,
        company_id,
        volume,
        name,
        country,
        method,
        cahra,
        op,
        op_name,
        origin,
    ) in link_rows:
        links.append(Link(lid, mine_id, company_id, float(volume)))
        mines[mine_id] = MineInfo(name, country, method, cahra, op, op_name or "", origin=origin)
    owners = MineOwnership.objects.filter(mine_id__in=sources.values("mine_id"))
    for mine_id, company_id, name, share in owners.values_list(
        "mine_id", "company_id", "company__legal_name", "share_pct"
    ):
        mines[mine_id].owners.append((company_id, name, float(share)))
    companies = _company_info(
        Company.objects.filter(
            Q(pk__in=upstream)
            | Q(pk__in=sources.values("mine__operator_id"))
            | Q(pk__in=owners.values("company_id"))
        )
    )
    queries += 3
    return Graph(buyer.pk, mineral.code, edges, links, mines, companies, queries, upstream=upstream)


def _company_info(companies) -> dict[int | str, CompanyInfo]:
    return {
        pk: CompanyInfo(name, country, owner or "", float(pct) if pct is not None else None)
        for pk, name, country, owner, pct in companies.values_list(
            "pk", "legal_name", "country", "state_owner", "state_ownership_pct"
        )
    }


# --- Tracing arithmetic ------------------------------------------------------

PROCESSING_STAGES = ("refining", "cathode")


@dataclass
class Cycle:
    path: list[int | str]  # company ids, first == last
    names: list[str]


@dataclass
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
    flows: list[FlowMass]
    stage_country_mass: dict[str, dict[str, float]]  # stage -> country -> % of supply
    stage_flows: dict[str, list[FlowMass]]
    predicate_pct: dict[str, float]
    predicate_flows: dict[str, list[FlowMass]]
    tiers: int
    edge_count: int
    anomalies: list[str]


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
    if total_explicit > 1:
        anomalies.append("reported shares exceed 100%; scaled down")
        explicit = [(e, w / total_explicit) for e, w in explicit]
        total_explicit = 1.0
    rest = 1 - total_explicit
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

    # Predicates on paths: once a path meets one, its mass counts as meeting it.
    def concern_entity(cid: int | str | None) -> bool:
        if concern is None or cid not in graph.companies:
            return False
        info, p = graph.companies[cid], concern.params
        return info.name in p.get("companies", []) or (
            info.state_owner in p.get("state_owner_countries", [])
            and (info.state_pct is None or info.state_pct >= p.get("state_share_min_pct", 0))
        )

    fta = set(ira.params["fta_countries"]) if ira else set()
    north_america = set(ira.params["north_america"]) if ira else set()
    concern_countries = set(concern.params.get("countries", [])) if concern else set()

    def recycled_edge(e: Edge) -> bool:
        return e.stage == "recycling" or e.material == "black_mass"

    # Each recycled flow counts once, where it is first met: a recycling edge, or a
    # black-mass source. Pre-consumer is the part of it that traces to pre-consumer scrap;
    # post-consumer is the rest (recycled - pre), the usual case for flows with no source.
    edge_tests: dict[str, Callable[[Edge], bool]] = {
        "recycled": recycled_edge,
        "recycled_pre": lambda e: False,
    }
    leaf_tests: dict[str, Callable[[MineInfo], bool]] = {
        "recycled": lambda m: m.method == "black_mass",
        "recycled_pre": lambda m: m.method == "black_mass" and m.origin == "pre_consumer",
    }
    if concern:
        edge_tests["concern"] = lambda e: (
            e.country in concern_countries or concern_entity(e.supplier)
        )
        leaf_tests["concern"] = lambda m: (
            m.country in concern_countries or concern_entity(m.operator)
        )
    if ira:
        edge_tests["ira_qualifying"] = lambda e: (
            (e.stage == "refining" and e.country in fta)
            or (e.stage == "recycling" and e.country in north_america)
        )
        leaf_tests["ira_qualifying"] = lambda m: (
            (m.method != "black_mass" and m.country in fta)
            or (m.method == "black_mass" and m.country in north_america)
        )

    def supplied_by(companies: set) -> Callable[[Edge], bool]:
        return lambda e: e.supplier in companies

    for cell, companies in lacking.items():
        edge_tests[f"lacking:{cell}"] = supplied_by(companies)
        leaf_tests[f"lacking:{cell}"] = lambda m: False
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
        anomalies += [f"{name(node)}: {n}" for n in notes]
        untraced += m * unexplained
        for item, w in weighted:
            flow = m * w
            if isinstance(item, Edge):
                edge_mass[item.id] = edge_mass.get(item.id, 0) + flow
                mass[item.supplier] += flow
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
                downstream_count[item.supplier] -= 1
                if downstream_count[item.supplier] == 0:
                    ready.append(item.supplier)
            else:
                link_mass[item.id] = link_mass.get(item.id, 0) + flow
                mine = graph.mines[item.mine]
                for p in names:
                    carried = open_mass[p][node] * w
                    if carried and leaf_tests[p](mine):
                        met[p] += carried
                        met_flows[p].append(_link_flow(item, mine, carried, name))

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
        predicate_flows=met_flows,
        tiers=max(depth.values()) if depth else 0,
        edge_count=len(edges),
        anomalies=sorted(set(anomalies)),
    )


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
