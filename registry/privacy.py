"""Sector figures that count private attestations without disclosing any one company's.

The sector search (`selectors.sector_gaps`) lists, from what the requester may see, the
companies of a group that lack cells; its figures may also count attestations the
requester may not see (private, or shared with others). Those figures are drawn here, and
only here, under these rules (README, "Privacy of private attestations in sector figures"):

- They come from a snapshot (`SectorSnapshot`), never from the live registry: coverage
  and group membership frozen on the snapshot date by a weekly job. `as_of` rounds down to
  the latest snapshot on or before it, so dates between snapshots are invisible, and no
  edit to the registry (a facility that moves a company into a group, a new attestation)
  changes a figure before the next snapshot.
- A group of fewer than FLOOR companies (in the snapshot) gets no such figure.
- Every figure is a count of lacking companies plus two-sided geometric noise of
  parameter EPSILON (sensitivity 1: one company's attestations move a count by at most
  one), seeded by the snapshot's secret salt and the figure's key, so a repeated query
  returns the same number and averaging repeats gains nothing.
- A noisy count within FLOOR of none or of the whole group is suppressed (the figure
  falls back to what the requester may see): it is decided on the noisy count, so the
  suppression itself discloses no more than the noise allows.
- Each requester (an organisation, shared by its users; a user without one; everyone
  not logged in together) may draw BUDGET distinct figures per calendar month; after
  that, figures fall back to what it may see. Counted in the database, under a row lock.

Staff, who keep the data and see every attestation anyway, get exact live figures.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import random
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F

from taxonomy.selectors import load_landscape

from .coverage import STAGE_PREFIX, coverage_map
from .models import (
    Company,
    Facility,
    PrivacyBudget,
    PrivacyDraw,
    SectorSnapshot,
    SectorSnapshotEntry,
)
from .querysets import Requester

FLOOR = 5  # fewest companies in a group, and least distance of a count from none or all
EPSILON = 0.5  # per figure; noise of standard deviation ~2.8 companies
BUDGET = 10  # distinct figures per requester per calendar month: epsilon at most 5 a month
SNAPSHOT_RULE = (
    f"Figures that count private attestations come from the latest weekly snapshot on or "
    f"before the date asked; groups of fewer than {FLOOR} companies get none; each is "
    f"noised (two-sided geometric, epsilon {EPSILON}) and withheld when within {FLOOR} of "
    f"none or all of the group; each requester may draw {BUDGET} distinct figures a month."
)


# --- Snapshots ----------------------------------------------------------------


def build_snapshot(
    on: dt.date | None = None, *, salt: str | None = None
) -> tuple[SectorSnapshot, bool]:
    """Freeze every company's group memberships and covered cells (every attestation,
    whatever its visibility) on `on` (default today). Idempotent: a snapshot of that date
    that exists already is returned as it is; returns (snapshot, created). `salt` seeds
    the noise: a fresh secret unless given (tests fix it)."""
    on = on or dt.date.today()
    existing = SectorSnapshot.objects.filter(taken_on=on).first()
    if existing is not None:
        return existing, False
    landscape = load_landscape(on)
    everyone = Requester.everyone()
    countries = dict(Company.objects.values_list("pk", "country"))
    stages: dict[int, set[str]] = defaultdict(set)
    for company_id, code in Company.stages.through.objects.values_list("company_id", "cell__code"):
        stages[company_id].add(code.removeprefix(STAGE_PREFIX))
    minerals: dict[str, set[int]] = defaultdict(set)  # the companies with a facility of each
    for company_id, code in (
        Facility.objects.filter(minerals__isnull=False)
        .values_list("company_id", "minerals__code")
        .distinct()
    ):
        minerals[code].add(company_id)

    entries = []
    for mineral, members in [("", set(countries)), *sorted(minerals.items())]:
        # One coverage map per mineral scope: two queries each.
        companies = Company.objects.all()
        if mineral:
            companies = companies.filter(facilities__minerals__code=mineral)
        scoped = coverage_map(
            companies.values("pk"),
            requester=everyone,
            on=on,
            mineral=mineral or None,
            landscape=landscape,
        )
        for company_id in sorted(members):
            for stage in ["", *sorted(stages[company_id])]:
                items = scoped.attestations(company_id, [stage or None])
                covered: set[str] = set()
                independent: set[str] = set()
                for item in items:
                    cells = landscape.covered(item.standard_id)
                    covered |= cells
                    if item.independent:
                        independent |= cells
                entries.append(
                    SectorSnapshotEntry(
                        company_id=company_id,
                        stage=stage,
                        mineral=mineral,
                        country=str(countries[company_id]),
                        covered=sorted(covered),
                        covered_independent=sorted(independent),
                    )
                )
    try:
        with transaction.atomic():
            snapshot = SectorSnapshot.objects.create(
                taken_on=on, noise_salt=salt or secrets.token_hex(32), company_count=len(countries)
            )
            for entry in entries:
                entry.snapshot = snapshot
            SectorSnapshotEntry.objects.bulk_create(entries, batch_size=2000)
    except IntegrityError:  # another worker built it meanwhile
        return SectorSnapshot.objects.get(taken_on=on), False
    return snapshot, True


def snapshot_for(as_of: dt.date) -> SectorSnapshot | None:
    """The latest snapshot on or before `as_of` (one query)."""
    return SectorSnapshot.objects.filter(taken_on__lte=as_of).order_by("-taken_on").first()


# --- Figures ------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    stage: str | None
    mineral: str | None
    country: str | None


def lacks(covered: Iterable[str] | set[str], target: Sequence[str]) -> bool:
    """A company lacks a target (one cell, or any of several) if it misses one of them."""
    covered = covered if isinstance(covered, set) else set(covered)
    return any(cell not in covered for cell in target)


def figure_key(snapshot: SectorSnapshot, group: Group, target: Sequence[str], independent: bool):
    """The same figure asked twice (cells in any order, repeated) has the same key."""
    return "|".join(
        [
            snapshot.taken_on.isoformat(),
            group.stage or "",
            group.mineral or "",
            group.country or "",
            "independent" if independent else "counting",
            ",".join(sorted(set(target))),
        ]
    )


def noise(snapshot: SectorSnapshot, key: str) -> int:
    """Two-sided geometric noise, P(z) proportional to exp(-EPSILON |z|), fixed by the
    snapshot's secret salt and the figure's key."""
    digest = hmac.new(snapshot.noise_salt.encode(), key.encode(), hashlib.sha256).digest()
    rng = random.Random(int.from_bytes(digest, "big"))
    log_alpha = -EPSILON

    def geometric() -> int:
        return math.floor(math.log(1.0 - rng.random()) / log_alpha)

    return geometric() - geometric()


def release(exact: int, size: int, z: int) -> int | None:
    """The noisy count, or None when it lies within FLOOR of none or all of the group."""
    noisy = min(max(exact + z, 0), size)
    if noisy < FLOOR or size - noisy < FLOOR:
        return None
    return noisy


# --- Budget -------------------------------------------------------------------


def budget_holder(requester: Requester) -> str:
    """Whose budget pays: an organisation's users share one; all anonymous askers one."""
    if requester.organisation_id:
        return f"org:{requester.organisation_id}"
    if requester.user_id:
        return f"user:{requester.user_id}"
    return "anonymous"


