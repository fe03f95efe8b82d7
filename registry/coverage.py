"""What counts as coverage: the one place that decides it.

A company covers a cell on a date, for a requester, for a mineral and a stage, when one
of its attestations

- is of a counting type (membership, audit, certification, regulatory filing; a
  self-declaration is only "declared", shown apart) and, where asked, an independent one
  (audit or certification);
- was verified on that date (its status history) and is valid on it;
- is visible to the requester (public, its organisation's, shared with it, or named as
  its verifier; staff see all);
- is in scope: it names no minerals or names the mineral asked; it names no facilities or
  names one at the stage asked;
- is to a standard in force on that date (its status history; one that has ended or does
  not apply yet is listed apart with the reason, `NotCounted`), whose version in effect on
  that date covers the cell, itself or through what it incorporates
  (`taxonomy.selectors.Landscape`, loaded for the date).

The scorecard, the sector search, the supply trace, the passports' provenance and the
pages all ask here, in a fixed number of queries whatever the number of companies.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Q,
    QuerySet,
    Value,
)

from taxonomy.selectors import Landscape, load_landscape

from .models import Attestation
from .querysets import Requester

COUNTING_TYPES = ("membership", "third_party_audit", "certification", "regulatory_filing")
INDEPENDENT_TYPES = ("third_party_audit", "certification")
DECLARED_STATUSES = ("submitted", "under_review", "verified")
STAGE_PREFIX = "application."


@dataclass(frozen=True)
class CellSource:
    """Where a company's coverage of a cell comes from."""

    attestation_id: int
    standard: str
    type: str
    independent: bool
    via: str | None = None  # the incorporated standard that carries the cell


def cell_sources(attestation: Attestation, landscape: Landscape) -> dict[str, CellSource]:
    """Each cell one attestation covers, and through which standard (own or incorporated)."""
    standard_id = attestation.standard_id
    independent = attestation.type in INDEPENDENT_TYPES
    code = landscape.standards[standard_id].code
    out = {
        cell: CellSource(attestation.pk, code, attestation.type, independent)
        for cell in landscape.own.get(standard_id, ())
    }
    for cell, via_ids in landscape.inherited.get(standard_id, {}).items():
        out.setdefault(
            cell,
            CellSource(
                attestation.pk,
                code,
                attestation.type,
                independent,
                via=landscape.standards[via_ids[0]].code,
            ),
        )
    return out


def _mineral_scope(mineral: str) -> Q:
    through = Attestation.minerals.through.objects.filter(attestation_id=OuterRef("pk"))
    return ~Exists(through) | Exists(through.filter(mineral__code=mineral))


def attestations_in_scope(
    companies,
    *,
    requester: Requester,
    on: dt.date,
    mineral: str | None = None,
    independent_only: bool = False,
    declared: bool = False,
) -> QuerySet[Attestation]:
    """The attestations of `companies` (ids or a queryset of companies) that count on `on`
    for `mineral`, as `requester` may see them; with `declared`, also the
    self-declarations that are shown apart. Stage scope is applied by `CoverageMap`."""
    return counting_attestations(
        requester=requester,
        on=on,
        mineral=mineral,
        independent_only=independent_only,
        declared=declared,
    ).filter(company__in=companies)


def counting_attestations(
    *,
    requester: Requester,
    on: dt.date,
    mineral: str | None = None,
    independent_only: bool = False,
    declared: bool = False,
) -> QuerySet[Attestation]:
    """`attestations_in_scope` of every company: for subqueries over a population."""
    counting = Q(status_on="verified", type__in=COUNTING_TYPES)
    if declared:
        counting |= Q(type="self_declaration", status_on__in=DECLARED_STATUSES)
    queryset = (
        Attestation.objects.all()
        .visible_to(requester)
        .with_status_on(on)
        .valid_on(on)
        .filter(counting)
    )
    if independent_only:
        queryset = queryset.filter(type__in=INDEPENDENT_TYPES)
    if mineral:
        queryset = queryset.filter(_mineral_scope(mineral))
    return queryset


def facility_stages(attestations: QuerySet[Attestation]) -> dict[int, frozenset[str]]:
    """The stages of the facilities each attestation names (one query); absent: none."""
    stages: dict[int, set[str]] = defaultdict(set)
    rows = Attestation.facilities.through.objects.filter(
        attestation_id__in=attestations.values("pk")
    ).values_list("attestation_id", "facility__stage__code")
    for attestation_id, code in rows:
        stages[attestation_id].add(code.removeprefix(STAGE_PREFIX))
    return {pk: frozenset(codes) for pk, codes in stages.items()}


def applies_to_stage(stages: frozenset[str], stage: str | None) -> bool:
    """An attestation naming no facility covers the whole company, so every stage."""
    return stage is None or not stages or stage in stages


