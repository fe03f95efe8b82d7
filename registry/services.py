"""Writes to the registry. Each is one transaction: nothing is half-saved."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import Case, Exists, F, OuterRef, Q, Sum, When
from django.utils import timezone

from config.errors import Conflict
from taxonomy.models import Mineral

from . import evidence_checks
from .models import (
    Attestation,
    Company,
    Evidence,
    MinedSource,
    MineOwnership,
    StatusChange,
    SupplyRelationship,
)
from .permissions import (
    can_add_evidence,
    can_edit,
    can_log_attestations,
    can_review,
    membership_of,
)

Status = Attestation.Status


# --- Lifecycle -------------------------------------------------------------

TRANSITIONS: dict[str, frozenset[str]] = {
    Status.SUBMITTED: frozenset({Status.UNDER_REVIEW}),
    Status.UNDER_REVIEW: frozenset({Status.VERIFIED, Status.REJECTED}),
    Status.VERIFIED: frozenset({Status.SUSPENDED, Status.REVOKED, Status.EXPIRED}),
    Status.SUSPENDED: frozenset({Status.VERIFIED, Status.REVOKED}),
    Status.REJECTED: frozenset({Status.SUBMITTED}),  # resubmission after correction
    Status.REVOKED: frozenset(),
    Status.EXPIRED: frozenset(),
}
REVIEW_TARGETS = {
    Status.UNDER_REVIEW,
    Status.VERIFIED,
    Status.REJECTED,
    Status.SUSPENDED,
    Status.REVOKED,
}


def validate_validity(valid_from: dt.date, valid_until: dt.date | None) -> None:
    if valid_until is not None and valid_until < valid_from:
        raise ValidationError(
            {"valid_until": f"Validity ends ({valid_until}) before it starts ({valid_from})."}
        )


@transaction.atomic
def attestation_create(
    *,
    user,
    owner_id: int | None = None,
    effective: dt.date | None = None,
    minerals=(),
    facilities=(),
    shared_with=(),
    **fields,
) -> Attestation:
    """Log an attestation as the user's own organisation; it starts as submitted."""
    membership = membership_of(user)
    if not can_log_attestations(user):
        raise PermissionDenied("Only compliance officers may log attestations.")
    if membership is not None:
        if owner_id not in (None, membership.organisation_id) and not user.is_staff:
            raise PermissionDenied("You may log attestations only as your own organisation.")
        owner_id = owner_id or membership.organisation_id
    if owner_id is None:
        raise ValidationError({"owner": "Staff without an organisation must name the owner."})
    validate_validity(fields["valid_from"], fields.get("valid_until"))
    _check_facilities(fields["company"].pk, facilities)
    attestation = Attestation.objects.create(
        owner_id=owner_id, status=Status.SUBMITTED, submitted_by=user, **fields
    )
    attestation.minerals.set(minerals)
    attestation.facilities.set(facilities)
    attestation.shared_with.set(shared_with)
    StatusChange.objects.create(
        attestation=attestation,
        from_status="",
        to_status=Status.SUBMITTED,
        effective=effective or dt.date.today(),
        by=user if user.is_authenticated else None,
    )
    return attestation


def _check_facilities(company_id: int, facilities) -> None:
    foreign = [f for f in facilities if f.company_id != company_id]
    if foreign:
        names = ", ".join(f.name for f in foreign)
        raise ValidationError({"facilities": f"Not facilities of this company: {names}."})


# Fields that define what was attested; they may change only before review ends.
SUBSTANTIVE = {
    "company",
    "standard",
    "type",
    "valid_from",
    "valid_until",
    "minerals",
    "facilities",
    "verifier",
    "verifier_name",
    "reference",
}
EDITABLE_STATUSES = {Status.SUBMITTED, Status.REJECTED}


