"""Coverage and gaps: the registry's core computation.

A company's covered cells are the cells of the standards in its counting
attestations (plus what those standards incorporate), as one requester may
see them, on one date. Everything runs in a fixed number of queries.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import (
    Case,
    Count,
    Exists,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django_countries.fields import Country

from taxonomy.cover import exact_set_cover
from taxonomy.models import Cell, Standard
from taxonomy.selectors import Landscape, load_landscape

from . import kept, privacy
from .coverage import (
    CellSource,
    NotCounted,
    applies_to_stage,
    attestations_in_scope,
    cell_sources,
    coverage_map,
    covers,
    facility_stages,
    not_in_force,
)
from .models import (
    Attestation,
    Company,
    Expectation,
    ExpectationProfile,
    Facility,
    KeptGrade,
    SupplyRelationship,
)
from .querysets import Requester

# Aggregates over groups smaller than this count only what the requester may
# see, so no single company's private attestations can be read out of a share
# (registry.privacy has the other rules).
PRIVATE_DATA_FLOOR = privacy.FLOOR


# --- What is expected of a company ---------------------------------------


@dataclass(frozen=True)
class ExpectedElement:
    """One thing a company is expected to cover: a cell, or any one of a group."""

    key: str
    label: str
    dimension: str
    cells: tuple[str, ...]
    mode: str  # "all" expands to one element per cell, so here: "cell" or "any"
    profile: str


def expected_elements(
    stage_codes: list[str], profiles: list[ExpectationProfile], cells: dict[str, Cell]
) -> list[ExpectedElement]:
    """The union of the default profile and the profiles of the company's stages."""
    elements: dict[str, ExpectedElement] = {}

    def add_cell(code: str, profile: str) -> None:
        cell = cells[code]
        elements.setdefault(
            code,
            ExpectedElement(code, str(cell), cell.dimension.code, (code,), "cell", profile),
        )

    for profile in profiles:
        if profile.stage is not None and profile.stage.code not in stage_codes:
            continue
        if profile.include_own_stages:
            for code in stage_codes:
                add_cell(code, profile.code)
        for expectation in profile.expectations.all():
            codes = [c.code for c in expectation.cells.all()]
            if expectation.mode == Expectation.Mode.ALL:
                for code in codes:
                    add_cell(code, profile.code)
            elif codes:
                key = f"{profile.code}:{expectation.code}"
                dimension = cells[codes[0]].dimension.code
                elements.setdefault(
                    key,
                    ExpectedElement(
                        key, expectation.label, dimension, tuple(codes), "any", profile.code
                    ),
                )
    order = {code: i for i, code in enumerate(cells)}
    return sorted(elements.values(), key=lambda e: order.get(e.cells[0], 0))


def _profiles() -> list[ExpectationProfile]:
    return list(
        ExpectationProfile.objects.select_related("stage").prefetch_related(
            Prefetch("expectations", queryset=Expectation.objects.prefetch_related("cells"))
        )
    )


def _cells() -> dict[str, Cell]:
    return {
        c.code: c
        for c in Cell.objects.select_related("dimension").order_by("dimension__order", "order")
    }


# --- What a company covers -----------------------------------------------


@dataclass
class Gap:
    element: ExpectedElement
    declared: bool  # self-declared, but not verified
    closing_standards: list[str]


@dataclass
class Grade:
    level: str
    breadth: float
    depth: float
    rule: str


GRADE_LEVELS = (
    # level, minimum breadth, minimum depth
    ("platinum", 0.90, 0.75),
    ("gold", 0.75, 0.50),
    ("silver", 0.50, 0.25),
    ("basic", 0.25, 0.0),
)
GRADE_RULE = (
    "In the spirit of LEED's certification levels (seed 002). Breadth is the share of "
    "expected items covered by counting attestations (verified, valid on the date, not "
    "self-declared); depth is the share covered by independently verified ones (third-party "
    "audit or certification). Platinum: breadth >= 90% and depth >= 75%; gold: >= 75% and "
    ">= 50%; silver: >= 50% and >= 25%; basic: breadth >= 25%; otherwise none."
)


