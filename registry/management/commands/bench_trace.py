"""Benchmark: trace a buyer through a synthetic supply graph, against a floor.

The floor is the least any trace must do: fetch the buyer's upstream edges with one
recursive query on a bare DB-API cursor into plain tuples. The figure that matters is
the whole `supply_chain()` (graph, coverage, rules, arithmetic) as a multiple of it.

Each run builds N companies and M supply relationships in tiers (mining -> trading ->
refining -> cathode -> cell -> vehicle), with COPY on PostgreSQL (bulk inserts on
SQLite), inside a transaction rolled back at the end: the database is left as found.
Several runs (`--sizes 10000:100000,100000:1000000`) are printed side by side; the last
line is the first run's `trace / floor` ratio.
"""

import gc
import random
import resource
import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, models, transaction
from django.test.utils import CaptureQueriesContext

from registry.concentration import load_graph, trace, upstream_sql
from registry.models import Company, Facility, MinedSource, SourceLink, SupplyRelationship
from registry.querysets import Requester
from registry.supply import supply_chain
from taxonomy.models import Cell, Mineral

TIERS = [
    ("mining", 0.40),
    ("trading", 0.15),
    ("refining", 0.15),
    ("cathode", 0.12),
    ("cell", 0.10),
    ("vehicle", 0.08),
]
EDGE_SPLIT = [0.25, 0.25, 0.20, 0.15, 0.15]  # edges between consecutive tiers
COUNTRIES = ["CD", "ID", "AU", "CL", "CN", "FI", "KR", "JP", "US", "DE", "ZM", "PH"]
METHODS = ["industrial", "industrial", "artisanal", "black_mass"]


class Rollback(Exception):
    pass


@dataclass
class Run:
    companies: int
    relationships: int
    built_s: float = 0.0
    upstream: str = ""
    rows: dict[str, tuple[float, int | None]] = field(default_factory=dict)  # ms, queries
    peak_rss_mb: float = 0.0

    @property
    def ratio(self) -> float:
        return self.rows["whole"][0] / self.rows["floor"][0]


def parse_sizes(text: str) -> list[tuple[int, int]]:
    try:
        sizes = [tuple(int(n) for n in part.split(":")) for part in text.split(",")]
    except ValueError:
        sizes = []
    if not sizes or any(len(s) != 2 or min(s) < 1 for s in sizes):
        raise CommandError("--sizes: companies:relationships[,companies:relationships...]")
    return sizes  # type: ignore[return-value]


def floor_sql(buyer: int, mineral: int) -> tuple[str, list]:
    """The upstream edges as the trace has always selected them (numbers as decimals,
    stages as codes), for a bare cursor."""
    rel, company = SupplyRelationship._meta.db_table, Company._meta.db_table
    upstream, params = upstream_sql([buyer], mineral, None)
    sql = f"""
        SELECT r.id, r.supplier_id, r.buyer_id, r.volume_t, r.share_pct, c.code, r.material,
               COALESCE(NULLIF(f.country, ''), s.country)
        FROM {rel} r
        JOIN {Cell._meta.db_table} c ON c.id = r.stage_id
        JOIN {company} s ON s.id = r.supplier_id
        LEFT JOIN {Facility._meta.db_table} f ON f.id = r.supplier_facility_id
        WHERE r.buyer_id IN ({upstream}) AND r.mineral_id = %s
    """
    if connection.vendor == "sqlite":
        sql = sql.replace("%s", "?")
    return sql, [*params, mineral]


def _template(model: type[models.Model], **values) -> tuple[list[str], list]:
    """The columns of `model` (not the key) and their values for one instance: the
    defaults every synthetic row shares."""
    instance = model(**values)
    fields = [f for f in model._meta.local_concrete_fields if not f.primary_key]
    return [f.column for f in fields], [
        f.get_db_prep_save(f.pre_save(instance, add=True), connection) for f in fields
    ]


def insert(model: type[models.Model], template: dict, vary: list[str], rows: Iterable[tuple]):
    """Insert rows that differ from `template` only in the `vary` columns: COPY on
    PostgreSQL, batched inserts elsewhere; rows are streamed, never all held at once."""
    columns, base = _template(model, **template)
    at = [columns.index(c) for c in vary]
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for values in rows:
                    row = list(base)
                    for i, v in zip(at, values, strict=True):
                        row[i] = v
                    copy.write_row(row)
            return
        marks = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
        batch: list[list] = []
        for values in rows:
            row = list(base)
            for i, v in zip(at, values, strict=True):
                row[i] = v
            batch.append(row)
            if len(batch) == 5000:
                cursor.executemany(sql, batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)


def new_ids(model: type[models.Model], after: int) -> list[int]:
    return list(model.objects.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True))


def last_id(model: type[models.Model]) -> int:
    return model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