@transaction.atomic
def attestation_update(
    *, attestation: Attestation, user, expected_version: int | None, **changes
) -> Attestation:
    locked = Attestation.objects.select_for_update().get(pk=attestation.pk)
    if not can_edit(user, locked):
        raise PermissionDenied("Only the logging organisation's compliance officers may edit.")
    if expected_version is not None and expected_version != locked.version:
        raise Conflict(
            f"The attestation changed since you read it (version {expected_version}, "
            f"now {locked.version}); reload and try again."
        )
    touched = SUBSTANTIVE & set(changes)
    if touched and locked.status not in EDITABLE_STATUSES:
        raise Conflict(
            f"A {locked.status} attestation's {', '.join(sorted(touched))} cannot be changed; "
            "log a new attestation instead."
        )
    m2m = {k: changes.pop(k) for k in ("minerals", "facilities", "shared_with") if k in changes}
    for name, value in changes.items():
        setattr(locked, name, value)
    if not can_edit(user, locked):  # as it would be after: an owner cannot hand it away
        raise PermissionDenied("An attestation stays with the organisation that logged it.")
    validate_validity(locked.valid_from, locked.valid_until)
    if "facilities" in m2m:
        _check_facilities(locked.company_id, m2m["facilities"])
    locked.version += 1  # safe: the row is locked (select_for_update)
    locked.save()
    for name, value in m2m.items():
        getattr(locked, name).set(value)
    locked.refresh_from_db()
    return locked


@transaction.atomic
def attestation_transition(
    *,
    attestation: Attestation,
    to_status: str,
    user,
    reason: str = "",
    effective: dt.date | None = None,
) -> Attestation:
    """Move an attestation to a new status, if the lifecycle allows it.

    The row is locked, so two reviewers acting at once cannot both succeed
    from the same starting status.
    """
    locked = Attestation.objects.select_for_update().get(pk=attestation.pk)
    if to_status not in TRANSITIONS:
        raise ValidationError({"status": f"Unknown status {to_status!r}."})
    allowed = TRANSITIONS[locked.status]
    if to_status not in allowed:
        options = ", ".join(sorted(allowed)) or "none (final status)"
        raise Conflict(
            f"An attestation cannot go from {locked.status} to {to_status}; "
            f"allowed from {locked.status}: {options}."
        )
    refusal = transition_refusal(locked, to_status, user)
    if refusal:
        raise PermissionDenied(refusal)
    last = locked.status_changes.order_by("-effective", "-id").first()
    today = dt.date.today()
    effective = effective or today
    if effective > today:
        raise ValidationError({"effective": "A status change cannot take effect in the future."})
    if last and effective < last.effective:
        raise ValidationError(
            {"effective": f"Must not be before the previous change ({last.effective})."}
        )
    StatusChange.objects.create(
        attestation=locked,
        from_status=locked.status,
        to_status=to_status,
        effective=effective,
        by=user,
        reason=reason,
    )
    locked.status = to_status
    if to_status in REVIEW_TARGETS and user is not None:
        locked.reviewed_by = user
    locked.version += 1  # safe: the row is locked (select_for_update)
    locked.save()
    locked.refresh_from_db()
    return locked


SUBMITTER_CANNOT_VERIFY = "The person who submitted an attestation cannot verify it."

# What a person does to reach each status, as the pages label the buttons.
STEP_LABELS: dict[str, str] = {
    Status.SUBMITTED: "Resubmit",
    Status.UNDER_REVIEW: "Start review",
    Status.VERIFIED: "Verify",
    Status.REJECTED: "Reject",
    Status.SUSPENDED: "Suspend",
    Status.REVOKED: "Revoke",
    Status.EXPIRED: "Mark expired",
}


def transition_refusal(attestation: Attestation, to_status: str, user) -> str | None:
    """Why `user` may not move `attestation` to `to_status` (the lifecycle aside), or None.
    No user is the nightly job. The submitter never verifies, staff included (four eyes)."""
    if user is None:
        return None
    # Only the nightly job (no user) or a reviewer may mark an attestation expired.
    if to_status in REVIEW_TARGETS | {Status.EXPIRED} and not can_review(user, attestation):
        return "Only a reviewer may move an attestation to " + to_status
    if to_status == Status.SUBMITTED and not can_edit(user, attestation):
        return "Only the logging organisation may resubmit."
    if (
        to_status == Status.VERIFIED
        and attestation.submitted_by_id is not None
        and attestation.submitted_by_id == user.pk
    ):
        return SUBMITTER_CANNOT_VERIFY
    return None