def grade_for(breadth: float, depth: float) -> Grade:
    for level, min_breadth, min_depth in GRADE_LEVELS:
        if breadth >= min_breadth and depth >= min_depth:
            return Grade(level, breadth, depth, GRADE_RULE)
    return Grade("none", breadth, depth, GRADE_RULE)


@dataclass
class CompanyCoverage:
    company: Company
    as_of: dt.date
    stages: list[str]
    attestations: list[Attestation]
    covered: dict[str, list[CellSource]]
    declared: dict[str, list[CellSource]]
    expected: list[ExpectedElement]
    satisfied: list[str]
    gaps: list[Gap]
    closing_standards: list[Standard]
    unclosable: list[str]
    grade: Grade
    gaps_by_dimension: dict[str, list[Gap]] = field(default_factory=dict)
    # Attestations to standards not in force on `as_of`: shown, with the reason, not counted.
    not_counted: list[NotCounted] = field(default_factory=list)
    not_counted_attestations: list[Attestation] = field(default_factory=list)

    @property
    def independent_cells(self) -> set[str]:
        return {c for c, sources in self.covered.items() if any(s.independent for s in sources)}


def _satisfied(element: ExpectedElement, cells: set[str] | dict) -> bool:
    return any(code in cells for code in element.cells)


def company_coverage(
    company: Company,
    requester: Requester,
    as_of: dt.date | None = None,
    *,
    mineral: str | None = None,
    stage: str | None = None,
) -> CompanyCoverage:
    """Coverage, gaps, closing standards and grade of one company, as `requester` sees it;
    with `mineral` / `stage`, only what is in scope for them (registry.coverage)."""
    as_of = as_of or dt.date.today()
    landscape = load_landscape(as_of)
    cells = _cells()
    stage_codes = [c.code for c in company.stages.all()]
    in_scope = (
        attestations_in_scope(
            [company.pk], requester=requester, on=as_of, mineral=mineral, declared=True
        )
        .select_related("standard", "verifier")
        .order_by("standard__short_name", "pk")
    )
    stages = facility_stages(in_scope)
    attestations, apart, apart_attestations = [], [], []
    for attestation in in_scope:
        if not applies_to_stage(stages.get(attestation.pk, frozenset()), stage):
            continue
        reason = not_in_force(attestation.pk, attestation.standard_id, landscape)
        if reason is None:
            attestations.append(attestation)
        else:
            apart.append(reason)
            apart_attestations.append(attestation)
    covered: dict[str, list[CellSource]] = defaultdict(list)
    declared: dict[str, list[CellSource]] = defaultdict(list)
    for attestation in attestations:
        target = declared if attestation.type == "self_declaration" else covered
        for cell, source in cell_sources(attestation, landscape).items():
            target[cell].append(source)

    expected = expected_elements(stage_codes, _profiles(), cells)
    independent = {c for c, sources in covered.items() if any(s.independent for s in sources)}
    satisfied = [e.key for e in expected if _satisfied(e, covered)]
    deep = [e.key for e in expected if _satisfied(e, independent)]

    gaps = []
    for element in expected:
        if element.key in satisfied:
            continue
        closing = sorted(
            s.code
            for s in landscape.standards_in_force()
            if _satisfied(element, landscape.covered(s.id))
        )
        gaps.append(Gap(element, _satisfied(element, declared), closing))

    options = {
        s.code: {g.element.key for g in gaps if _satisfied(g.element, landscape.covered(s.id))}
        for s in landscape.standards_in_force()
    }
    by_code = landscape.by_code()
    chosen, unclosable = exact_set_cover(
        [g.element.key for g in gaps],
        options,
        weight=lambda code: int(by_code[code].independently_verified),
    )
    total = len(expected) or 1
    coverage = CompanyCoverage(
        company=company,
        as_of=as_of,
        stages=stage_codes,
        attestations=attestations,
        covered=dict(covered),
        declared=dict(declared),
        expected=expected,
        satisfied=satisfied,
        gaps=gaps,
        closing_standards=[by_code[code] for code in chosen],
        unclosable=sorted(unclosable),
        grade=grade_for(round(len(satisfied) / total, 4), round(len(deep) / total, 4)),
        not_counted=apart,
        not_counted_attestations=apart_attestations,
    )
    for gap in gaps:
        coverage.gaps_by_dimension.setdefault(gap.element.dimension, []).append(gap)
    return coverage


