"""The public page of a battery (what its QR code opens: public attributes only), and the
list of the passports a requester may see."""

from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from config.links import link_maker
from config.pagination import CappedCountPaginator, page_of
from registry.models import Company

from . import access, qr, selectors
from .filters import PassportListFilter
from .models import BatteryCategory, BatteryPassport, BatteryStatus, Lifecycle
from .presentation import header_facts, public_rows, verification
from .selectors import identifier_q


def _published(identifier: str) -> BatteryPassport:
    passport = (
        BatteryPassport.objects.select_related("battery_model__manufacturer", "predecessor")
        .filter(identifier_q(identifier), lifecycle=Lifecycle.PUBLISHED)
        .first()
    )
    if passport is None:
        raise Http404(f"No published passport {identifier!r}.")
    return passport


def public_url(passport: BatteryPassport) -> str:
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/p/{passport.internal_id}/"


@require_GET
def public_page(request, identifier):
    passport = _published(identifier)
    # Rows and header both read the public projection, so they name the same facts.
    rows = public_rows(passport.public_document)
    return render(
        request,
        "passports/public.html",
        {
            "passport": passport,
            "rows": rows,
            "header": header_facts(rows),
            "public_url": public_url(passport),
            "demo": passport.demo,
            "verification": verification(passport),
        },
    )


@require_GET
def qr_code(request, identifier, kind="svg"):
    """The battery's QR code, print-ready (passports/qr.py): ?size= pixels across."""
    return qr.response(_published(identifier), kind, request.GET.get("size"))


LIST_PAGE_SIZE = 50


@require_GET
def passport_list(request):
    """The passports the requester may see (published ones for everyone; drafts for their
    owners), each as its tier sees it, with the API list's filters and downloads."""
    requester = access.requester_for(request.user)
    request._passport_requester = requester  # the status filter reads the same requester
    filterset = PassportListFilter(
        request.GET or None,
        queryset=selectors.summary_rows(requester).order_by("-id"),
        request=request,
    )
    everywhere, manufacturers = access.manufacturers_seeing(requester, 11)
    # A tier that sees no passport's status (attribute 11) is not offered the filter (its
    # choices alone are not data, but a form should not offer what finds nothing).
    sees_status = bool(everywhere or manufacturers or requester.company_id)
    valid = not filterset.is_bound or filterset.is_valid()
    rows = filterset.qs if filterset.is_bound and valid else filterset.queryset
    # Counted up to ten pages: an exact COUNT of every passport was a fifth of the page.
    page, query = page_of(request, rows, LIST_PAGE_SIZE, CappedCountPaginator)
    seen = [selectors.as_seen(requester, row, document=False) for row in page.object_list]
    # Manufacturer names in one query; a name the tier may not see (attribute 4) is None.
    ids = {row["battery_model__manufacturer_id"] for row in seen} - {None}
    names = dict(Company.objects.filter(pk__in=ids).values_list("pk", "legal_name"))
    public, scorecard = link_maker("passports:public"), link_maker("registry:scorecard")
    for row in seen:
        row["public_url"] = public(row["internal_id"])
        if row["battery_model__manufacturer_id"] is not None:
            row["manufacturer_url"] = scorecard(row["battery_model__manufacturer_id"])
        row["manufacturer_name"] = names.get(row["battery_model__manufacturer_id"])
        row["category_label"] = _label(BatteryCategory, row["battery_model__category"])
        row["status_label"] = _label(BatteryStatus, row["battery_status"])
    return render(
        request,
        "passports/list.html",
        {
            "filterset": filterset,
            "fields": [f for f in filterset.form if sees_status or f.name != "status"],
            "rows": seen,
            "page": page,
            "query": query,
            "demo": any(row["demo"] for row in seen),
        },
        status=200 if valid else 400,
    )


def _label(choices, value) -> str | None:
    """A choice's label; None stays None (a fact the tier may not see)."""
    if value is None:
        return None
    try:
        return choices(value).label
    except ValueError:
        return value
