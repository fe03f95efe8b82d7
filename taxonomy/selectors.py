"""Questions users ask of the standards landscape.

Shared by the API, the admin and the pages. Each runs a fixed number of
queries: the landscape is loaded as a whole (a few dozen standards, a few
hundred cells) and the set logic is done in memory.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations

from django.db.models import Count, F, Prefetch, Q

from config.errors import InvalidInput
from datasets.models import LoadedRecord

from .cover import exact_set_cover
from .models import (
    NOT_YET,
    STATUS_LABELS,
    Cell,
    Dimension,
    LinkKind,
    ProposalStatus,
    ReferenceProposal,
    Standard,
    StandardCell,
    StandardLink,
    StandardStatus,
    StandardStatusChange,
    StandardVersion,
    VersionCell,
)

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


# --- The instrument in time ------------------------------------------------


@dataclass(frozen=True)
class StatusOn:
    """A standard's status on a date, and why: the change it comes from."""

    status: str  # a StandardStatus, or NOT_YET before its first recorded change
    on: dt.date | None
    change: StandardStatusChange | None = None  # None: no history recorded
    in_force_from: dt.date | None = None  # the next change to in force, if recorded

    @property
    def in_force(self) -> bool:
        return self.status == StandardStatus.IN_FORCE

    @property
    def recorded(self) -> bool:
        return self.change is not None or self.status == NOT_YET

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.status]

    def reason(self, standard: Standard) -> str:
        """Why an attestation to this standard does not count on `on` (empty if it does)."""
        if self.in_force:
            return ""
        text = f"{standard.short_name} is not in force on {self.on}: {self.label.lower()}"
        if self.change is not None:
            text += f" since {self.change.on}"
            if self.change.note:
                text += f" ({self.change.note})"
        if self.in_force_from:
            text += f"; in force from {self.in_force_from}"
        return text + "."


def status_on(changes: list[StandardStatusChange], on: dt.date | None) -> StatusOn:
    """The same rule as `models.status_on_expression`, on changes already read (in date
    order): no recorded history counts as in force; `on` None means today."""
    on = on or dt.date.today()
    if not changes:
        return StatusOn(StandardStatus.IN_FORCE, on)
    past = [c for c in changes if c.on <= on]
    later = [c for c in changes if c.on > on and c.status == StandardStatus.IN_FORCE]
    next_in_force = later[0].on if later else None
    if not past:
        return StatusOn(NOT_YET, on, None, next_in_force)
    # The latest change, milestone or not: its note says most about why.
    return StatusOn(past[-1].status, on, past[-1], next_in_force)


def version_on(versions: list[StandardVersion], on: dt.date | None) -> StandardVersion | None:
    """The version in effect on `on` (versions in date order, the first perhaps undated);
    before the first: the first; `on` None: the current version."""
    if not versions:
        return None
    if on is None:
        return next((v for v in versions if v.current), versions[-1])
    chosen = versions[0]
    for version in versions:
        if version.valid_from is None or version.valid_from <= on:
            chosen = version
    return chosen


def version_valid_until(versions: list[StandardVersion], version: StandardVersion):
    later = [v.valid_from for v in versions if v.valid_from and v is not version]
    after = [d for d in later if version.valid_from is None or d > version.valid_from]
    return min(after) - dt.timedelta(days=1) if after else None


@dataclass
class Landscape:
    """All standards with their own and inherited cells, loaded in 6 queries. Loaded for a
    date, each standard's cells and links are those of its version in effect on that date,
    and `status` says whether it is in force then; loaded without one: current versions."""

    standards: dict[int, Standard]
    own: dict[int, set[str]]
    inherited: dict[int, dict[str, list[int]]]  # cell code -> ids it comes from
    cells: list[Cell]
    on: dt.date | None = None
    status: dict[int, StatusOn] = field(default_factory=dict)
    versions: dict[int, StandardVersion | None] = field(default_factory=dict)

    def covered(self, standard_id: int, with_inherited: bool = True) -> set[str]:
        cells = set(self.own.get(standard_id, ()))
        if with_inherited:
            cells |= set(self.inherited.get(standard_id, {}))
        return cells

    def by_code(self) -> dict[str, Standard]:
        return {s.code: s for s in self.standards.values()}

    def status_of(self, standard_id: int) -> StatusOn:
        return self.status.get(standard_id) or StatusOn(StandardStatus.IN_FORCE, self.on)

    def in_force(self, standard_id: int) -> bool:
        """Without a date every standard counts, as before standards had a history."""
        return self.on is None or self.status_of(standard_id).in_force

    def standards_in_force(self) -> list[Standard]:
        return [s for s in self.standards.values() if self.in_force(s.id)]