class Command(BaseCommand):
    help = "Trace a buyer through synthetic graphs; the whole supply_chain() against a floor."

    def add_arguments(self, parser):
        parser.add_argument("--companies", type=int, default=10_000)
        parser.add_argument("--relationships", type=int, default=100_000)
        parser.add_argument(
            "--sizes",
            help="companies:relationships,... several runs side by side "
            "(default: --companies:--relationships)",
        )
        parser.add_argument("--repeat", type=int, default=3)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--reported-shares",
            type=float,
            default=0.0,
            help="fraction of relationships recorded with a share of the buyer's supply "
            "instead of a volume (0-1; default 0)",
        )

    def handle(
        self, *args, companies, relationships, sizes, repeat, seed, reported_shares, **options
    ):
        plan = parse_sizes(sizes) if sizes else [(companies, relationships)]
        if not 0 <= reported_shares <= 1:
            raise CommandError("--reported-shares: a fraction from 0 to 1")
        self.reported_shares = reported_shares
        runs = []
        for n_companies, n_edges in plan:
            run = Run(n_companies, n_edges)
            try:
                with transaction.atomic():
                    self.measure(run, repeat, seed)
                    raise Rollback
            except Rollback:
                pass
            runs.append(run)
            self.stdout.write(
                f"{connection.vendor}: {n_companies} companies, {n_edges} relationships: built "
                f"in {run.built_s:.1f} s, measured; synthetic data rolled back"
            )
        self.report(runs, repeat)

    # --- Building -----------------------------------------------------------------

    reported_shares = 0.0

    def build(self, n_companies: int, n_edges: int, rng: random.Random) -> int:
        """The synthetic graph; returns the buyer (the first vehicle maker). A fraction
        `reported_shares` of the relationships carry a share (1-40%, so that a buyer's
        shares often add up to more than 100%) instead of a volume."""
        cobalt = Mineral.objects.get(code="cobalt")
        stages = {
            c.code.split(".", 1)[1]: c.pk
            for c in Cell.objects.filter(dimension__code="application")
        }
        counts = [max(1, int(n_companies * share)) for _, share in TIERS]
        before = last_id(Company)
        insert(
            Company,
            {"legal_name": "", "country": ""},
            ["legal_name", "country"],
            (
                (f"bench {stage} {index}-{i}", rng.choice(COUNTRIES))
                for index, ((stage, _), count) in enumerate(zip(TIERS, counts, strict=True))
                for i in range(count)
            ),
        )
        ids = new_ids(Company, before)
        tiers, start = [], 0
        for count in counts:
            tiers.append(ids[start : start + count])
            start += count
        miners = tiers[0]
        before = last_id(Facility)
        insert(
            Facility,
            {"company_id": miners[0], "name": "", "kind": "mine", "stage_id": stages["mining"]},
            ["company_id", "name", "country"],
            ((pk, f"bench mine site {pk}", rng.choice(COUNTRIES)) for pk in miners),
        )
        facilities = new_ids(Facility, before)
        before = last_id(MinedSource)
        insert(
            MinedSource,
            {"name": "", "country": "CD", "method": "industrial"},
            ["name", "country", "method", "cahra", "operator_id"],
            (
                (
                    f"bench mine {pk}",
                    rng.choice(COUNTRIES),
                    rng.choice(METHODS),
                    rng.random() < 0.3,
                    pk,
                )
                for pk in miners
            ),
        )
        mines = new_ids(MinedSource, before)
        insert(
            SourceLink,
            {
                "mine_id": mines[0],
                "facility_id": facilities[0],
                "mineral_id": cobalt.pk,
                "volume_t": 1,
            },
            ["mine_id", "facility_id", "volume_t"],
            ((m, f, rng.randint(10, 1000)) for m, f in zip(mines, facilities, strict=True)),
        )
        insert(
            SupplyRelationship,
            {
                "supplier_id": miners[0],
                "buyer_id": miners[0],
                "mineral_id": cobalt.pk,
                "stage_id": stages["mining"],
                "material": "intermediate",
                "volume_t": 1,
            },
            ["supplier_id", "buyer_id", "stage_id", "volume_t", "share_pct"],
            self.edges(tiers, n_edges, stages, rng, self.reported_shares),
        )
        if connection.vendor == "postgresql":  # fresh statistics for the planner
            with connection.cursor() as cursor:
                for model in (Company, Facility, MinedSource, SourceLink, SupplyRelationship):
                    cursor.execute(f"ANALYZE {model._meta.db_table}")
        return tiers[-1][0]

    @staticmethod
    def edges(tiers, n_edges, stages, rng, reported_shares: float = 0.0) -> Iterator[tuple]:
        for (lower, upper), split, (stage, _) in zip(
            zip(tiers, tiers[1:], strict=False), EDGE_SPLIT, TIERS, strict=False
        ):
            for _ in range(int(n_edges * split)):
                supplier, buyer = rng.choice(lower), rng.choice(upper)
                if reported_shares and rng.random() < reported_shares:
                    yield supplier, buyer, stages[stage], None, rng.randint(1, 40)
                else:
                    yield supplier, buyer, stages[stage], rng.randint(1, 500), None

    # --- Measuring ----------------------------------------------------------------

    def measure(self, run: Run, repeat: int, seed: int) -> None:
        started = time.perf_counter()
        buyer = Company.objects.get(
            pk=self.build(run.companies, run.relationships, random.Random(seed))
        )
        run.built_s = time.perf_counter() - started
        cobalt = Mineral.objects.get(code="cobalt")
        sql, params = floor_sql(buyer.pk, cobalt.pk)

        def floor():
            cursor = connection.connection.cursor()
            try:
                cursor.execute(sql, params)
                return cursor.fetchall()
            finally:
                cursor.close()

        def whole():
            return supply_chain(
                buyer, cobalt, requester=Requester.everyone(), cells=["content.labor_rights"]
            )

        graph = load_graph(buyer, cobalt)
        steps: dict[str, Callable] = {
            "floor": floor,
            "cte": lambda: load_graph(buyer, cobalt),
            "tiers": lambda: load_graph(buyer, cobalt, per_tier=True),
            "arithmetic": lambda: trace(graph),
            "whole": whole,
        }
        times: dict[str, list[float]] = {name: [] for name in steps}
        queries: dict[str, int] = {}
        sizes: dict[str, int] = {}  # what each step found, not the step's result: one
        # result at a time is held, so the peak RSS is one trace's, not five
        # Interleaved, so that a busy moment of the machine falls on every step alike.
        for _ in range(repeat):
            for name, step in steps.items():
                # Each step from a collected heap: else a full collection of what the
                # steps before left (the graph kept for "arithmetic") falls inside
                # whichever step comes next, and the floor read up to twice its time.
                gc.collect()
                with CaptureQueriesContext(connection) as ctx:
                    t0 = time.perf_counter()
                    result = step()
                    times[name].append(time.perf_counter() - t0)
                queries[name] = len(ctx.captured_queries)
                sizes[name] = self.size(result)
                del result
        if sizes["cte"] != sizes["tiers"]:
            raise CommandError("both loaders must find the same edges")
        if sizes["floor"] != len(graph.edges) or not sizes["whole"]:
            raise CommandError("the floor must fetch the trace's edges, the trace find mines")
        for name in steps:
            run.rows[name] = (
                statistics.median(times[name]) * 1000,
                None if name == "floor" else queries[name],
            )
        run.upstream = (
            f"{len(graph.companies)} companies, {len(graph.edges)} relationships, "
            f"{len(graph.links)} mine links, {sizes['arithmetic']} tiers"
        )
        run.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    @staticmethod
    def size(result) -> int:
        if isinstance(result, list):
            return len(result)  # the floor's rows
        if hasattr(result, "edges"):
            return len(result.edges)  # a graph
        if hasattr(result, "tiers"):
            return result.tiers  # a trace
        return len(result.trace.mine_country.shares)  # a supply chain

    # --- Reporting ----------------------------------------------------------------

    LABELS = {
        "floor": "floor: bare cursor, upstream edges",
        "cte": "load graph, recursive CTE",
        "tiers": "load graph, one query per tier",
        "arithmetic": "arithmetic (trace over the graph)",
        "whole": "whole supply_chain(), coverage + rules",
    }

    def report(self, runs: list[Run], repeat: int) -> None:
        width = 24
        head = "".join(f"{f'{r.companies:,} / {r.relationships:,}':>{width}}" for r in runs)
        self.stdout.write(f"\n{'companies / relationships':<42}{head}")
        for r in runs:
            self.stdout.write(f"  upstream of the buyer ({r.companies:,}): {r.upstream}")
        if self.reported_shares:
            self.stdout.write(
                f"  relationships with a reported share, not a volume: {self.reported_shares:.0%}"
            )
        self.stdout.write(f"median of {repeat}, ms (queries)")
        for name, label in self.LABELS.items():
            cells = ""
            for r in runs:
                ms, q = r.rows[name]
                cells += f"{ms:>{width - 6},.1f}" + (f" ({q:3d})" if q is not None else " " * 6)
            self.stdout.write(f"  {label:<40}{cells}")
        rows = {
            "per-tier / CTE load": lambda r: f"{r.rows['tiers'][0] / r.rows['cte'][0]:.2f}x",
            "build (s)": lambda r: f"{r.built_s:.1f}",
            "peak RSS after the run (MB)": lambda r: f"{r.peak_rss_mb:,.0f}",
            "trace / floor": lambda r: f"{r.ratio:.2f}x",
        }
        for label, cell in rows.items():
            self.stdout.write(f"  {label:<40}" + "".join(f"{cell(r):>{width}}" for r in runs))
        self.stdout.write(f"trace / floor: {runs[0].ratio:.2f}x")