# --- Sector view ---------------------------------------------------------


@dataclass
class CompanyLack:
    company: Company | CompanyRef  # CompanyRef: from a kept result
    missing: list[str]


@dataclass
class CellShare:
    cell: str  # a cell code, or "any" for the cells together
    lacking: int
    share: float
    visible_lacking: int = 0  # from what the requester may see, on `as_of`
    # "visible": only what the requester may see; "snapshot": every attestation, from the
    # snapshot, noised; "exact": every attestation, live (staff)
    basis: str = "visible"
    noised: bool = False
    suppressed: bool = False  # a figure counting private data was withheld for this one


@dataclass(frozen=True)
class SectorSnapshotInfo:
    taken_on: dt.date
    company_count: int  # the group's size in the snapshot: the denominator of its shares
    epsilon: float
    rule: str


@dataclass
class SectorGaps:
    cells: list[str]
    as_of: dt.date
    independent_only: bool
    company_count: int
    lacking: list[CompanyLack]  # from what the requester may see
    shares: list[CellShare]
    share_lacking_any: float
    private_data_counted: bool
    floor: int = PRIVATE_DATA_FLOOR
    lacking_any: CellShare | None = None
    private_data: str = "no_snapshot"  # registry.privacy: how private data was used
    private_data_note: str = ""
    snapshot: SectorSnapshotInfo | None = None
    lacking_count: int = 0  # companies lacking any of the cells, from what one may see
    page: int = 1
    page_size: int = 50
    computed_at: dt.datetime | None = None  # of the figures, when from a kept result
    stale: bool = False  # inputs changed since; a refresh is under way
    # companies per grade (platinum to none) when a stage or mineral is chosen
    grades: dict[str, int] | None = None


SECTOR_PAGE_SIZE = 50


def sector_companies(
    stage: str | None = None, mineral: str | None = None, country: str | None = None
):
    """The companies of a stage / mineral / country, each once (EXISTS, not joins that
    multiply rows), in a stable order: legal name, then id."""
    companies = Company.objects.all()
    if stage:
        stages = Company.stages.through.objects.filter(
            company_id=OuterRef("pk"), cell__code=f"application.{stage}"
        )
        companies = companies.filter(Exists(stages))
    if mineral:
        minerals = Facility.minerals.through.objects.filter(
            facility__company_id=OuterRef("pk"), mineral__code=mineral
        )
        companies = companies.filter(Exists(minerals))
    if country:
        companies = companies.filter(country=country)
    return companies.order_by("legal_name", "pk")


def _with_coverage(group, cells: list[str], *, stage, mineral, as_of, independent_only, **kw):
    """`group` with `covers_<i>` per cell: whether the company covers it (one EXISTS)."""
    return group.annotate(
        **{
            f"covers_{i}": covers(
                cell,
                on=as_of,
                mineral=mineral,
                stage=stage,
                independent_only=independent_only,
                **kw,
            )
            for i, cell in enumerate(cells)
        }
    )


def _lacks(indices: list[int]) -> Q:
    return reduce(or_, [Q(**{f"covers_{i}": False}) for i in indices])


def sector_figures(
    *,
    cells: list[str],
    requester: Requester,
    stage: str | None,
    mineral: str | None,
    country: str | None,
    as_of: dt.date,
    independent_only: bool,
    landscape: Landscape | None = None,
) -> dict:
    """The group's size and, per cell and for any of them, how many of its companies lack
    coverage, from what the requester may see: one aggregate query over the group, the
    sets kept in SQL (plus the landscape's queries unless it is passed in)."""
    landscape = landscape or load_landscape(as_of)
    annotated = _with_coverage(
        sector_companies(stage, mineral, country).order_by(),
        cells,
        stage=stage,
        mineral=mineral,
        as_of=as_of,
        independent_only=independent_only,
        requester=requester,
        landscape=landscape,
    )
    one = Value(1)
    targets = [[i] for i in range(len(cells))] + [list(range(len(cells)))]
    figures = annotated.aggregate(
        company_count=Count("pk"),
        **{
            f"lacking_{n}": Coalesce(Sum(Case(When(_lacks(t), then=one), default=Value(0))), 0)
            for n, t in enumerate(targets)
        },
    )
    summary = {
        "company_count": figures["company_count"],
        "visible": [figures[f"lacking_{n}"] for n in range(len(targets))],
    }
    if stage or mineral:  # a sector: how its companies grade (kept with the figures)
        summary["grades"] = sector_grade_distribution(
            requester=requester, stage=stage, mineral=mineral, country=country, as_of=as_of
        )
    return summary


