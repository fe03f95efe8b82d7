"""Benchmark: trace a buyer through a synthetic supply graph, two ways, side by side.

Builds N companies and M supply relationships in tiers (mining -> trading -> refining
-> cathode -> cell -> vehicle) inside a transaction that is rolled back at the end,
so it leaves the database as it found it. Works on SQLite and PostgreSQL.
"""

import random
import statistics
import time

from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from registry.concentration import load_graph, trace
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


class Rollback(Exception):
    pass


class Command(BaseCommand):
    help = "Trace a buyer through a synthetic graph (default 10,000 companies, 100,000 edges)."

    def add_arguments(self, parser):
        parser.add_argument("--companies", type=int, default=10_000)
        parser.add_argument("--relationships", type=int, default=100_000)
        parser.add_argument("--repeat", type=int, default=3)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, companies, relationships, repeat, seed, **options):
        try:
            with transaction.atomic():
                self.run(companies, relationships, repeat, seed)
                raise Rollback
        except Rollback:
            self.stdout.write("(synthetic data rolled back)")

    def run(self, n_companies, n_edges, repeat, seed):
        rng = random.Random(seed)
        cobalt = Mineral.objects.get(code="cobalt")
        stages = {
            c.code.split(".", 1)[1]: c for c in Cell.objects.filter(dimension__code="application")
        }
        started = time.perf_counter()
        tiers: list[list[int]] = []
        for index, (stage, share) in enumerate(TIERS):
            count = max(1, int(n_companies * share))
            objs = Company.objects.bulk_create(
                [
                    Company(legal_name=f"bench {stage} {index}-{i}", country=rng.choice(COUNTRIES))
                    for i in range(count)
                ],
                batch_size=2000,
            )
            tiers.append([c.pk for c in objs])
        miners = tiers[0]
        facilities = Facility.objects.bulk_create(
            [
                Facility(
                    company_id=pk,
                    name=f"bench mine site {pk}",
                    kind="mine",
                    country=rng.choice(COUNTRIES),
                    stage=stages["mining"],
                )
                for pk in miners
            ],
            batch_size=2000,
        )
        mines = MinedSource.objects.bulk_create(
            [
                MinedSource(
                    name=f"bench mine {pk}",
                    country=rng.choice(COUNTRIES),
                    method=rng.choice(["industrial", "industrial", "artisanal", "black_mass"]),
                    cahra=rng.random() < 0.3,
                    operator_id=pk,
                )
                for pk in miners
            ],
            batch_size=2000,
        )
        SourceLink.objects.bulk_create(
            [
                SourceLink(mine=m, facility=f, mineral=cobalt, volume_t=rng.randint(10, 1000))
                for m, f in zip(mines, facilities, strict=True)
            ],
            batch_size=2000,
        )
        edges = []
        for (lower, upper), split, (stage, _) in zip(
            zip(tiers, tiers[1:], strict=False), EDGE_SPLIT, TIERS, strict=False
        ):
            for _ in range(int(n_edges * split)):
                edges.append(
                    SupplyRelationship(
                        supplier_id=rng.choice(lower),
                        buyer_id=rng.choice(upper),
                        mineral=cobalt,
                        stage=stages[stage],
                        material="intermediate",
                        volume_t=rng.randint(1, 500),
                    )
                )
        SupplyRelationship.objects.bulk_create(edges, batch_size=5000)
        buyer = Company.objects.get(pk=tiers[-1][0])
        self.stdout.write(
            f"{connection.vendor}: built {sum(map(len, tiers))} companies, {len(edges)} "
            f"relationships, {len(mines)} mines in {time.perf_counter() - started:.1f} s"
        )

        def timed(fn):
            times = []
            for _ in range(repeat):
                with CaptureQueriesContext(connection) as ctx:
                    t0 = time.perf_counter()
                    result = fn()
                    times.append(time.perf_counter() - t0)
            return statistics.median(times), len(ctx.captured_queries), result

        cte_s, cte_q, graph = timed(lambda: load_graph(buyer, cobalt))
        tier_s, tier_q, graph_tiers = timed(lambda: load_graph(buyer, cobalt, per_tier=True))
        assert len(graph.edges) == len(graph_tiers.edges), "both loaders must find the same edges"
        compute_s, _, result = timed(lambda: trace(graph))
        full_s, full_q, full = timed(
            lambda: supply_chain(
                buyer, cobalt, requester=Requester.everyone(), cells=["content.labor_rights"]
            )
        )
        rows = [
            ("load graph, recursive CTE", cte_s, cte_q),
            ("load graph, one query per tier", tier_s, tier_q),
            ("arithmetic (trace over the graph)", compute_s, 0),
            ("whole supply_chain() with coverage + rules", full_s, full_q),
        ]
        self.stdout.write(
            f"buyer upstream: {len(graph.companies)} companies, "
            f"{len(graph.edges)} relationships, {len(graph.links)} mine links, "
            f"{result.tiers} tiers"
        )
        for label, seconds, queries in rows:
            self.stdout.write(f"  {label:<45} {seconds * 1000:8.1f} ms  {queries:3d} queries")
        self.stdout.write(f"  per-tier / CTE load time ratio: {tier_s / cte_s:.2f}x")
        verdict = "under" if full_s < 2 else "OVER"
        self.stdout.write(
            f"  whole trace {full_s:.2f} s: {verdict} the 2 s budget (median of {repeat})"
        )
        assert full.trace.mine_country.shares
