"""What a member's home page answers: the organisation's suppliers and their grades,
attestations about to expire, what waits for the member's review, recent imports.

Each question is a fixed number of queries, whatever the number of suppliers or
attestations: one page of suppliers is graded at a time, in bulk.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, QuerySet

from intake.models import ImportJob
from registry.grade_history import change_of, quarter_start
from registry.models import Attestation, Company, SupplyRelationship
from registry.permissions import can_review, reviewable_by
from registry.querysets import Requester
from registry.selectors import Grade, expected_by_company, grades_on

SUPPLIERS_PER_PAGE = 50
ROWS_PER_GROUP = 50
REVIEW_ROWS = 50
RECENT_IMPORTS = 10
EXPIRY_WINDOWS = (30, 60, 90)
# An attestation that no longer stands cannot expire.
ENDED_STATUSES = (
    Attestation.Status.REJECTED,
    Attestation.Status.REVOKED,
    Attestation.Status.EXPIRED,
)
AWAITING_REVIEW = (Attestation.Status.SUBMITTED, Attestation.Status.UNDER_REVIEW)


def today() -> dt.date:
    """The page's date (one place, so a test can fix it)."""
    return dt.date.today()


def supplier_ids(company_id: int) -> QuerySet:
    """The direct suppliers of a company: who supplies it in any SupplyRelationship."""
    return SupplyRelationship.objects.filter(buyer_id=company_id).values("supplier_id")


@dataclass
class SupplierRow:
    company: Company
    grade: Grade
    previous: Grade
    change: str  # "up", "down" or "same"


@dataclass
class Suppliers:
    page: Page
    rows: list[SupplierRow]
    since: dt.date  # the start of the quarter the change is counted from
    up: int  # on this page
    down: int


def suppliers(
    company_id: int, requester: Requester, page_number=1, today: dt.date | None = None
) -> Suppliers:
    today = today or dt.date.today()
    since = quarter_start(today)
    queryset = Company.objects.filter(pk__in=supplier_ids(company_id)).order_by("legal_name", "pk")
    page = Paginator(queryset, SUPPLIERS_PER_PAGE).get_page(page_number)
    ids = [c.pk for c in page.object_list]
    expected = expected_by_company(ids)
    now = grades_on(ids, requester, today, expected=expected)
    before = grades_on(ids, requester, since, expected=expected)
    rows = [
        SupplierRow(c, now[c.pk], before[c.pk], change_of(before[c.pk], now[c.pk]))
        for c in page.object_list
    ]
    return Suppliers(
        page,
        rows,
        since,
        up=sum(r.change == "up" for r in rows),
        down=sum(r.change == "down" for r in rows),
    )


@dataclass
class ExpiryGroup:
    days: int  # expiring within this many days (and after the previous group's)
    after: int
    count: int
    rows: list[Attestation]


def expiring_attestations(
    company_id: int, requester: Requester, today: dt.date | None = None
) -> list[ExpiryGroup]:
    """Attestations of the company and its direct suppliers, as `requester` sees them,
    that expire in 0-30, 31-60 and 61-90 days: one count query and one per group."""
    today = today or dt.date.today()
    queryset = (
        Attestation.objects.visible_to(requester)
        .filter(Q(company_id=company_id) | Q(company_id__in=supplier_ids(company_id)))
        .exclude(status__in=ENDED_STATUSES)
        .filter(valid_until__gte=today, valid_until__lte=today + dt.timedelta(EXPIRY_WINDOWS[-1]))
    )
    bounds, after = [], -1
    for days in EXPIRY_WINDOWS:
        bounds.append((after, days))
        after = days
    windows = {
        f"d{days}": Q(
            valid_until__gt=today + dt.timedelta(after), valid_until__lte=today + dt.timedelta(days)
        )
        for after, days in bounds
    }
    counts = queryset.aggregate(**{k: Count("pk", filter=q) for k, q in windows.items()})
    groups = []
    for after, days in bounds:
        rows = list(
            queryset.filter(windows[f"d{days}"])
            .select_related("company", "standard")
            .order_by("valid_until", "pk")[:ROWS_PER_GROUP]
        )
        groups.append(ExpiryGroup(days, max(after, 0), counts[f"d{days}"], rows))
    return groups


@dataclass
class ReviewQueue:
    count: int
    rows: list[Attestation]


def awaiting_review(user) -> ReviewQueue:
    """Submitted or under-review attestations this user may review: two queries."""
    allowed = reviewable_by(user)
    if allowed is None:
        return ReviewQueue(0, [])
    queryset = Attestation.objects.filter(allowed, status__in=AWAITING_REVIEW)
    rows = list(
        queryset.select_related("company", "standard", "owner").order_by("created_at", "pk")[
            :REVIEW_ROWS
        ]
    )
    # The filter mirrors the permission; the permission has the last word.
    rows = [a for a in rows if can_review(user, a)]
    return ReviewQueue(queryset.count(), rows)


def recent_imports(organisation_id: int) -> list[ImportJob]:
    return list(
        ImportJob.objects.filter(organisation_id=organisation_id).order_by("-created_at", "-pk")[
            :RECENT_IMPORTS
        ]
    )