def sector_figures_payload(params: dict, requester: Requester) -> tuple[dict, list[dict]]:
    """The figures and every company lacking coverage, for a kept result (registry.kept):
    two queries plus the landscape's, the lacking companies read as plain rows."""
    as_of = dt.date.fromisoformat(params["as_of"])
    landscape = load_landscape(as_of)
    query = {
        "cells": params["cells"],
        "stage": params["stage"],
        "mineral": params["mineral"],
        "as_of": as_of,
        "independent_only": params["independent_only"],
    }
    figures = sector_figures(
        requester=requester, landscape=landscape, country=params["country"], **query
    )
    if not requester.sees_everything:  # staff get exact live figures, no snapshot
        cells = params["cells"]
        figures["private"] = privacy.kept_counts(
            privacy.Group(params["stage"], params["mineral"], params["country"]),
            [[cell] for cell in cells] + [list(cells)],
            params["independent_only"],
            as_of,
        )
    rows = _lacking_rows(
        sector_companies(params["stage"], params["mineral"], params["country"]),
        requester=requester,
        landscape=landscape,
        **query,
    ).values("pk", "legal_name", "country", *(f"covers_{i}" for i in range(len(query["cells"]))))
    lacking = [
        {
            "company": row["pk"],
            "company_name": row["legal_name"],
            "country": row["country"],
            "missing": [c for i, c in enumerate(params["cells"]) if not row[f"covers_{i}"]],
        }
        for row in rows
    ]
    return figures, lacking


def _lacking_rows(group, cells: list[str], **kw):
    """The companies of `group` lacking any of `cells`, with `covers_<i>` per cell."""
    return _with_coverage(group, cells, **kw).filter(_lacks(list(range(len(cells)))))


def sector_lacking(
    *,
    cells: list[str],
    requester: Requester,
    stage: str | None = None,
    mineral: str | None = None,
    country: str | None = None,
    as_of: dt.date | None = None,
    independent_only: bool = True,
):
    """Every company of the group lacking any of `cells`, from what the requester may
    see (the whole of `sector_gaps().lacking`, for a download), by legal name then id:
    one query, read by the database cursor in chunks; no figures, no privacy budget."""
    as_of = as_of or dt.date.today()
    rows = _lacking_rows(
        sector_companies(stage, mineral, country),
        list(cells),
        stage=stage,
        mineral=mineral,
        as_of=as_of,
        independent_only=independent_only,
        requester=requester,
        landscape=load_landscape(as_of),
    ).values("pk", "legal_name", "country", *(f"covers_{i}" for i in range(len(cells))))
    for row in rows.order_by("legal_name", "pk").iterator(chunk_size=2000):
        yield {
            "company": row["pk"],
            "company_name": row["legal_name"],
            "country": row["country"],
            "missing": [c for i, c in enumerate(cells) if not row[f"covers_{i}"]],
        }


@dataclass(frozen=True)
class CompanyRef:
    """A company as a kept result holds it: enough to name and link it."""

    pk: int
    legal_name: str
    country: Country