@dataclass(frozen=True)
class Counted:
    """One attestation as coverage: which company, which standard, which stages."""

    attestation_id: int
    company_id: int
    standard_id: int
    type: str
    stages: frozenset[str]

    @property
    def independent(self) -> bool:
        return self.type in INDEPENDENT_TYPES


@dataclass(frozen=True)
class NotCounted:
    """An attestation that would count but for its standard not being in force that day."""

    attestation_id: int
    standard: str
    status: str
    reason: str


def not_in_force(attestation_id: int, standard_id: int, landscape: Landscape) -> NotCounted | None:
    if landscape.in_force(standard_id):
        return None
    standard = landscape.standards[standard_id]
    status = landscape.status_of(standard_id)
    return NotCounted(attestation_id, standard.code, status.status, status.reason(standard))


class CoverageMap:
    """The counting attestations of many companies, read once; asked per company/stage.
    Attestations to standards not in force on the landscape's date are kept apart."""

    def __init__(self, counted: Iterable[Counted], landscape: Landscape | Callable[[], Landscape]):
        self._landscape = landscape  # or how to load it: only read if an attestation counts
        self.by_company: dict[int, list[Counted]] = defaultdict(list)
        self.not_counted: dict[int, list[NotCounted]] = defaultdict(list)
        for item in counted:
            apart = not_in_force(item.attestation_id, item.standard_id, self.landscape)
            if apart is None:
                self.by_company[item.company_id].append(item)
            else:
                self.not_counted[item.company_id].append(apart)

    @property
    def landscape(self) -> Landscape:
        if not isinstance(self._landscape, Landscape):
            self._landscape = self._landscape()
        return self._landscape

    def attestations(self, company_id: int, stages: Iterable[str | None] = (None,)):
        stages = list(stages)
        return [
            item
            for item in self.by_company.get(company_id, ())
            if any(applies_to_stage(item.stages, stage) for stage in stages)
        ]

    def cells(self, company_id: int, stages: Iterable[str | None] = (None,)) -> set[str]:
        """Cells covered by the company at any of `stages` (None: the whole company)."""
        covered: set[str] = set()
        for item in self.attestations(company_id, stages):
            covered |= self.landscape.covered(item.standard_id)
        return covered


def coverage_map(
    companies,
    *,
    requester: Requester,
    on: dt.date,
    mineral: str | None = None,
    independent_only: bool = False,
    landscape: Landscape | None = None,
) -> CoverageMap:
    """Which cells each of `companies` covers, for this requester, on this date, for this
    mineral (and, asked of the map, this stage): two queries, plus the landscape's of that
    date unless one is passed in (it should be loaded for `on`); one query when no
    attestation is in scope."""
    queryset = attestations_in_scope(
        companies,
        requester=requester,
        on=on,
        mineral=mineral,
        independent_only=independent_only,
    )
    rows = list(queryset.values_list("pk", "company_id", "standard_id", "type"))
    # No attestation counts (a synthetic or unattested graph): no stages, no landscape.
    stages = facility_stages(queryset) if rows else {}
    counted = (
        Counted(pk, company, standard, kind, stages.get(pk, frozenset()))
        for pk, company, standard, kind in rows
    )
    return CoverageMap(counted, landscape or partial(load_landscape, on))


def standards_covering(cell: str, landscape: Landscape) -> list[int]:
    """The standards in force on the landscape's date whose version then covers `cell`
    (itself or through what it incorporates): a handful of ids, never a population."""
    return sorted(
        sid
        for sid in landscape.standards
        if landscape.in_force(sid) and cell in landscape.covered(sid)
    )


def covers(
    cell: str,
    *,
    requester: Requester,
    on: dt.date,
    landscape: Landscape,
    mineral: str | None = None,
    stage: str | None = None,
    independent_only: bool = False,
):
    """A boolean expression for a company queryset, true when the company covers `cell`
    under the rules above: the sector search keeps its sets in SQL with one per cell.
    `id IN (the companies with such an attestation)`, not a correlated EXISTS: the
    database builds the set once and probes it per company (PostgreSQL: a hashed
    subplan), where EXISTS inside an aggregate ran once per company."""
    standard_ids = standards_covering(cell, landscape)
    if not standard_ids:
        return Value(False, output_field=BooleanField())
    queryset = counting_attestations(
        requester=requester, on=on, mineral=mineral, independent_only=independent_only
    ).filter(standard_id__in=standard_ids)
    if stage:
        through = Attestation.facilities.through.objects.filter(attestation_id=OuterRef("pk"))
        queryset = queryset.filter(
            ~Exists(through) | Exists(through.filter(facility__stage__code=STAGE_PREFIX + stage))
        )
    return ExpressionWrapper(Q(pk__in=queryset.values("company_id")), output_field=BooleanField())
