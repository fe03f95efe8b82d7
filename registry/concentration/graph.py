"""A buyer's upstream supply graph, loaded in one recursive SQL query (plus a fixed
handful for mines, owners and companies)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import F, Q, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, NullIf

from taxonomy.models import Cell, Mineral

from ..models import Company, Facility, MineOwnership, SourceLink, SupplyRelationship
from .flows import _in_period


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