def sector_gaps(
    *,
    cells: list[str],
    requester: Requester,
    stage: str | None = None,
    mineral: str | None = None,
    country: str | None = None,
    as_of: dt.date | None = None,
    independent_only: bool = True,
    page: int = 1,
    page_size: int = SECTOR_PAGE_SIZE,
    keep: bool = False,
) -> SectorGaps:
    """Which companies of a stage / mineral / country lack coverage of `cells`: coverage
    in scope for that mineral and stage (registry.coverage). The list and the "visible"
    figures use what the requester may see on `as_of`; figures that count private
    attestations come only through registry.privacy (snapshots, noise, a budget).

    The figures are over the whole group; `lacking` is one page of the companies lacking
    any of the cells, by legal name then id (`lacking_count` in all). With `keep`, the
    figures of a large group come from a kept result (registry.kept: `computed_at`,
    `stale`; `kept.NotReady` while the first is computed); the page is always live."""
    as_of = as_of or dt.date.today()
    landscape = None if keep else load_landscape(as_of)
    group = sector_companies(stage, mineral, country)
    query: dict[str, Any] = {
        "cells": list(cells),
        "stage": stage,
        "mineral": mineral,
        "country": country,
        "as_of": as_of,
        "independent_only": independent_only,
    }
    computed_at, stale = None, False
    start = (max(page, 1) - 1) * page_size
    if keep:
        served = kept.serve(
            "sector_gaps",
            query,
            requester,
            population=group.count,
            rows=slice(start, start + page_size),
            # a sector is also graded company by company (its grade distribution)
            inline_below=settings.KEPT_GRADES_INLINE_BELOW if stage or mineral else None,
        )
        summary, stale = served.payload, served.stale
        computed_at = served.computed_at if served.kept else None  # None: just now
        lacking = [
            CompanyLack(
                CompanyRef(row["company"], row["company_name"], Country(row["country"])),
                row["missing"],
            )
            for row in served.rows
        ]
    else:
        summary = sector_figures(requester=requester, landscape=landscape, **query)
        rows = _lacking_rows(
            group,
            cells,
            stage=stage,
            mineral=mineral,
            as_of=as_of,
            independent_only=independent_only,
            requester=requester,
            landscape=landscape,
        )
        lacking = [
            CompanyLack(
                company, [c for i, c in enumerate(cells) if not getattr(company, f"covers_{i}")]
            )
            for company in rows[start : start + page_size]
        ]
    n, visible = summary["company_count"], summary["visible"]
    # One target per cell, then all of them ("lacking any").
    targets = [[cell] for cell in cells] + [list(cells)]

    def share(count: int, of: int) -> float:
        return round(count / of, 4) if of else 0.0

    names = [*cells, "any"]
    figures = [
        CellShare(name, count, share(count, n), count)
        for name, count in zip(names, visible, strict=True)
    ]
    info = None
    if requester.sees_everything:  # staff see every attestation: exact, live
        status, note = "exact", "Figures count every attestation, live (you keep the data)."
        for figure in figures:
            figure.basis = "exact"
    else:
        private = privacy.private_figures(
            requester=requester,
            group=privacy.Group(stage, mineral, country),
            targets=targets,
            independent_only=independent_only,
            as_of=as_of,
            counted=summary.get("private"),
        )
        status, note = private.status, private.note
        if private.snapshot is not None:
            info = SectorSnapshotInfo(
                private.snapshot.taken_on,
                private.group_size or 0,
                privacy.EPSILON,
                privacy.SNAPSHOT_RULE,
            )
        for figure, count in zip(figures, private.counts or [], strict=False):
            if count is None:
                figure.suppressed = True
            else:
                figure.lacking, figure.share = count, share(count, private.group_size or 0)
                figure.basis, figure.noised = "snapshot", True
    *shares, any_figure = figures
    return SectorGaps(
        cells=cells,
        as_of=as_of,
        independent_only=independent_only,
        company_count=n,
        lacking=lacking,
        shares=shares,
        share_lacking_any=any_figure.share,
        private_data_counted=status in ("exact", "noised"),
        lacking_any=any_figure,
        private_data=status,
        private_data_note=note,
        snapshot=info,
        lacking_count=visible[-1],
        page=max(page, 1),
        page_size=page_size,
        computed_at=computed_at,
        stale=stale,
        # in grade order (a kept result's JSON may have sorted its keys)
        grades={g: summary["grades"].get(g, 0) for g in GRADE_ORDER}
        if "grades" in summary
        else None,
    )


GRADE_ORDER = tuple(level for level, _, _ in GRADE_LEVELS) + ("none",)


