"""A buyer's upstream supply graph, loaded in one recursive SQL query (plus a fixed
handful for mines, owners and companies)."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from operator import itemgetter
from typing import NamedTuple

from django.db import connection
from django.db.models import F, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, NullIf

from taxonomy.models import Cell, Mineral

from ..coverage import STAGE_PREFIX
from ..models import (
    Company,
    Facility,
    MinedSource,
    MineOwnership,
    SourceLink,
    SupplyRelationship,
)
from .flows import _in_period


class Edge(NamedTuple):
    """A tuple, not a dataclass: a trace loads tens of thousands of them."""

    id: int | str
    supplier: int | str
    buyer: int | str
    volume: float | None
    share: float | None
    stage: str
    material: str
    country: str  # the supplier facility's country, else the supplier's
    hypothetical: bool = False


@dataclass(slots=True)  # slots: thousands per graph, fewer objects to collect
class Link:
    id: int | str
    mine: int
    company: int | str
    volume: float
    hypothetical: bool = False


@dataclass(slots=True)
class MineInfo:
    name: str
    country: str
    method: str
    cahra: bool
    operator: int | None
    operator_name: str
    owners: list[tuple[int, str, float]] = field(default_factory=list)
    origin: str = ""  # black mass: pre_consumer | post_consumer


@dataclass(slots=True)
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


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector paused while a trace builds its tens of thousands of
    tuples and floats (no reference cycles among them): otherwise each collection walks
    them all again, a third of the trace's time. Left paused if someone else paused it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


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


def upstream_edges_cte(seeds: list[int], mineral_id: int, as_of: dt.date | None) -> list[Edge]:
    """Every edge upstream of the seeds for one mineral, in one recursive query, as
    `Edge`s: the database casts the volumes to floats and cuts the stage's prefix, so
    the rows need no conversion in Python."""
    rel = SupplyRelationship._meta.db_table
    fac = Facility._meta.db_table
    cell = Cell._meta.db_table
    company = Company._meta.db_table
    upstream, upstream_params = upstream_sql(seeds, mineral_id, as_of)
    period, params = _period_sql("r", as_of)
    postgres = connection.vendor == "postgresql"
    sql = f"""
        SELECT r.id, r.supplier_id, r.buyer_id, CAST(r.volume_t AS DOUBLE PRECISION),
               CAST(r.share_pct AS DOUBLE PRECISION), SUBSTR(c.code, %s), r.material,
               COALESCE(NULLIF(f.country, ''), s.country){", FALSE" if postgres else ""}
        FROM {rel} r
        JOIN {cell} c ON c.id = r.stage_id
        JOIN {company} s ON s.id = r.supplier_id
        LEFT JOIN {fac} f ON f.id = r.supplier_facility_id
        WHERE r.buyer_id IN ({upstream}) AND r.mineral_id = %s AND {period}
    """
    with connection.cursor() as cursor:
        if postgres:
            # PostgreSQL returns a real boolean for `hypothetical` (SQLite would say 0),
            # so psycopg can make each row an Edge in C, with no Python call per row.
            cursor.cursor.row_factory = _edge_rows
        cursor.execute(sql, [len(STAGE_PREFIX) + 1, *upstream_params, mineral_id, *params])
        rows = cursor.fetchall()
        return rows if postgres else [Edge(*r) for r in rows]


def _edge_rows(_cursor) -> Callable[[Sequence], Edge]:
    """A psycopg row factory: each fetched row is made an Edge directly."""
    return partial(tuple.__new__, Edge)


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


def ids_subquery(ids: Iterable[int]) -> RawSQL:
    """Known company ids as a subquery with one parameter (a PostgreSQL array, a JSON
    array on SQLite): the graph's companies are known once its edges are loaded, and
    the recursive query need not run again for each question asked of them."""
    text = ",".join(map(str, sorted({i for i in ids if isinstance(i, int)})))
    # As text: psycopg adapts a Python list of thousands of ints slowly.
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::bigint[])", [f"{{{text}}}"])
    return RawSQL("SELECT value FROM json_each(%s)", [f"[{text}]"])


def _per_tier_edges(seeds: list[int], mineral_id: int, as_of: dt.date | None):
    rows, queries = upstream_edges_per_tier(seeds, mineral_id, as_of)

    def number(value) -> float | None:
        return float(value) if value is not None else None

    edges = [
        Edge(r[0], r[1], r[2], number(r[3]), number(r[4]), r[5].split(".", 1)[1], r[6], r[7])
        for r in rows
    ]
    return edges, queries


def load_graph(
    buyer: Company,
    mineral: Mineral,
    as_of: dt.date | None = None,
    extra_seeds: Iterable[int] = (),
    per_tier: bool = False,
) -> Graph:
    """The edges (one recursive query), then the mines, their owners and the companies
    named, each one query over the companies the edges name."""
    with paused_gc():  # throughout: each collection would walk the edges again
        return _load_graph(buyer, mineral, as_of, [buyer.pk, *extra_seeds], per_tier)


def _load_graph(
    buyer: Company, mineral: Mineral, as_of: dt.date | None, seeds: list[int], per_tier: bool
) -> Graph:
    if per_tier:
        edges, queries = _per_tier_edges(seeds, mineral.pk, as_of)
    else:
        edges, queries = upstream_edges_cte(seeds, mineral.pk, as_of), 1
    # The seeds and every supplier: the recursive query's company set, without rerunning it.
    upstream = ids_subquery({*seeds, *map(itemgetter(1), edges)})  # in C: 10^5 edges
    links, mines = _links_and_mines(upstream, mineral, as_of)
    owner_ids = _add_owners(mines)
    named = {m.operator for m in mines.values() if m.operator is not None} | owner_ids
    companies = _company_info(upstream, ids_subquery(named))
    for mine in mines.values():  # the operators are among the companies read
        if mine.operator is not None and (info := companies.get(mine.operator)):
            mine.operator_name = info.name
    return Graph(
        buyer.pk, mineral.code, edges, links, mines, companies, queries + 3, upstream=upstream
    )


def _links_and_mines(
    upstream: RawSQL, mineral: Mineral, as_of: dt.date | None
) -> tuple[list[Link], dict[int, MineInfo]]:
    """On a bare cursor, volumes cast in SQL: thousands of rows, no ORM cost per row.
    The operators' names are added with the companies (`_company_info`)."""
    link, fac = SourceLink._meta.db_table, Facility._meta.db_table
    mine = MinedSource._meta.db_table
    period, params = _period_sql("l", as_of)
    sql = f"""
        SELECT l.id, l.mine_id, f.company_id, CAST(l.volume_t AS DOUBLE PRECISION), m.name,
               m.country, m.method, m.cahra, m.operator_id, m.recycled_origin
        FROM {link} l
        JOIN {fac} f ON f.id = l.facility_id
        JOIN {mine} m ON m.id = l.mine_id
        WHERE f.company_id IN ({upstream.sql}) AND l.mineral_id = %s AND {period}
        ORDER BY l.id
    """
    links: list[Link] = []
    mines: dict[int, MineInfo] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [*upstream.params, mineral.pk, *params])
        for lid, mine_id, company_id, volume, *info in cursor.fetchall():
            name, country, method, cahra, op, origin = info
            links.append(Link(lid, mine_id, company_id, volume))
            mines[mine_id] = MineInfo(name, country, method, bool(cahra), op, "", origin=origin)
    return links, mines


def _add_owners(mines: dict[int, MineInfo]) -> set[int]:
    """Each mine's owners with their shares (one query); returns the owners' ids."""
    owners: set[int] = set()
    if not mines:
        return owners
    rows = MineOwnership.objects.filter(mine_id__in=ids_subquery(mines)).values_list(
        "mine_id", "company_id", "company__legal_name", "share_pct"
    )
    for mine_id, company_id, name, share in rows:
        mines[mine_id].owners.append((company_id, name, float(share)))
        owners.add(company_id)
    return owners


def _company_info(*subqueries: RawSQL) -> dict[int | str, CompanyInfo]:
    """The companies in any of the subqueries, on a bare cursor: thousands of rows."""
    where = " OR ".join(f"id IN ({q.sql})" for q in subqueries)
    sql = f"""
        SELECT id, legal_name, country, state_owner,
               CAST(state_ownership_pct AS DOUBLE PRECISION)
        FROM {Company._meta.db_table} WHERE {where}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [p for q in subqueries for p in q.params])
        return {
            pk: CompanyInfo(name, country, owner or "", pct)
            for pk, name, country, owner, pct in cursor.fetchall()
        }