def charge(holder: str, keys: Iterable[str], today: dt.date | None = None) -> set[str]:
    """The keys this holder may be given: those it drew already this month (free), and
    the new ones if they all fit in what is left of BUDGET (otherwise none of them).
    One row lock per holder serialises concurrent requests in every process."""
    today = today or dt.date.today()
    hashed = {hashlib.sha256(k.encode()).hexdigest(): k for k in keys}
    with transaction.atomic():
        budget, _ = PrivacyBudget.objects.select_for_update().get_or_create(
            requester=holder, period_start=today.replace(day=1)
        )
        drawn = set(
            PrivacyDraw.objects.filter(budget=budget, key__in=list(hashed)).values_list(
                "key", flat=True
            )
        )
        new = [h for h in hashed if h not in drawn]
        if new and budget.spent + len(new) <= BUDGET:
            PrivacyDraw.objects.bulk_create([PrivacyDraw(budget=budget, key=h) for h in new])
            PrivacyBudget.objects.filter(pk=budget.pk).update(spent=F("spent") + len(new))
            drawn.update(new)
    return {hashed[h] for h in drawn}


def forget_old_budgets(today: dt.date | None = None) -> int:
    """Budgets of months before the last are spent for good: drop them (and their draws)."""
    today = today or dt.date.today()
    last_month = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    return PrivacyBudget.objects.filter(period_start__lt=last_month).delete()[0]