def sector_grade_distribution(
    *,
    requester: Requester,
    stage: str | None = None,
    mineral: str | None = None,
    country: str | None = None,
    as_of: dt.date | None = None,
) -> dict[str, int]:
    """How many companies of a stage / mineral / country hold each grade (platinum to
    none, every level present), graded as `company_coverage` grades them in scope of the
    mineral and stage, from what `requester` may see: `grades_on` over the group, whose
    attestations are read in one query by the group's subquery (no id list sent), so the
    count of queries does not grow with the group. Large groups get it through the sector
    search's kept result (`sector_figures_payload`)."""
    group = sector_companies(stage, mineral, country)
    graded = grades_on(group, requester, as_of or dt.date.today(), mineral=mineral, stage=stage)
    counts = dict.fromkeys(GRADE_ORDER, 0)
    for grade in graded.values():
        counts[grade.level] += 1
    return counts


def facility_count() -> Coalesce:
    """A company's facilities, counted in a subquery per row: a join would multiply the
    company's rows by its facilities before any other filter or page."""
    counted = (
        Facility.objects.filter(company=OuterRef("pk"))
        .order_by()
        .values("company")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted), 0)


def companies_with_detail():
    return (
        Company.objects.select_related("parent")
        .prefetch_related("stages", "identifiers")
        .annotate(facility_count=facility_count())
    )


def holds_demo_data() -> bool:
    """Whether answers drawn from the whole registry rest on demo records (one query)."""
    return (
        Attestation.objects.filter(demo=True).exists()
        or SupplyRelationship.objects.filter(demo=True).exists()
    )


# --- Grades in bulk: the scorecard's rule for many companies in a fixed number of queries


def _ids_and_scope(companies) -> tuple[list[int], Any]:
    """Company ids to iterate, and what a query filters by: the queryset itself (a
    subquery) when given one, so a population's ids are never sent back as parameters."""
    if isinstance(companies, QuerySet):
        scope = companies.order_by().values("pk")
        return list(scope.values_list("pk", flat=True)), scope
    ids = list(companies)
    return ids, ids


def expected_by_company(companies) -> dict[int, list[ExpectedElement]]:
    """What is expected of each company (its stages decide): five queries for any number.
    `companies`: ids or a queryset of companies."""
    ids, scope = _ids_and_scope(companies)
    stages: dict[int, list[str]] = {pk: [] for pk in ids}
    rows = Company.stages.through.objects.filter(company_id__in=scope).values_list(
        "company_id", "cell__code"
    )
    for company_id, code in rows:
        stages[company_id].append(code)
    profiles, cells = _profiles(), _cells()
    by_stages: dict[tuple[str, ...], list[ExpectedElement]] = {}
    out = {}
    for company_id, codes in stages.items():
        key = tuple(sorted(codes))
        if key not in by_stages:
            by_stages[key] = expected_elements(list(key), profiles, cells)
        out[company_id] = by_stages[key]
    return out


def grade_from(
    expected: list[ExpectedElement],
    counted: Iterable[tuple[int, bool]],
    landscape: Landscape,
) -> Grade:
    """The grade from (standard id, independent) of the counting attestations in force."""
    covered: set[str] = set()
    independent: set[str] = set()
    for standard_id, is_independent in counted:
        cells = landscape.covered(standard_id)
        covered |= cells
        if is_independent:
            independent |= cells
    total = len(expected) or 1
    satisfied = sum(1 for e in expected if _satisfied(e, covered))
    deep = sum(1 for e in expected if _satisfied(e, independent))
    return grade_for(round(satisfied / total, 4), round(deep / total, 4))


def grades_on(
    companies,
    requester: Requester,
    on: dt.date,
    *,
    expected: dict[int, list[ExpectedElement]] | None = None,
    mineral: str | None = None,
    stage: str | None = None,
) -> dict[int, Grade]:
    """Each company's grade on `on` as `requester` sees it (in scope of `mineral` and
    `stage`, as `company_coverage` scopes it): a fixed number of queries whatever the
    number of companies (pass `expected` to share it between dates). `companies`: ids,
    or a queryset of companies (read as a subquery)."""
    ids, scope = _ids_and_scope(companies)
    if not ids:
        return {}
    expected = expected if expected is not None else expected_by_company(scope)
    landscape = load_landscape(on)
    found = coverage_map(
        scope,
        requester=requester,
        on=on,
        mineral=mineral,
        landscape=landscape,
    )
    return {
        pk: grade_from(
            expected.get(pk, []),
            ((item.standard_id, item.independent) for item in found.attestations(pk, (stage,))),
            landscape,
        )
        for pk in ids
    }