@dataclass
class LandscapeRows:
    """What every landscape is built from, read once (7 queries); `landscape_on` builds a
    date's landscape from it in memory, so a history of many dates reads it once."""

    standards: dict[int, Standard]
    own: dict[int, set[str]]
    versions_of: dict[int, list[StandardVersion]]
    version_cells: dict[int, set[str]]
    changes: dict[int, list[StandardStatusChange]]
    links: list[tuple[int, int]]
    cells: list[Cell]


def read_landscape() -> LandscapeRows:
    all_standards = {s.id: s for s in Standard.objects.all()}
    own: dict[int, set[str]] = defaultdict(set)
    for standard_id, code in StandardCell.objects.values_list("standard_id", "cell__code"):
        own[standard_id].add(code)
    versions_of: dict[int, list[StandardVersion]] = defaultdict(list)
    for version in StandardVersion.objects.order_by(
        "standard_id", F("valid_from").asc(nulls_first=True)
    ):
        versions_of[version.standard_id].append(version)
    version_cells: dict[int, set[str]] = defaultdict(set)
    for version_id, code in VersionCell.objects.values_list("version_id", "cell__code"):
        version_cells[version_id].add(code)
    changes: dict[int, list[StandardStatusChange]] = defaultdict(list)
    for change in StandardStatusChange.objects.order_by("on", "pk"):
        changes[change.standard_id].append(change)
    links = list(
        StandardLink.objects.filter(kind=LinkKind.INCORPORATES).values_list(
            "source_id", "target_id"
        )
    )
    cells = list(Cell.objects.select_related("dimension").order_by("dimension__order", "order"))
    return LandscapeRows(all_standards, own, versions_of, version_cells, changes, links, cells)


def landscape_on(rows: LandscapeRows, on: dt.date | None = None) -> Landscape:
    """The landscape on `on` (None: current versions) from rows already read."""
    all_standards = rows.standards
    own: dict[int, set[str]] = defaultdict(set, {k: set(v) for k, v in rows.own.items()})
    ids = {s.code: s.id for s in all_standards.values()}
    versions = {sid: version_on(rows.versions_of.get(sid, []), on) for sid in all_standards}
    edges = [(a, b) for a, b in rows.links if (v := versions[a]) is None or v.links is None]
    for standard_id, in_force in versions.items():
        if in_force is None or in_force.current:
            continue  # the standard's own cells and links are the current version's
        own[standard_id] = set(rows.version_cells.get(in_force.id, ()))
        if in_force.links is not None:
            edges += [
                (standard_id, ids[link["target"]])
                for link in in_force.links
                if link["kind"] == LinkKind.INCORPORATES and link["target"] in ids
            ]
    inherited: dict[int, dict[str, list[int]]] = {}
    for standard_id, ancestors in incorporation_closure(edges).items():
        gained: dict[str, list[int]] = defaultdict(list)
        for ancestor in sorted(ancestors):
            for code in own.get(ancestor, ()):
                if code not in own[standard_id] and is_inheritable(code, own[standard_id]):
                    gained[code].append(ancestor)
        inherited[standard_id] = dict(gained)
    status = {sid: status_on(rows.changes.get(sid, []), on) for sid in all_standards} if on else {}
    return Landscape(all_standards, dict(own), inherited, rows.cells, on, status, versions)


def load_landscape(on: dt.date | None = None) -> Landscape:
    return landscape_on(read_landscape(), on)


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


def standard_matrix(standard: Standard, on: dt.date | None = None) -> list[MatrixDimension]:
    """The full matrix for one standard, with clause and basis of each judgement: of its
    version in effect on `on` (default: its current version)."""
    landscape = load_landscape(on)
    version = landscape.versions.get(standard.id)
    judgements = (
        StandardCell.objects.filter(standard=standard)
        if version is None or version.current
        else VersionCell.objects.filter(version=version)
    )
    own = {sc.cell_id: sc for sc in judgements.only("cell_id", "clause", "basis")}
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


def compare_standards(
    standards: list[Standard], with_inherited: bool = True, on: dt.date | None = None
) -> Comparison:
    """`on`: each standard's version in effect that day (default: current versions)."""
    landscape = load_landscape(on)
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