@dataclass(frozen=True)
class Step:
    """A status change offered to a person: the target status and its button's label."""

    to: str
    label: str


def allowed_transitions(attestation: Attestation, user) -> list[Step]:
    """The next steps `user` may take on `attestation` now, in lifecycle order; the same
    rules `attestation_transition` applies (no query beyond the user's membership)."""
    return [
        Step(to, STEP_LABELS[to])
        for to in Status.values
        if to in TRANSITIONS[attestation.status]
        and transition_refusal(attestation, to, user) is None
    ]


def transition_hints(attestation: Attestation, user) -> list[str]:
    """Steps this user could take later but not now, saying what must come first (or
    why not): "Verify becomes available once it is under review."."""
    hints = []
    current = attestation.status
    for to in Status.values:
        label = STEP_LABELS[to]
        if to in TRANSITIONS[current]:
            if transition_refusal(attestation, to, user) == SUBMITTER_CANNOT_VERIFY:
                hints.append(f"{label}: {SUBMITTER_CANNOT_VERIFY} Another reviewer must.")
            continue
        if to == current or transition_refusal(attestation, to, user) not in (
            None,
            SUBMITTER_CANNOT_VERIFY,
        ):
            continue
        via = [m for m in TRANSITIONS[current] if to in TRANSITIONS[m] and m != to]
        if via and transition_refusal(attestation, to, user) is None:
            names = " or ".join(Status(m).label.lower() for m in sorted(via))
            hints.append(f"{label} becomes available once it is {names}.")
    return hints


EXPIRY_REASON = "validity ended"


class _Raced(Exception):
    """Rows of a batch changed under it (only possible without row locks): redo the batch."""


def expire_attestations(today: dt.date | None = None) -> int:
    """Verified attestations whose validity has ended become expired; returns how many.

    Each becomes expired as `attestation_transition` would do it (status, version + 1, one
    "expired" status change effective `today` with reason "validity ended", a history
    record), but a batch at a time: EXPIRY_BATCH_SIZE rows per transaction, locked with
    SKIP LOCKED. So the job may run twice, on two workers at once, or again after its worker
    was killed half-way: a kill rolls back only the batch in hand, a second run skips the
    rows the first holds, and every attestation is expired exactly once.

    An attestation with a status change dated after `today` is left alone (expiring it on
    `today` would put its history out of order); a later run expires it.
    """
    today = today or dt.date.today()
    if today > dt.date.today():
        raise ValidationError({"effective": "A status change cannot take effect in the future."})
    batch_size = max(1, settings.EXPIRY_BATCH_SIZE)
    count = 0
    while True:
        try:
            with transaction.atomic():
                taken = _expire_batch(today, batch_size)
        except _Raced:
            continue
        count += taken
        if taken < batch_size:  # nothing left that another run is not already doing
            return count


def _expire_batch(today: dt.date, batch_size: int) -> int:
    """Expire up to `batch_size` due attestations in the current transaction."""
    later_change = StatusChange.objects.filter(attestation=OuterRef("pk"), effective__gt=today)
    due = (
        Attestation.objects.filter(status=Status.VERIFIED, valid_until__lt=today)
        .filter(~Exists(later_change))
        .order_by("pk")
        .select_for_update(skip_locked=connection.features.has_select_for_update_skip_locked)
    )
    batch = list(due[:batch_size])
    if not batch:
        return 0
    now = timezone.now()
    updated = Attestation.objects.filter(
        pk__in=[a.pk for a in batch], status=Status.VERIFIED
    ).update(status=Status.EXPIRED, version=F("version") + 1, updated_at=now)
    if updated != len(batch):
        raise _Raced
    StatusChange.objects.bulk_create(
        StatusChange(
            attestation_id=a.pk,
            from_status=Status.VERIFIED,
            to_status=Status.EXPIRED,
            effective=today,
            by=None,
            reason=EXPIRY_REASON,
        )
        for a in batch
    )
    for a in batch:
        a.status, a.version, a.updated_at = Status.EXPIRED, a.version + 1, now
    Attestation.history.bulk_history_create(batch, update=True, default_date=now)
    return len(batch)