# --- The companies list's grade filter --------------------------------------

# A grade rests on each company's expected profile and visible attestations: no column
# holds it. A group of up to this many companies (narrowed by the other filters) is graded
# for the request (a fixed number of queries); a larger one reads the kept grading.
GRADE_FILTER_LIMIT = 500
GRADE_CHOICES = (*((level, level.capitalize()) for level, *_ in GRADE_LEVELS), ("none", "None"))


def grades_of(ids: list[int], requester: Requester, as_of: dt.date | None = None) -> dict[int, str]:
    """{company id: grade level} of a page's companies."""
    graded = grades_on(ids, requester, as_of or dt.date.today())
    return {pk: grade.level for pk, grade in graded.items()}


@dataclass
class GradeFiltered:
    companies: Any  # the queryset narrowed to the grade
    computed_at: dt.datetime | None = None  # of the kept grading; None: graded just now
    stale: bool = False


def companies_with_grade(companies, grade: str, requester: Requester) -> GradeFiltered:
    """`companies` narrowed to those of `grade` today. A group of at most
    GRADE_FILTER_LIMIT companies is graded for this request; a larger one is filtered by
    the kept grading of every company for the requester's scope (`company_grades`), an
    EXISTS over its table, with its "as of" (`kept.NotReady` while the first is computed)."""
    ids = list(companies.order_by().values_list("pk", flat=True)[: GRADE_FILTER_LIMIT + 1])
    if len(ids) <= GRADE_FILTER_LIMIT:
        graded = grades_on(ids, requester, dt.date.today())
        chosen = [pk for pk, g in graded.items() if g.level == grade]
        return GradeFiltered(companies.filter(pk__in=chosen))
    served = kept.serve(
        "company_grades",
        {"as_of": dt.date.today()},
        requester,
        population=lambda: GRADE_FILTER_LIMIT + 1,
        rows=slice(0, 0),
        inline_below=0,  # never inline: the whole registry is graded by a job
    )
    if served.result_id is None or served.generation is None:  # pragma: no cover
        raise RuntimeError("the company grading is always a kept answer")
    in_grade = KeptGrade.objects.filter(
        result_id=served.result_id,
        generation=served.generation,
        level=grade,
        company_id=OuterRef("pk"),
    )
    return GradeFiltered(companies.filter(Exists(in_grade)), served.computed_at, served.stale)


def company_grades_payload(params: dict, requester: Requester) -> tuple[dict, list]:
    """Every company's grade on `as_of` as `requester` sees it (the kept "company_grades"):
    graded in batches, so the job's memory stays bounded."""
    on = dt.date.fromisoformat(params["as_of"])
    rows: list[list] = []
    last = 0
    while True:
        batch = Company.objects.filter(pk__gt=last).order_by("pk")[:GRADE_JOB_BATCH]
        ids = list(batch.values_list("pk", flat=True))
        if not ids:
            break
        graded = grades_on(ids, requester, on)
        rows += [[pk, graded[pk].level] for pk in ids]
        last = ids[-1]
    counts: dict[str, int] = {}
    for _, level in rows:
        counts[level] = counts.get(level, 0) + 1
    return {"as_of": params["as_of"], "counts": counts}, rows


GRADE_JOB_BATCH = 2_000


def keep_company_grades(result, generation: int, rows: list) -> None:
    """Replace a kept grading's rows with those of `generation` (kept.TABLES)."""
    KeptGrade.objects.filter(result=result).delete()
    KeptGrade.objects.bulk_create(
        (
            KeptGrade(result=result, generation=generation, company_id=pk, level=level)
            for pk, level in rows
        ),
        batch_size=5_000,
    )
    if connection.vendor == "postgresql":
        # A refill leaves the planner's statistics empty until autovacuum comes round, and
        # with them it reads a grade filter's EXISTS as one row: 77 ms instead of 1.5 ms for
        # a page of companies of grade none at 50,000.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {KeptGrade._meta.db_table}")
