"""Questions users ask of the standards landscape.

Shared by the API, the admin and the pages. Each runs a fixed number of
queries: the landscape is loaded as a whole (a few dozen standards, a few
hundred cells) and the set logic is done in memory.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations

from django.db.models import Prefetch

from config.errors import InvalidInput

from .cover import exact_set_cover
from .models import Cell, Dimension, LinkKind, Standard, StandardCell, StandardLink

# Coverage flows through "incorporates" for what a standard requires (content,
# implementation, application) but not for what it is (participants, scope,
# enforcement, sponsor): RMAP incorporating the OECD Guidance does not make
# the OECD its sponsor or governments its participants. Implementation cells
# flow only for participant groups the incorporating standard itself covers:
# an industry scheme takes on the Guidance's industry steps, not what the
# Guidance asks of governments.
INHERITED_DIMENSIONS = frozenset({"content", "implementation", "application"})
_IMPLEMENTATION_GROUP_PARTICIPANTS = {
    "government": ("participants.government.",),
    "industry": ("participants.industry.", "participants.investors."),
    "civil_society": ("participants.civil_society.",),
}


def is_inheritable(code: str, own: set[str]) -> bool:
    """Whether a standard with cells `own` takes on `code` from one it incorporates."""
    dimension = code.split(".", 1)[0]
    if dimension not in INHERITED_DIMENSIONS:
        return False
    if dimension == "implementation":
        prefixes = _IMPLEMENTATION_GROUP_PARTICIPANTS[code.split(".")[1]]
        return any(cell.startswith(prefixes) for cell in own)
    return True


class UnknownCodes(InvalidInput):
    """Raised with the codes that do not exist, so callers can name them."""

    def __init__(self, kind: str, codes: Iterable[str]):
        self.kind = kind
        self.codes = sorted(codes)
        super().__init__(f"Unknown {kind}: {', '.join(self.codes)}", field=kind)


def resolve_cells(codes: Iterable[str]) -> list[Cell]:
    codes = list(dict.fromkeys(codes))
    found = {c.code: c for c in Cell.objects.select_related("dimension").filter(code__in=codes)}
    missing = [code for code in codes if code not in found]
    if missing:
        raise UnknownCodes("cell", missing)
    return [found[code] for code in codes]


def resolve_standards(codes: Iterable[str]) -> list[Standard]:
    codes = list(dict.fromkeys(codes))
    found = {s.code: s for s in Standard.objects.filter(code__in=codes)}
    missing = [code for code in codes if code not in found]
    if missing:
        raise UnknownCodes("standard", missing)
    return [found[code] for code in codes]


def incorporation_closure(edges: Iterable[tuple[int, int]]) -> dict[int, set[int]]:
    """For each standard id, every standard it incorporates, directly or not.

    Cycles are harmless: a visited set stops the walk.
    """
    direct: dict[int, set[int]] = defaultdict(set)
    for source, target in edges:
        direct[source].add(target)
    closure: dict[int, set[int]] = {}
    for start in list(direct):
        seen: set[int] = set()
        stack = list(direct[start])
        while stack:
            node = stack.pop()
            if node in seen or node == start:
                continue
            seen.add(node)
            stack.extend(direct.get(node, ()))
        closure[start] = seen
    return closure


@dataclass
class Landscape:
    """All standards with their own and inherited cells, loaded in 3 queries."""

    standards: dict[int, Standard]
    own: dict[int, set[str]]
    inherited: dict[int, dict[str, list[int]]]  # cell code -> ids it comes from
    cells: list[Cell]

    def covered(self, standard_id: int, with_inherited: bool = True) -> set[str]:
        cells = set(self.own.get(standard_id, ()))
        if with_inherited:
            cells |= set(self.inherited.get(standard_id, {}))
        return cells

    def by_code(self) -> dict[str, Standard]:
        return {s.code: s for s in self.standards.values()}


def load_landscape(standards: Iterable[Standard] | None = None) -> Landscape:
    all_standards = {s.id: s for s in Standard.objects.all()}
    own: dict[int, set[str]] = defaultdict(set)
    for standard_id, code in StandardCell.objects.values_list("standard_id", "cell__code"):
        own[standard_id].add(code)
    edges = StandardLink.objects.filter(kind=LinkKind.INCORPORATES).values_list(
        "source_id", "target_id"
    )
    inherited: dict[int, dict[str, list[int]]] = {}
    for standard_id, ancestors in incorporation_closure(edges).items():
        gained: dict[str, list[int]] = defaultdict(list)
        for ancestor in sorted(ancestors):
            for code in own.get(ancestor, ()):
                if code not in own[standard_id] and is_inheritable(code, own[standard_id]):
                    gained[code].append(ancestor)
        inherited[standard_id] = dict(gained)
    cells = list(Cell.objects.select_related("dimension").order_by("dimension__order", "order"))
    return Landscape(all_standards, dict(own), inherited, cells)


# --- One standard's matrix (Figure 2 filled in) ---------------------------


@dataclass
class MatrixCell:
    cell: Cell
    covered: bool
    clause: str = ""
    basis: str = ""
    inherited_from: list[Standard] = field(default_factory=list)


@dataclass
class MatrixGroup:
    code: str
    label: str
    cells: list[MatrixCell]


@dataclass
class MatrixDimension:
    dimension: Dimension
    groups: list[MatrixGroup]

    @property
    def covered_count(self) -> int:
        return sum(c.covered for g in self.groups for c in g.cells)

    @property
    def cell_count(self) -> int:
        return sum(len(g.cells) for g in self.groups)


def standard_matrix(standard: Standard) -> list[MatrixDimension]:
    """The full matrix for one standard, with clause and basis of each judgement."""
    landscape = load_landscape()
    own = {
        sc.cell_id: sc
        for sc in StandardCell.objects.filter(standard=standard).only("cell_id", "clause", "basis")
    }
    inherited = landscape.inherited.get(standard.id, {})
    dimensions: dict[int, MatrixDimension] = {}
    for cell in landscape.cells:
        dim = dimensions.setdefault(cell.dimension_id, MatrixDimension(cell.dimension, []))
        if not dim.groups or dim.groups[-1].code != cell.group:
            dim.groups.append(MatrixGroup(cell.group, cell.group_label, []))
        link = own.get(cell.id)
        sources = [landscape.standards[i] for i in inherited.get(cell.code, ())]
        dim.groups[-1].cells.append(
            MatrixCell(
                cell=cell,
                covered=link is not None or bool(sources),
                clause=link.clause if link else "",
                basis=link.basis if link else "",
                inherited_from=[] if link else sources,
            )
        )
    return list(dimensions.values())


# --- Several standards side by side ---------------------------------------


@dataclass
class Overlap:
    a: Standard
    b: Standard
    common: list[str]
    only_a: list[str]
    only_b: list[str]

    @property
    def jaccard(self) -> float:
        union = len(self.common) + len(self.only_a) + len(self.only_b)
        return round(len(self.common) / union, 4) if union else 0.0


def _overlap(a: Standard, b: Standard, cells_a: set[str], cells_b: set[str], order) -> Overlap:
    def ordered(codes: set[str]) -> list[str]:
        return sorted(codes, key=order.__getitem__)

    return Overlap(
        a, b, ordered(cells_a & cells_b), ordered(cells_a - cells_b), ordered(cells_b - cells_a)
    )


@dataclass
class ComparisonRow:
    cell: Cell
    covered_by: list[str]  # standard codes, own coverage
    inherited_by: list[str]  # standard codes covering it only through incorporation


@dataclass
class Comparison:
    standards: list[Standard]
    rows: list[ComparisonRow]
    overlaps: list[Overlap]


def compare_standards(standards: list[Standard], with_inherited: bool = True) -> Comparison:
    landscape = load_landscape()
    order = {cell.code: i for i, cell in enumerate(landscape.cells)}
    rows = []
    for cell in landscape.cells:
        own = [s.code for s in standards if cell.code in landscape.own.get(s.id, ())]
        inherited = (
            [
                s.code
                for s in standards
                if cell.code in landscape.inherited.get(s.id, {}) and s.code not in own
            ]
            if with_inherited
            else []
        )
        rows.append(ComparisonRow(cell, own, inherited))
    overlaps = [
        _overlap(
            a,
            b,
            landscape.covered(a.id, with_inherited),
            landscape.covered(b.id, with_inherited),
            order,
        )
        for a, b in combinations(standards, 2)
    ]
    return Comparison(standards, rows, overlaps)


def standards_overlap(a: Standard, b: Standard, with_inherited: bool = True) -> Overlap:
    return compare_standards([a, b], with_inherited).overlaps[0]


# --- Which standards cover a set of cells ---------------------------------


@dataclass
class CoverageMatch:
    standard: Standard
    matched: list[str]
    missing: list[str]


def standards_covering(
    cells: list[Cell], match: str = "all", with_inherited: bool = True
) -> list[CoverageMatch]:
    """Standards covering all (or any) of the cells, best match first."""
    landscape = load_landscape()
    wanted = [c.code for c in cells]
    out = []
    for standard in landscape.standards.values():
        covered = landscape.covered(standard.id, with_inherited)
        matched = [code for code in wanted if code in covered]
        if (match == "all" and len(matched) == len(wanted)) or (match == "any" and matched):
            missing = [code for code in wanted if code not in covered]
            out.append(CoverageMatch(standard, matched, missing))
    out.sort(key=lambda m: (-len(m.matched), m.standard.short_name.lower()))
    return out


# --- Smallest set of standards covering a set of cells --------------------


@dataclass
class SetCover:
    required: list[str]
    standards: list[Standard]
    contributions: dict[str, list[str]]  # standard code -> required cells it covers
    uncoverable: list[str]
    rule: str


SET_COVER_RULE = (
    "Fewest standards that together cover every requested cell (exact search). "
    "Ties go to the set with the most independently verified standards, then to "
    "the alphabetically first list of standard codes. Cells no candidate covers "
    "are listed apart. Coverage includes what a standard incorporates."
)


def minimal_cover(
    cells: list[Cell],
    candidates: list[Standard] | None = None,
    with_inherited: bool = True,
) -> SetCover:
    landscape = load_landscape()
    pool = candidates if candidates is not None else list(landscape.standards.values())
    required = [c.code for c in cells]
    options = {s.code: landscape.covered(s.id, with_inherited) & set(required) for s in pool}
    by_code = {s.code: s for s in pool}
    chosen, uncoverable = exact_set_cover(
        required, options, weight=lambda code: int(by_code[code].independently_verified)
    )
    return SetCover(
        required=required,
        standards=[by_code[code] for code in chosen],
        contributions={code: [c for c in required if c in options[code]] for code in chosen},
        uncoverable=[c for c in required if c in uncoverable],
        rule=SET_COVER_RULE,
    )


# --- The landscape's gaps -------------------------------------------------


def uncovered_cells():
    """Cells that no standard covers: the gaps of the whole landscape."""
    return (
        Cell.objects.select_related("dimension")
        .filter(standard_cells__isnull=True)
        .order_by("dimension__order", "order")
    )


def standards_with_detail():
    """Queryset for standard detail views: everything in a fixed number of queries."""
    # `.all()` first: django-stubs 5.2 mistypes Prefetch(...) passed to an as_manager()
    # manager's prefetch_related (typeddjango/django-stubs#3263, fixed in 6.0.3).
    return Standard.objects.all().prefetch_related(
        "minerals",
        Prefetch(
            "standard_cells",
            queryset=StandardCell.objects.select_related("cell", "cell__dimension").order_by(
                "cell__dimension__order", "cell__order"
            ),
        ),
        Prefetch("links_out", queryset=StandardLink.objects.select_related("target")),
        Prefetch("links_in", queryset=StandardLink.objects.select_related("source")),
    )