# --- Evidence --------------------------------------------------------------

# Allowed evidence types: extension -> (content type, leading bytes it must have).
EVIDENCE_TYPES: dict[str, tuple[str, tuple[bytes, ...]]] = {
    ".pdf": ("application/pdf", (b"%PDF-",)),
    ".png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        (b"PK\x03\x04",),
    ),
    ".csv": ("text/csv", ()),
    ".txt": ("text/plain", ()),
}


def _evidence_type(name: str, head: bytes) -> str:
    suffix = PurePath(name).suffix.lower()
    if suffix not in EVIDENCE_TYPES:
        allowed = ", ".join(sorted(EVIDENCE_TYPES))
        raise ValidationError(
            {"file": f"Files of type {suffix or '(none)'} are not accepted; allowed: {allowed}."}
        )
    content_type, signatures = EVIDENCE_TYPES[suffix]
    if signatures and not head.startswith(signatures):
        raise ValidationError({"file": f"{name} is not a real {suffix} file."})
    if not signatures:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            # A multi-byte character cut at the end of the sample is fine.
            if exc.start < len(head) - 3:
                raise ValidationError({"file": f"{name} is not UTF-8 text."}) from exc
    return content_type


def inspect_upload(upload) -> tuple[str, str]:
    """Check an evidence file's size and type; return (content type, SHA-256)."""
    limit = settings.EVIDENCE_MAX_BYTES
    if upload.size > limit:
        raise ValidationError(
            {"file": f"{upload.name} is {upload.size} bytes; the limit is {limit} bytes."}
        )
    upload.seek(0)
    content_type = _evidence_type(upload.name, upload.read(2048))
    # The whole file, by content: a zip bomb, a PDF that is also HTML, a cut-off image.
    evidence_checks.check_content(upload, upload.name, PurePath(upload.name).suffix.lower())
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return content_type, digest.hexdigest()


@transaction.atomic
def evidence_add(*, attestation: Attestation, user, upload) -> Evidence:
    if not can_add_evidence(user, attestation):
        raise PermissionDenied("Only the logging organisation or its reviewers may add evidence.")
    content_type, sha256 = inspect_upload(upload)
    if attestation.evidence.filter(sha256=sha256).exists():
        raise Conflict(f"This file (SHA-256 {sha256[:12]}…) is already attached.")
    evidence = Evidence(
        attestation=attestation,
        filename=PurePath(upload.name).name[:255],
        content_type=content_type,
        size=upload.size,
        sha256=sha256,
        uploaded_by=user,
    )
    # Content-addressed: the same bytes are stored once whoever uploads them.
    path = f"evidence/{sha256[:2]}/{sha256}"
    if default_storage.exists(path):
        evidence.file.name = path
    else:
        evidence.file.save(path, File(upload), save=False)
    evidence.save()
    Attestation.objects.filter(pk=attestation.pk).update(version=F("version") + 1)
    return evidence


# --- Mines -----------------------------------------------------------------


def validate_owner_shares(shares: Sequence[tuple[object, Decimal]]) -> None:
    total = sum((Decimal(str(share)) for _, share in shares), Decimal(0))
    if total > 100:
        raise ValidationError({"owners": f"Owners' shares add up to {total}%, over 100%."})
    companies = [company for company, _ in shares]
    if len(set(companies)) != len(companies):
        raise ValidationError({"owners": "A company is listed as owner more than once."})
    for _, share in shares:
        if Decimal(str(share)) <= 0:
            raise ValidationError({"owners": "Each owner's share must be above 0%."})


