"""A buyer's upstream supply graph, loaded in one recursive SQL query (plus a fixed
handful for mines, owners and companies); its edges held as columns (EdgeTable)."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import NamedTuple, overload

import numpy as np
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
    """One relationship as a trace reads it. A graph holds its edges as an EdgeTable
    (columns) and makes an Edge only when one is asked for."""

    id: int | str
    supplier: int | str
    buyer: int | str
    volume: float | None
    share: float | None
    stage: str
    material: str
    country: str  # the supplier facility's country, else the supplier's
    hypothetical: bool = False


def _scalar(value):
    return value.item() if isinstance(value, np.generic) else value


def _ids(values: Sequence) -> np.ndarray:
    """Ids as int64, or as objects where some are text (a what-if's new companies): text
    stays text, even "12", never taken for company 12."""
    if not len(values):
        return np.zeros(0, dtype=np.int64)
    ids = np.array(values)
    if ids.dtype.kind in "iu":
        return ids.astype(np.int64)
    return np.array(values, dtype=object)


def _floats(values: Sequence[float | None]) -> np.ndarray:
    return np.array(values, dtype=float)  # None -> NaN


def _optional(values: np.ndarray) -> list[float | None]:
    return [None if v != v else v for v in values.tolist()]  # NaN -> None


class EdgeTable(Sequence[Edge]):
    """A graph's edges as columns, read as `Edge`s one at a time: a trace works on the
    columns (numbers as arrays, NaN for a missing volume or share; text as lists), and
    tens of thousands of tuples are made only when someone walks the edges."""

    __slots__ = (
        "id",
        "supplier",
        "buyer",
        "volume",
        "share",
        "stage",
        "material",
        "country",
        "hypothetical",
    )

    def __init__(
        self,
        id: np.ndarray,
        supplier: np.ndarray,
        buyer: np.ndarray,
        volume: np.ndarray,
        share: np.ndarray,
        stage: list[str],
        material: list[str],
        country: list[str],
        hypothetical: np.ndarray | None = None,
    ):
        self.id, self.supplier, self.buyer = id, supplier, buyer
        self.volume, self.share = volume, share
        self.stage, self.material, self.country = stage, material, country
        self.hypothetical = (
            hypothetical if hypothetical is not None else np.zeros(len(id), dtype=bool)
        )

    @classmethod
    def of(cls, edges: Iterable[Edge]) -> EdgeTable:
        """The table of a list of edges (or rows in Edge's order); a table as it is."""
        if isinstance(edges, EdgeTable):
            return edges
        rows = list(edges)
        if not rows:
            return cls(_ids([]), _ids([]), _ids([]), _floats([]), _floats([]), [], [], [])
        columns = list(zip(*rows, strict=True))
        hypothetical = np.array(columns[8], dtype=bool) if len(columns) > 8 else None
        return cls(
            _ids(columns[0]),
            _ids(columns[1]),
            _ids(columns[2]),
            _floats(columns[3]),
            _floats(columns[4]),
            list(columns[5]),
            list(columns[6]),
            list(columns[7]),
            hypothetical,
        )

    def __len__(self) -> int:
        return len(self.id)

    def take(self, mask: np.ndarray) -> EdgeTable:
        """The edges where `mask` is true, in order."""
        return self._at(np.flatnonzero(mask))

    def rows(self, positions: Sequence[int] | np.ndarray) -> list[Edge]:
        """The edges at some positions, in that order, made in one pass over the columns
        (an Edge each by index would read nine arrays one element at a time)."""
        return list(self._at(np.asarray(positions, dtype=np.intp)))

    def _at(self, at: np.ndarray) -> EdgeTable:
        stage, material, country = [
            [column[p] for p in at.tolist()] for column in (self.stage, self.material, self.country)
        ]
        return EdgeTable(
            self.id[at],
            self.supplier[at],
            self.buyer[at],
            self.volume[at],
            self.share[at],
            stage,
            material,
            country,
            self.hypothetical[at],
        )

    def suppliers(self) -> set[int | str]:
        return set(self.supplier.tolist())

    def supplied_by(self, companies: Collection) -> np.ndarray:
        """Which edges one of `companies` supplies (ids; a what-if's may be text)."""
        if self.supplier.dtype == object:
            return np.fromiter(map(set(companies).__contains__, self.supplier.tolist()), bool)
        ids = [c for c in companies if isinstance(c, (int, np.integer))]
        return np.isin(self.supplier, np.array(ids, dtype=np.int64))

    @overload
    def __getitem__(self, index: int) -> Edge: ...

    @overload
    def __getitem__(self, index: slice) -> list[Edge]: ...

    def __getitem__(self, index):
        if isinstance(index, slice):
            return list(self)[index]
        volume, share = float(self.volume[index]), float(self.share[index])
        return Edge(
            _scalar(self.id[index]),
            _scalar(self.supplier[index]),
            _scalar(self.buyer[index]),
            None if volume != volume else volume,
            None if share != share else share,
            self.stage[index],
            self.material[index],
            self.country[index],
            bool(self.hypothetical[index]),
        )

    def __iter__(self) -> Iterator[Edge]:
        columns = zip(
            self.id.tolist(),
            self.supplier.tolist(),
            self.buyer.tolist(),
            _optional(self.volume),
            _optional(self.share),
            self.stage,
            self.material,
            self.country,
            self.hypothetical.tolist(),
            strict=True,
        )
        return map(Edge._make, columns)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (EdgeTable, list, tuple)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal to lists, as a list is

    def __repr__(self) -> str:
        return f"<EdgeTable of {len(self)} edges>"


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
    edges: Sequence[Edge]  # an EdgeTable as loaded; a list where a caller edits them
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


def upstream_edges_cte(seeds: list[int], mineral_id: int, as_of: dt.date | None) -> EdgeTable:
    """Every edge upstream of the seeds for one mineral, in one recursive query, as an
    EdgeTable. On PostgreSQL each column comes back as one value (numbers packed as
    8-byte binary, text joined by a separator) and is read straight into an array: no
    tuple or number object per row. SQLite returns rows."""
    rel = SupplyRelationship._meta.db_table
    fac = Facility._meta.db_table
    cell = Cell._meta.db_table
    company = Company._meta.db_table
    upstream, upstream_params = upstream_sql(seeds, mineral_id, as_of)
    period, params = _period_sql("r", as_of)
    columns = [
        "r.id",
        "r.supplier_id",
        "r.buyer_id",
        "CAST(r.volume_t AS DOUBLE PRECISION)",
        "CAST(r.share_pct AS DOUBLE PRECISION)",
        "SUBSTR(c.code, %s)",
        "r.material",
        "COALESCE(NULLIF(f.country, ''), s.country)",
    ]
    source = f"""
        FROM {rel} r
        JOIN {cell} c ON c.id = r.stage_id
        JOIN {company} s ON s.id = r.supplier_id
        LEFT JOIN {fac} f ON f.id = r.supplier_facility_id
        WHERE r.buyer_id IN ({upstream}) AND r.mineral_id = %s AND {period}
    """
    args = [len(STAGE_PREFIX) + 1, *upstream_params, mineral_id, *params]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SELECT {', '.join(_packed(columns))} {source}", args)
            if (table := _unpacked(cursor.fetchone())) is not None:
                return table
            # Some text held the separator (no valid code does): read the rows instead.
        cursor.execute(f"SELECT {', '.join(columns)} {source}", args)
        return EdgeTable.of(cursor.fetchall())


SEPARATOR = "\x1f"  # ASCII unit separator: in no code, country or material


def _packed(columns: list[str]) -> list[str]:
    """Each selected column aggregated into one value: ids and numbers as big-endian
    8-byte binary (NaN for a missing number), text joined by SEPARATOR. All the
    aggregates of one query read the rows in the same order, so the columns line up."""
    ids = [f"STRING_AGG(INT8SEND(CAST({c} AS BIGINT)), '')" for c in columns[:3]]
    numbers = [f"STRING_AGG(FLOAT8SEND(COALESCE({c}, 'NaN')), '')" for c in columns[3:5]]
    text = [f"STRING_AGG(COALESCE({c}, ''), CHR(31))" for c in columns[5:]]
    return [*ids, *numbers, *text, "COUNT(*)"]


def _unpacked(row: Sequence) -> EdgeTable | None:
    """The packed columns read into a table; None if some text held the separator."""
    *packed, count = row
    if not count:
        return EdgeTable.of([])
    edge, supplier, buyer = (np.frombuffer(packed[i], ">i8").astype(np.int64) for i in range(3))
    volume, share = (np.frombuffer(packed[i], ">f8").astype(float) for i in (3, 4))
    stage, material, country = (packed[i].split(SEPARATOR) for i in (5, 6, 7))
    if not len(stage) == len(material) == len(country) == count:
        return None
    return EdgeTable(edge, supplier, buyer, volume, share, stage, material, country)


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


def ids_subquery(ids: Iterable[int | str]) -> RawSQL:
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
        rows, queries = _per_tier_edges(seeds, mineral.pk, as_of)
        edges = EdgeTable.of(rows)
    else:
        edges, queries = upstream_edges_cte(seeds, mineral.pk, as_of), 1
    # The seeds and every supplier: the recursive query's company set, without rerunning it.
    upstream = ids_subquery(edges.suppliers().union(seeds))
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
