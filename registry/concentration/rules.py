"""Predicates a trace carries along each path (a rule's countries and entities of
concern, IRA-qualifying steps, recycled content, lacking coverage). Once a path meets
one, the mass on it counts as meeting it."""

from __future__ import annotations

from collections.abc import Callable

from ..models import Rule
from .graph import Edge, Graph, MineInfo

EdgeTest = Callable[[Edge], bool]
LeafTest = Callable[[MineInfo], bool]


def path_predicates(
    graph: Graph,
    *,
    concern: Rule | None,
    ira: Rule | None,
    lacking: dict[str, set],
) -> tuple[dict[str, EdgeTest], dict[str, LeafTest]]:
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
    edge_tests: dict[str, EdgeTest] = {
        "recycled": recycled_edge,
        "recycled_pre": lambda e: False,
    }
    leaf_tests: dict[str, LeafTest] = {
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

    def supplied_by(companies: set) -> EdgeTest:
        return lambda e: e.supplier in companies

    for cell, companies in lacking.items():
        edge_tests[f"lacking:{cell}"] = supplied_by(companies)
        leaf_tests[f"lacking:{cell}"] = lambda m: False
    return edge_tests, leaf_tests