@transaction.atomic
def mine_set_owners(*, mine: MinedSource, owners: list[tuple[Company, Decimal]]) -> None:
    """Replace a mine's owners; the shares may add up to at most 100%."""
    validate_owner_shares(owners)
    MinedSource.objects.select_for_update().get(pk=mine.pk)  # one writer of a mine's owners
    MineOwnership.objects.filter(mine=mine).delete()
    MineOwnership.objects.bulk_create(
        MineOwnership(mine=mine, company=company, share_pct=Decimal(str(share)))
        for company, share in owners
    )


# --- Supply flows ------------------------------------------------------------


def _overlapping(queryset, start, end):

    if end is not None:
        queryset = queryset.filter(Q(period_start__isnull=True) | Q(period_start__lte=end))
    if start is not None:
        queryset = queryset.filter(Q(period_end__isnull=True) | Q(period_end__gte=start))
    return queryset


def _overlaps(start, end, other_start, other_end) -> bool:
    """Whether two periods (None = open) share a day: the rule `_overlapping` applies."""
    return (end is None or other_start is None or other_start <= end) and (
        start is None or other_end is None or other_end >= start
    )


def _own_errors(data: dict) -> dict[str, str]:
    """The checks a row passes or fails on its own (no query)."""
    supplier, buyer = data["supplier"], data["buyer"]
    if supplier.pk == buyer.pk:
        return {"supplier": "A company cannot supply itself."}
    errors: dict[str, str] = {}
    for key, company in (("supplier_facility", supplier), ("buyer_facility", buyer)):
        facility = data.get(key)
        if facility is not None and facility.company_id != company.pk:
            errors[key] = f"{facility.name} is not a facility of {company}."
    if data.get("volume_t") is None and data.get("share_pct") is None:
        errors["volume_t"] = "Give the volume (t contained) or the share of the buyer's supply."
    start, end = data.get("period_start"), data.get("period_end")
    if start and end and end < start:
        errors["period_end"] = f"The period ends ({end}) before it starts ({start})."
    return errors


CENT = Decimal("0.01")


class _Shares:
    """The buyers' reported shares per mineral and period, loaded in one aggregate query,
    then kept up to date as the batch's rows are accepted."""

    def __init__(self, rows: list[tuple[dict, int | None]]):
        # (buyer, mineral) -> {(start, end, own pk or None): total}
        self.totals: dict[tuple[int, int], dict[tuple, Decimal]] = {}
        self.place: dict[int, tuple[tuple[int, int], tuple]] = {}  # own pk -> where it is
        wanted = [data for data, _ in rows if data.get("share_pct") is not None]
        if not wanted:
            return
        excluded = {pk for _, pk in rows if pk is not None}
        fields = ["buyer_id", "mineral_id", "period_start", "period_end"]
        found = SupplyRelationship.objects.filter(
            share_pct__isnull=False,
            buyer_id__in={d["buyer"].pk for d in wanted},
            mineral_id__in={d["mineral"].pk for d in wanted},
        )
        if excluded:
            # A row being changed is kept apart: its own check leaves its old share out.
            own = Case(When(pk__in=excluded, then=F("pk")), default=None)
            found = found.annotate(own=own)
            fields.append("own")
        for row in found.values(*fields).annotate(total=Sum("share_pct")).order_by():
            key = (row["period_start"], row["period_end"], row.get("own"))
            # SQLite sums in floating point: shares have two decimals, so round to them.
            self._add((row["buyer_id"], row["mineral_id"]), key, row["total"])

    def _add(self, pair, key, share) -> None:
        bucket = self.totals.setdefault(pair, {})
        bucket[key] = bucket.get(key, Decimal(0)) + Decimal(share).quantize(CENT)
        if key[2] is not None:
            self.place[key[2]] = (pair, key)

    def error(self, data: dict, exclude_pk: int | None) -> dict[str, str] | None:
        share = data.get("share_pct")
        if share is None:
            return None
        buyer, mineral = data["buyer"], data["mineral"]
        start, end = data.get("period_start"), data.get("period_end")
        others = self.totals.get((buyer.pk, mineral.pk), {})
        total = sum(
            (
                value
                for (s, e, own), value in others.items()
                if (own is None or own != exclude_pk) and _overlaps(start, end, s, e)
            ),
            Decimal(0),
        ) + Decimal(share)
        if total <= 100:
            return None
        return {
            "share_pct": (
                f"Reported shares of {buyer}'s {mineral.name.lower()} supply would "
                f"add up to {total}%, over 100%."
            )
        }

    def accept(self, data: dict, exclude_pk: int | None) -> None:
        if exclude_pk is not None and exclude_pk in self.place:
            pair, key = self.place.pop(exclude_pk)  # the old share is replaced
            self.totals[pair].pop(key, None)
        if data.get("share_pct") is not None:
            key = (data.get("period_start"), data.get("period_end"), exclude_pk)
            self._add((data["buyer"].pk, data["mineral"].pk), key, data["share_pct"])