def standards_overlap(
    a: Standard, b: Standard, with_inherited: bool = True, on: dt.date | None = None
) -> Overlap:
    return compare_standards([a, b], with_inherited, on).overlaps[0]


# --- Which standards cover a set of cells ---------------------------------


@dataclass
class CoverageMatch:
    standard: Standard
    matched: list[str]
    missing: list[str]


def standards_covering(
    cells: list[Cell], match: str = "all", with_inherited: bool = True, on: dt.date | None = None
) -> list[CoverageMatch]:
    """Standards covering all (or any) of the cells, best match first; with `on`, the
    standards in force that day, by their version then."""
    landscape = load_landscape(on)
    wanted = [c.code for c in cells]
    out = []
    for standard in landscape.standards_in_force():
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
    on: dt.date | None = None,
) -> SetCover:
    """With `on`: only standards in force that day, by their version then."""
    landscape = load_landscape(on)
    pool = candidates if candidates is not None else list(landscape.standards.values())
    pool = [s for s in pool if landscape.in_force(s.id)]
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


# How many standards cover a cell, in bands: the columns of the landscape's heat map.
COVERAGE_LEVELS: tuple[tuple[str, int, int | None], ...] = (
    ("No standard", 0, 0),
    ("1 standard", 1, 1),
    ("2 to 4", 2, 4),
    ("5 or more", 5, None),
)


def coverage_heat_map() -> list[tuple[str, list[int]]]:
    """Per dimension (in its order), how many of its cells are covered by no standard,
    by one, by 2 to 4 and by 5 or more (each standard's own cells, as `uncovered_cells`
    counts them): one aggregate query over the 65 cells."""
    rows: dict[str, list[int]] = {}
    cells = (
        Cell.objects.order_by("dimension__order", "order")
        .values("pk", "dimension__label")  # one row per cell
        .annotate(covering=Count("standard_cells__standard", distinct=True))
    )
    for cell in cells:
        counts = rows.setdefault(cell["dimension__label"], [0] * len(COVERAGE_LEVELS))
        for i, (_, low, high) in enumerate(COVERAGE_LEVELS):
            if cell["covering"] >= low and (high is None or cell["covering"] <= high):
                counts[i] += 1
    return list(rows.items())


def standards_with_detail(on: dt.date | None = None):
    """Queryset for standard detail views: everything in a fixed number of queries, with
    `status_on` on `on` (default today)."""
    # `.all()` first: django-stubs 5.2 mistypes Prefetch(...) passed to an as_manager()
    # manager's prefetch_related (typeddjango/django-stubs#3263, fixed in 6.0.3).
    return Standard.objects.with_status_on(on or dt.date.today()).prefetch_related(
        "minerals",
        "status_changes",
        Prefetch(
            "versions",
            queryset=StandardVersion.objects.order_by(F("valid_from").asc(nulls_first=True)),
        ),
        Prefetch(
            "standard_cells",
            queryset=StandardCell.objects.select_related("cell", "cell__dimension").order_by(
                "cell__dimension__order", "cell__order"
            ),
        ),
        Prefetch("links_out", queryset=StandardLink.objects.select_related("target")),
        Prefetch("links_in", queryset=StandardLink.objects.select_related("source")),
    )


# --- What changed in the landscape between two dates ----------------------


@dataclass
class LandscapeChange:
    on: dt.date
    standard: Standard
    kind: str  # "status" or "version"
    status: str = ""  # for a status change: the status from `on`
    previous_status: str = ""  # NOT_YET for the first recorded change
    version: StandardVersion | None = None
    previous_version: StandardVersion | None = None
    note: str = ""
    source: str = ""
    uncertain: str = ""

    @property
    def status_changed(self) -> bool:
        return self.kind == "status" and self.status != self.previous_status


