"""Predicates a trace carries along each path (a rule's countries and entities of
concern, IRA-qualifying steps, recycled content, lacking coverage, prohibited foreign
entities). Once a path meets one, the mass on it counts as meeting it."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from ..models import Rule
from .graph import CompanyInfo, Edge, EdgeTable, Graph, MineInfo

LeafTest = Callable[[MineInfo], bool]
AnyEdgeTest = Callable[[Edge], bool]  # an EdgeTest, or `never`


class EdgeColumns:
    """A trace's text columns (stage, material, country) as tests ask them: a test then
    looks at tens of thousands of edges in a few array operations, not a call per edge.
    A column asked `among` is kept as codes into its few distinct values, so that each
    further test of it is one array lookup."""

    def __init__(self, edges: EdgeTable, supplier: np.ndarray, nodes: list):
        self.edges, self.supplier, self.nodes = edges, supplier, nodes  # numbers, companies
        self._coded: dict[str, tuple[np.ndarray, dict]] = {}

    def _column(self, field: str) -> list[str]:
        return getattr(self.edges, field)

    def _codes(self, field: str) -> tuple[np.ndarray, dict]:
        """(each edge's code, value -> code) for one field, made once; both passes run
        in C (`dict.fromkeys`, `map` over a dict's lookup)."""
        if field not in self._coded:
            column = self._column(field)
            table = {value: code for code, value in enumerate(dict.fromkeys(column))}
            codes = np.fromiter(map(table.__getitem__, column), np.intp, len(column))
            self._coded[field] = codes, table
        return self._coded[field]

    def among(self, field: str, values: Iterable) -> np.ndarray:
        codes, table = self._codes(field)
        wanted = np.zeros(len(table), dtype=bool)
        wanted[[table[v] for v in values if v in table]] = True
        return wanted[codes]

    def equals(self, field: str, value: str) -> np.ndarray:
        if field in self._coded:
            return self.among(field, (value,))
        column = self._column(field)
        if value not in column:  # in C: a value most edges lack (black mass, say)
            return np.zeros(len(column), dtype=bool)
        return self.among(field, (value,))

    def supplied_by(self, companies: set) -> np.ndarray:
        by_company = np.fromiter(map(companies.__contains__, self.nodes), bool, len(self.nodes))
        return by_company[self.supplier]


class EdgeTest:
    """A test of an edge, one by one (`test(edge)`) or over all (`test.mask(columns)`),
    both saying the same."""

    def __init__(
        self,
        one: Callable[[Edge], bool],
        mask: Callable[[EdgeColumns], np.ndarray],
        companies: set | None = None,
    ):
        self.one, self.mask, self.companies = one, mask, companies

    def __call__(self, edge: Edge) -> bool:
        return self.one(edge)


# Keys of `lacking` that name an entity rule's companies rather than a cell.
ENTITY_PREFIX = "pfe:"


def entity_key(rule: Rule) -> str:
    return f"{ENTITY_PREFIX}{rule.code}"


def is_prohibited_entity(info: CompanyInfo, rule: Rule) -> bool:
    """A prohibited foreign entity as the rule's params say: named; of a covered nation
    (organised or headquartered there, s.7701(a)(51) foreign-controlled entity); or held
    at or above the share by a covered nation's government (foreign-influenced entity).
    A state owner recorded without a share counts: the registry cannot rule it out."""
    return prohibited_entity_test(rule)(info)


def prohibited_entity_test(rule: Rule) -> Callable[[CompanyInfo], bool]:
    """`is_prohibited_entity` for one rule, its params read once, not per company."""
    p = rule.params
    covered = set(p.get("covered_nations", []))
    named = set(p.get("companies", []))
    least = float(p.get("state_share_min_pct", 0))

    def test(info: CompanyInfo) -> bool:
        if info.name in named or info.country in covered:
            return True
        return info.state_owner in covered and (info.state_pct is None or info.state_pct >= least)

    return test


def entity_sets(graph: Graph, rules: Iterable[Rule]) -> dict[str, set]:
    """For each entity rule, the graph's companies it names (hypothetical ones included),
    keyed for `path_predicates`' `lacking` argument: one pass over the companies."""
    out = {}
    for rule in rules:
        test = prohibited_entity_test(rule)
        out[entity_key(rule)] = {cid for cid, info in graph.companies.items() if test(info)}
    return out


def concern_test(p: dict) -> Callable[[CompanyInfo], bool]:
    """An entity of concern as the rule's params say: named, or held by a listed state
    at or above the share (a state owner without a share counts). Params read once."""
    named = set(p.get("companies", []))
    owners = set(p.get("state_owner_countries", []))
    least = p.get("state_share_min_pct", 0)

    def test(info: CompanyInfo) -> bool:
        return info.name in named or (
            info.state_owner in owners and (info.state_pct is None or info.state_pct >= least)
        )

    return test


def path_predicates(
    graph: Graph,
    *,
    concern: Rule | None,
    ira: Rule | None,
    lacking: dict[str, set],
) -> tuple[dict[str, AnyEdgeTest], dict[str, LeafTest]]:
    # The entities of concern, found once over the companies rather than once per edge.
    of_concern = concern_test(concern.params) if concern else None
    concern_ids = (
        {cid for cid, info in graph.companies.items() if of_concern(info)} if of_concern else set()
    )

    fta = set(ira.params["fta_countries"]) if ira else set()
    north_america = set(ira.params["north_america"]) if ira else set()
    concern_countries = set(concern.params.get("countries", [])) if concern else set()

    recycled_edge = EdgeTest(
        lambda e: e.stage == "recycling" or e.material == "black_mass",
        lambda c: c.equals("stage", "recycling") | c.equals("material", "black_mass"),
    )

    # Each recycled flow counts once, where it is first met: a recycling edge, or a
    # black-mass source. Pre-consumer is the part of it that traces to pre-consumer scrap;
    # post-consumer is the rest (recycled - pre), the usual case for flows with no source.
    edge_tests: dict[str, AnyEdgeTest] = {
        "recycled": recycled_edge,
        "recycled_pre": never,
    }
    leaf_tests: dict[str, LeafTest] = {
        "recycled": lambda m: m.method == "black_mass",
        "recycled_pre": lambda m: m.method == "black_mass" and m.origin == "pre_consumer",
    }
    if concern:
        edge_tests["concern"] = EdgeTest(
            lambda e: e.country in concern_countries or e.supplier in concern_ids,
            lambda c: c.among("country", concern_countries) | c.supplied_by(concern_ids),
        )
        leaf_tests["concern"] = lambda m: (
            m.country in concern_countries or m.operator in concern_ids
        )
    if ira:
        edge_tests["ira_qualifying"] = EdgeTest(
            lambda e: (
                (e.stage == "refining" and e.country in fta)
                or (e.stage == "recycling" and e.country in north_america)
            ),
            lambda c: (
                (c.equals("stage", "refining") & c.among("country", fta))
                | (c.equals("stage", "recycling") & c.among("country", north_america))
            ),
        )
        leaf_tests["ira_qualifying"] = lambda m: (
            (m.method != "black_mass" and m.country in fta)
            or (m.method == "black_mass" and m.country in north_america)
        )

    # `lacking` also carries entity rules' companies (keys "pfe:<rule>", entity_sets):
    # their mass is reported under that key, met where such a company supplies or
    # operates the mine, never as lacking coverage.
    for key, companies in lacking.items():
        if key.startswith(ENTITY_PREFIX):
            edge_tests[key], leaf_tests[key] = _entity_tests(companies, edge_tests, leaf_tests)
        else:
            edge_tests[f"lacking:{key}"] = _supplied_by(companies)
            leaf_tests[f"lacking:{key}"] = never
    return edge_tests, leaf_tests


def never(_item: object) -> bool:
    """A test nothing meets: a trace need not look for it."""
    return False


def _supplied_by(companies: set) -> EdgeTest:
    return EdgeTest(
        lambda e: e.supplier in companies, lambda c: c.supplied_by(companies), companies
    )


def _entity_tests(
    companies: set, edge_tests: dict[str, AnyEdgeTest], leaf_tests: dict[str, LeafTest]
) -> tuple[AnyEdgeTest, LeafTest]:
    """An entity rule's tests; the same objects as an earlier rule's naming the same
    companies (rules often do), so that a trace carries them once."""
    for key, test in edge_tests.items():
        if key.startswith(ENTITY_PREFIX) and getattr(test, "companies", None) == companies:
            return test, leaf_tests[key]
    return _supplied_by(companies), lambda m: m.operator in companies