def _strong_components(adjacency: dict[int, set[int]]) -> dict[int, int]:
    """Node -> component id (Tarjan's algorithm without recursion, O(V + E))."""
    order: dict[int, int] = {}
    low: dict[int, int] = {}
    stack: list[int] = []
    on_stack: set[int] = set()
    component: dict[int, int] = {}
    for root in adjacency:
        if root in order:
            continue
        order[root] = low[root] = len(order)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(adjacency.get(root, ())))]
        while work:
            node, children = work[-1]
            for child in children:
                if child not in order:
                    order[child] = low[child] = len(order)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(adjacency.get(child, ()))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], order[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == order[node]:
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component[member] = order[node]
                        if member == node:
                            break
    return component


class _Loops:
    """The supply graphs of the batch's minerals as (supplier, buyer) pairs, in one query.

    Only an edge whose supplier buys and whose buyer sells (in the registry or in the
    batch) can lie on a loop, so only those are loaded: every loop is still there. The
    batch's edges are added and the strongly connected components found once; a row
    whose two companies are in different components cannot close a loop, and the others
    (rare) are searched within their component, with the edges accepted so far.
    """

    def __init__(self, rows: list[dict]):
        self.upstream: dict[int, dict[int, set[int]]] = {}  # mineral -> buyer -> suppliers
        self.component: dict[int, dict[int, int]] = {}
        if not rows:
            return
        rel = SupplyRelationship.objects
        buys = rel.filter(buyer_id=OuterRef("supplier_id"), mineral_id=OuterRef("mineral_id"))
        sells = rel.filter(supplier_id=OuterRef("buyer_id"), mineral_id=OuterRef("mineral_id"))
        edges = (
            rel.filter(mineral_id__in={d["mineral"].pk for d in rows})
            .filter(Exists(buys) | Q(supplier_id__in={d["buyer"].pk for d in rows}))
            .filter(Exists(sells) | Q(buyer_id__in={d["supplier"].pk for d in rows}))
            .values_list("mineral_id", "supplier_id", "buyer_id")
            .distinct()
            .order_by()
        )
        for mineral, supplier, buyer in edges:
            self.upstream.setdefault(mineral, {}).setdefault(buyer, set()).add(supplier)
        everything: dict[int, dict[int, set[int]]] = {
            m: {b: set(s) for b, s in graph.items()} for m, graph in self.upstream.items()
        }
        for d in rows:
            graph = everything.setdefault(d["mineral"].pk, {})
            graph.setdefault(d["buyer"].pk, set()).add(d["supplier"].pk)
        for mineral, graph in everything.items():
            self.component[mineral] = _strong_components(graph)

    def path(self, data: dict) -> list[int] | None:
        """Company ids from the supplier upstream to the buyer, if the buyer already
        supplies the supplier (the shortest such chain)."""
        mineral, start, goal = data["mineral"].pk, data["supplier"].pk, data["buyer"].pk
        component = self.component.get(mineral, {})
        if start not in component or component.get(goal) != component[start]:
            return None
        inside, upstream = component[start], self.upstream.get(mineral, {})
        previous: dict[int, int | None] = {start: None}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            if node == goal:
                path: list[int] = []
                step: int | None = node
                while step is not None:
                    path.append(step)
                    step = previous[step]
                return list(reversed(path))
            for supplier in upstream.get(node, ()):
                if supplier not in previous and component.get(supplier) == inside:
                    previous[supplier] = node
                    queue.append(supplier)
        return None

    def accept(self, data: dict) -> None:
        graph = self.upstream.setdefault(data["mineral"].pk, {})
        graph.setdefault(data["buyer"].pk, set()).add(data["supplier"].pk)


def validate_relationships(
    items: Sequence[dict], exclude_pks: Sequence[int | None] | None = None
) -> dict[int, dict[str, str]]:
    """Check a batch of supply relationships as if each were saved in turn: the errors of
    each refused row by its index (field -> message), none for a row that passes.

    The rule for every write (one row from the API or admin, thousands from an import):
    facilities belong to their companies, a volume or share is given, the period is in
    order, the buyer's reported shares of a mineral over overlapping periods stay within
    100%, and no row closes a loop in the mineral's supply graph. `exclude_pks[i]` is
    the row that item i changes (left out of its own share check). A constant number of
    queries whatever the batch or the registry's size: the shares (one aggregate), the
    graph edges (one), and the names on any loop found (one).
    """
    excludes = list(exclude_pks) if exclude_pks is not None else [None] * len(items)
    errors: dict[int, dict[str, str]] = {}
    checked: list[int] = []
    for index, data in enumerate(items):
        own = _own_errors(data)
        if own:
            errors[index] = own
        else:
            checked.append(index)
    shares = _Shares([(items[i], excludes[i]) for i in checked])
    loops = _Loops([items[i] for i in checked])
    paths: dict[int, list[int]] = {}
    for index in checked:
        data = items[index]
        share_error = shares.error(data, excludes[index])
        if share_error:
            errors[index] = share_error
            continue
        path = loops.path(data)
        if path:
            paths[index] = path
            continue
        shares.accept(data, excludes[index])
        loops.accept(data)
    if paths:
        ids = {pk for path in paths.values() for pk in path}
        names = dict(Company.objects.filter(pk__in=ids).values_list("pk", "legal_name"))
        for index, path in paths.items():
            data = items[index]
            # The path runs supplier -> ... -> buyer upstream; material flows the other
            # way, and the new edge supplier -> buyer closes the loop.
            flow = " → ".join(names[pk] for pk in [*reversed(path), data["buyer"].pk])
            errors[index] = {
                "supplier": (
                    f"This would make a cycle in the {data['mineral'].name.lower()} supply "
                    f"graph: {flow}. Recycled material returning upstream is recorded as a "
                    "black-mass source instead."
                )
            }
    return dict(sorted(errors.items()))


def validate_relationship(data: dict, exclude_pk: int | None = None) -> None:
    """One relationship (API, admin): the batch rule applied to a batch of one."""
    errors = validate_relationships([data], [exclude_pk])
    if errors:
        raise ValidationError(errors[0])


@transaction.atomic
def relationships_save(items: list[dict], instance=None) -> list:
    """Create (or, with `instance`, update) supply relationships: every one is checked
    in order and either all are saved or none (the errors name each item)."""

    # One writer per mineral graph at a time, so two inserts cannot close a loop together.
    list(Mineral.objects.select_for_update().filter(pk__in={i["mineral"].pk for i in items}))
    found = validate_relationships(items, [instance.pk if instance else None] * len(items))
    if found:
        errors = {i: ValidationError(e).message_dict for i, e in found.items()}
        if instance is not None or len(items) == 1:
            raise ValidationError(next(iter(errors.values())))
        raise ValidationError({"items": [f"item {i}: {msgs}" for i, msgs in errors.items()]})
    saved = []
    for data in items:
        if instance is not None:
            for key, value in data.items():
                setattr(instance, key, value)
            instance.save()
            saved.append(instance)
        else:
            saved.append(SupplyRelationship.objects.create(**data))
    return saved