# --- The figures of one sector query --------------------------------------------


@dataclass
class PrivateFigures:
    status: str  # noised | partly_suppressed | suppressed | no_snapshot | group_too_small
    #              | budget_exhausted
    note: str
    snapshot: SectorSnapshot | None = None
    group_size: int | None = None
    counts: list[int | None] | None = None  # per target: the noisy count, None if withheld


NOTES = {
    "noised": "Figures count every attestation, private ones included, as of the snapshot "
    "of {taken_on}, with noise added.",
    "partly_suppressed": "Figures count every attestation as of the snapshot of {taken_on}, "
    "with noise added; those marked suppressed lie too near none or all of the group and "
    "count only what you may see.",
    "suppressed": "The snapshot of {taken_on} puts every figure too near none or all of "
    "the group: they count only what you may see.",
    "no_snapshot": "No snapshot on or before this date: figures count only what you may see.",
    "group_too_small": "The group had fewer than {floor} companies in the snapshot of "
    "{taken_on}: figures count only what you may see.",
    "budget_exhausted": "You have drawn the {budget} figures counting private attestations "
    "allowed this month: figures count only what you may see until the month ends.",
}

STATUSES = ("exact", *NOTES)  # "exact": staff, live


def snapshot_counts(
    snapshot: SectorSnapshot, group: Group, targets: Sequence[Sequence[str]], independent: bool
) -> tuple[int, list[int]]:
    """The group's size in the snapshot and, per target, how many of it lack the target:
    exact counts of private data, never shown as they are (only through `release`)."""
    entries = SectorSnapshotEntry.objects.filter(
        snapshot=snapshot, stage=group.stage or "", mineral=group.mineral or ""
    )
    if group.country:
        entries = entries.filter(country=group.country)
    field = "covered_independent" if independent else "covered"
    members = [set(cells) for cells in entries.values_list(field, flat=True)]
    return len(members), [sum(lacks(c, target) for c in members) for target in targets]


def kept_counts(
    group: Group, targets: Sequence[Sequence[str]], independent: bool, as_of: dt.date
) -> dict | None:
    """`snapshot_counts` of the snapshot of `as_of`, for a kept result; None without one."""
    snapshot = snapshot_for(as_of)
    if snapshot is None:
        return None
    size, lacking = snapshot_counts(snapshot, group, targets, independent)
    return {"snapshot": snapshot.pk, "size": size, "lacking": lacking}


def private_figures(
    *,
    requester: Requester,
    group: Group,
    targets: Sequence[Sequence[str]],
    independent_only: bool,
    as_of: dt.date,
    today: dt.date | None = None,
    counted: dict | None = None,
) -> PrivateFigures:
    """The figures for `targets` (each a cell, or the cells of "any") that count private
    attestations, as far as the rules above let this requester have them. `counted`: the
    exact counts `snapshot_counts` gave for the snapshot of `as_of`, kept with the sector
    search's result (registry.kept), so a large group's entries are not read each time;
    the budget is charged and the noise added here, per request, all the same."""

    def result(status: str, **fields) -> PrivateFigures:
        snapshot = fields.get("snapshot")
        note = NOTES[status].format(
            taken_on=snapshot.taken_on if snapshot else "", floor=FLOOR, budget=BUDGET
        )
        return PrivateFigures(status, note, **fields)

    snapshot = snapshot_for(as_of)
    if snapshot is None:
        return result("no_snapshot")
    if counted is not None and counted.get("snapshot") == snapshot.pk:
        size, exact = counted["size"], counted["lacking"]
    else:
        size, exact = snapshot_counts(snapshot, group, targets, independent_only)
    if size < FLOOR:  # the group's size is public: no budget is spent on it
        return result("group_too_small", snapshot=snapshot, group_size=size)
    keys = [figure_key(snapshot, group, target, independent_only) for target in targets]
    allowed = charge(budget_holder(requester), keys, today)
    if not all(key in allowed for key in keys):
        return result("budget_exhausted", snapshot=snapshot, group_size=size)
    counts = [
        release(count, size, noise(snapshot, key)) for count, key in zip(exact, keys, strict=True)
    ]
    withheld = sum(count is None for count in counts)
    status = (
        "noised"
        if not withheld
        else "suppressed"
        if withheld == len(counts)
        else "partly_suppressed"
    )
    return result(status, snapshot=snapshot, group_size=size, counts=counts)