def landscape_changes(start: dt.date, end: dt.date) -> list[LandscapeChange]:
    """Status changes and new versions dated `start`..`end` (both included), in date
    order, each with its source. Two queries whatever the number of changes."""
    out: list[LandscapeChange] = []
    previous: dict[int, str] = {}
    for change in StandardStatusChange.objects.filter(on__lte=end).select_related("standard"):
        before = previous.get(change.standard_id, NOT_YET)
        previous[change.standard_id] = change.status
        if change.on >= start:
            out.append(
                LandscapeChange(
                    change.on,
                    change.standard,
                    "status",
                    status=change.status,
                    previous_status=before,
                    note=change.note,
                    source=change.source,
                    uncertain=change.uncertain,
                )
            )
    last: dict[int, StandardVersion] = {}
    versions = StandardVersion.objects.filter(
        Q(valid_from__lte=end) | Q(valid_from__isnull=True)
    ).select_related("standard")
    for version in versions.order_by("standard_id", F("valid_from").asc(nulls_first=True)):
        earlier = last.get(version.standard_id)
        last[version.standard_id] = version
        if version.valid_from and version.valid_from >= start:
            out.append(
                LandscapeChange(
                    version.valid_from,
                    version.standard,
                    "version",
                    version=version,
                    previous_version=earlier,
                    note=version.note,
                    source=version.source,
                    uncertain=version.uncertain,
                )
            )
    out.sort(key=lambda c: (c.on, c.standard.short_name.lower(), c.kind))
    return out


# --- Curation: who reviewed what, when and why ------------------------------------------

# The reference files a standard's data is loaded from, by dataset (datasets.tracking).
REFERENCE_FILES = {
    "taxonomy.standards": "standards.yaml",
    "taxonomy.instruments_in_time": "instruments_in_time.yaml",
}


@dataclass
class LastReview:
    on: dt.datetime
    by: str = ""  # the reviewer of the approved proposal, if that was last
    proposal: ReferenceProposal | None = None
    file: str = ""  # else the reference file whose load it was


def reviewer_name(user) -> str:
    return (user.get_full_name() or user.get_username()) if user else "unknown"


def approved_proposals(standard: Standard) -> list[ReferenceProposal]:
    """The changes a second person approved, newest first, with who proposed and who approved."""
    return list(
        standard.proposals.filter(status=ProposalStatus.APPROVED)
        .select_related("proposed_by", "reviewed_by")
        .order_by("-reviewed_at", "-pk")
    )


def last_review(standard: Standard, approved: list[ReferenceProposal] | None = None):
    """The last approved proposal or the last load of a reference file for this
    instrument, whichever is later (None: neither, e.g. a standard made by hand)."""
    approved = approved_proposals(standard) if approved is None else approved
    candidates = [
        LastReview(p.reviewed_at, reviewer_name(p.reviewed_by), p)
        for p in approved[:1]
        if p.reviewed_at is not None  # always set on approval (a constraint)
    ]
    loaded = (
        LoadedRecord.objects.filter(dataset__in=list(REFERENCE_FILES), key=standard.code)
        .order_by("-loaded_at")
        .first()
    )
    if loaded is not None:
        candidates.append(LastReview(loaded.loaded_at, file=REFERENCE_FILES[loaded.dataset]))
    return max(candidates, key=lambda review: review.on, default=None)


def proposals_for_review(status: str | None = ProposalStatus.PROPOSED):
    """The review queue (oldest first, so none waits forever), or the decided ones."""
    proposals = ReferenceProposal.objects.select_related("standard", "proposed_by", "reviewed_by")
    if status == ProposalStatus.PROPOSED:
        return proposals.filter(status=status).order_by("proposed_at", "pk")
    if status:
        proposals = proposals.filter(status=status)
    return proposals.order_by("-proposed_at", "-pk")


# --- Names for pages: built once per page, one query each ---------------------


def cell_names() -> dict[str, str]:
    """{cell code: "Dimension / group / label"}: what a person reads instead of a code."""
    return {c.code: str(c) for c in Cell.objects.select_related("dimension")}


def cell_choices_by_dimension(exclude_dimensions: Iterable[str] = ()) -> list:
    """Grouped choices for a picker: [(dimension label, [(code, group / label), ...])],
    in the matrix's order; a <select> draws each group as an <optgroup>."""
    groups: dict[str, list] = {}
    cells = (
        Cell.objects.select_related("dimension")
        .exclude(dimension__code__in=list(exclude_dimensions))
        .order_by("dimension__order", "order")
    )
    for cell in cells:
        label = f"{cell.group_label} / {cell.label}" if cell.group_label else cell.label
        groups.setdefault(cell.dimension.label, []).append((cell.code, label))
    return list(groups.items())


def standard_names() -> dict[str, str]:
    """{standard code: "Full name (ACRONYM)"}."""
    rows = Standard.objects.values_list("code", "name", "short_name")
    return {code: standard_label(name, short) for code, name, short in rows}


def standard_label(name: str, short_name: str) -> str:
    return name if not short_name or short_name in name else f"{name} ({short_name})"
