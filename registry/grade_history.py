"""Grades in bulk and over time.

`selectors.grades_on` grades many companies on one date in a fixed number of queries.
`grade_history`
lists when one company's grade changed and why, evaluating the grade only on the dates
something happened: an attestation became valid, expired or changed status, or a standard
changed status or version.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Prefetch

from taxonomy.selectors import (
    Landscape,
    LandscapeRows,
    landscape_changes,
    landscape_on,
    read_landscape,
)

from .coverage import COUNTING_TYPES, INDEPENDENT_TYPES
from .models import Attestation, Company, StatusChange
from .querysets import Requester
from .selectors import (
    Grade,
    expected_by_company,
    grade_from,
)

LEVEL_ORDER = {"none": 0, "basic": 1, "silver": 2, "gold": 3, "platinum": 4}
HISTORY_DAYS = 730
# Each evaluated date costs a grading in memory: the cap keeps a page's time bounded.
MAX_EVALUATED_DATES = 200


def change_of(before: Grade | None, after: Grade) -> str:
    """ "up", "down" or "same" between two grades (no earlier grade: "same")."""
    if before is None:
        return "same"
    delta = LEVEL_ORDER[after.level] - LEVEL_ORDER[before.level]
    return "up" if delta > 0 else "down" if delta < 0 else "same"


def quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


# --- One company's grade over time ------------------------------------------------


@dataclass(frozen=True)
class GradeEvent:
    """Something that happened on a date and may move the grade."""

    on: dt.date
    text: str
    attestation_id: int | None = None


@dataclass
class GradeChange:
    on: dt.date
    before: Grade
    after: Grade
    reasons: list[GradeEvent]

    @property
    def direction(self) -> str:
        return change_of(self.before, self.after)


@dataclass
class GradeHistory:
    company: Company
    start: dt.date
    end: dt.date
    first: Grade  # the grade the day before `start`
    current: Grade  # the grade on `end`
    changes: list[GradeChange] = field(default_factory=list)  # latest first
    evaluated: int = 0  # event dates on which the grade was evaluated
    capped: bool = False  # more event dates than MAX_EVALUATED_DATES: the earliest dropped
    has_attestations: bool = False


def _label(attestation: Attestation) -> str:
    return f"{attestation.standard.short_name} {attestation.get_type_display().lower()}"


def _status_on(changes: list[StatusChange], day: dt.date) -> str | None:
    """The same rule as `AttestationQuerySet.with_status_on`, on changes already read."""
    status = None
    for change in changes:  # ordered by effective, id
        if change.effective <= day:
            status = change.to_status
    return status


def _attestation_events(attestation: Attestation, changes: list[StatusChange]) -> list[GradeEvent]:
    label, pk = _label(attestation), attestation.pk
    events = [GradeEvent(attestation.valid_from, f"{label} became valid", pk)]
    if attestation.valid_until:
        events.append(
            GradeEvent(
                attestation.valid_until + dt.timedelta(days=1),
                f"{label} expired (valid until {attestation.valid_until})",
                pk,
            )
        )
    for change in changes:
        text = f"{label} {change.get_to_status_display().lower()}"
        if change.from_status:
            text += f" (was {change.from_status.replace('_', ' ')})"
        if change.reason:
            text += f": {change.reason}"
        events.append(GradeEvent(change.effective, text, pk))
    return events


def _landscape_events(start: dt.date, end: dt.date, standard_ids: set[int]) -> list[GradeEvent]:
    events = []
    for change in landscape_changes(start, end):
        if change.standard.pk not in standard_ids:
            continue
        name = change.standard.short_name
        if change.kind == "version":
            text = f"{name} version {change.version.label} came into force"
        else:
            text = f"{name} became {change.status.replace('_', ' ')}"
        if change.note:
            text += f" ({change.note})"
        events.append(GradeEvent(change.on, text))
    return events


def _landscape_dates(rows: LandscapeRows) -> list[dt.date]:
    """Every date on which some standard's status or version changes."""
    days = {change.on for changes in rows.changes.values() for change in changes}
    days |= {
        version.valid_from
        for versions in rows.versions_of.values()
        for version in versions
        if version.valid_from is not None
    }
    return sorted(days)


def grade_history(
    company: Company, requester: Requester, today: dt.date | None = None
) -> GradeHistory:
    """When `company`'s grade changed over the last two years (or since its first
    attestation `requester` may see), before -> after, and what happened that day.

    Attestations and their status histories are read once; the grade is evaluated in
    memory on each event date; the standards' landscape is read once and built in memory
    for each period between two changes of a standard's status or version: a fixed number
    of queries."""
    end = today or dt.date.today()
    attestations = list(
        Attestation.objects.visible_to(requester)
        .filter(company=company, valid_from__lte=end)
        .select_related("standard")
        .prefetch_related(
            Prefetch("status_changes", queryset=StatusChange.objects.order_by("effective", "id"))
        )
        .order_by("valid_from", "pk")
    )
    start = end - dt.timedelta(days=HISTORY_DAYS)
    if attestations:
        start = max(start, attestations[0].valid_from)
    expected = expected_by_company([company.pk])[company.pk]
    rows = read_landscape()  # once: each period's landscape is built from it in memory
    landscape_days = _landscape_dates(rows)
    landscapes: dict[int, Landscape] = {}

    def landscape_for(day: dt.date) -> Landscape:
        # Between two landscape change dates every day's landscape is the same.
        period = bisect.bisect_right(landscape_days, day)
        if period not in landscapes:
            landscapes[period] = landscape_on(rows, day)
        return landscapes[period]

    histories = {a.pk: list(a.status_changes.all()) for a in attestations}

    def grade_on(day: dt.date) -> Grade:
        landscape = landscape_for(day)
        counted = [
            (a.standard_id, a.type in INDEPENDENT_TYPES)
            for a in attestations
            if a.type in COUNTING_TYPES
            and a.valid_from <= day
            and (a.valid_until is None or a.valid_until >= day)
            and _status_on(histories[a.pk], day) == "verified"
            and landscape.in_force(a.standard_id)
        ]
        return grade_from(expected, counted, landscape)

    events: dict[dt.date, list[GradeEvent]] = defaultdict(list)
    for attestation in attestations:
        for event in _attestation_events(attestation, histories[attestation.pk]):
            if start <= event.on <= end:
                events[event.on].append(event)
    # Standards the company attests to, and what they incorporate, can move its grade.
    attested = {a.standard_id for a in attestations}
    relevant = set(attested)
    current = landscape_for(end)
    for standard_id in attested:
        for via in current.inherited.get(standard_id, {}).values():
            relevant.update(via)
    for event in _landscape_events(start, end, relevant):
        events[event.on].append(event)
    # An unrelated standard's change may still change incorporated cells: evaluate it too
    # (without attestations the grade is "none" whatever the standards do).
    for day in landscape_days if attestations else ():
        if start <= day <= end:
            events.setdefault(day, [])

    days = sorted(events)
    capped = len(days) > MAX_EVALUATED_DATES
    if capped:
        days = days[-MAX_EVALUATED_DATES:]
        start = days[0]
    # The grade the day before the window: what the first event changed.
    first = previous = grade_on(start - dt.timedelta(days=1))
    changes = []
    for day in days:
        grade = grade_on(day)
        if grade.level != previous.level:
            changes.append(GradeChange(day, previous, grade, events[day]))
        previous = grade
    changes.reverse()
    return GradeHistory(
        company=company,
        start=start,
        end=end,
        first=first,
        current=previous,
        changes=changes,
        evaluated=len(days),
        capped=capped,
        has_attestations=bool(attestations),
    )
