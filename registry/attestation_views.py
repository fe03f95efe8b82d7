"""Attestation pages: list, log, see, edit, and move through the lifecycle.

Thin: who may do what, and the lifecycle, are decided by registry.services and
registry.permissions, the same functions the API and the admin call.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from config.errors import Conflict
from config.links import link_maker
from config.pagination import CappedCountPaginator, page_of
from taxonomy.selectors import load_landscape

from . import services
from .coverage import cell_sources
from .filters import AttestationFilterSet
from .forms import (
    AttestationFilterForm,
    AttestationForm,
    SupplierSearchForm,
    TransitionForm,
)
from .models import Attestation, Company, StatusChange
from .permissions import can_edit, can_log_attestations, membership_of
from .querysets import Requester

LIST_PAGE_SIZE = 50
SUPPLIER_RESULTS = 50
FILTERS = ("company", "company_name", "standard", "status", "mineral", "valid_until_before")


def _visible(request):
    return Attestation.objects.visible_to(Requester.for_user(request.user))


def _attestation(request, pk) -> Attestation:
    """The attestation if the requester may see it; otherwise the same 404 as a missing id."""
    attestation = (
        _visible(request)
        .select_related("company", "standard", "owner", "verifier", "submitted_by", "reviewed_by")
        .filter(pk=pk)
        .first()
    )
    if attestation is None:
        raise Http404("No such attestation.")
    return attestation


# --- list ----------------------------------------------------------------------------


def attestation_list(request):
    form = AttestationFilterForm(request.GET or None)
    params = {k: v for k, v in request.GET.items() if k in FILTERS and v != ""}
    rows = (
        _visible(request)
        .select_related("company", "standard")
        .prefetch_related("minerals")
        .order_by("-valid_from", "pk")
    )
    # The API's filter set: the page and the downloads filter alike.
    filterset = AttestationFilterSet(params, queryset=rows)
    valid = filterset.is_valid() and (form.is_valid() if request.GET else True)
    rows = filterset.qs if valid else rows.none()
    # Counted up to 1,000: an exact COUNT of 200,000 attestations was most of the page.
    page, query = page_of(request, rows, LIST_PAGE_SIZE, CappedCountPaginator)
    attestations = list(page.object_list)
    detail, scorecard = link_maker("registry:attestation-detail"), link_maker("registry:scorecard")
    standard = link_maker("taxonomy:standard-detail")
    for a in attestations:
        a.links = (detail(a.pk), scorecard(a.company_id), standard(a.standard.code))
    return render(
        request,
        "registry/attestation_list.html",
        {
            "form": form,
            "filter_errors": {} if valid else filterset.errors,
            "attestations": attestations,
            "page": page,
            "query": query,
            "can_log": can_log_attestations(request.user),
            "demo": any(a.demo for a in attestations),
            "company_chosen": _supplier(params.get("company")),
        },
        status=200 if valid else 400,
    )


# --- log and edit ----------------------------------------------------------------------


def _supplier(value) -> Company | None:
    try:
        return Company.objects.filter(pk=int(value)).first()
    except (TypeError, ValueError):
        return None


def _needs_owner(user) -> bool:
    return membership_of(user) is None  # staff without an organisation


@login_required
@require_http_methods(["GET", "POST"])
def attestation_create(request):
    if not can_log_attestations(request.user):
        raise PermissionDenied("Only staff and compliance officers may log attestations.")
    raw = request.POST.get("company") if request.method == "POST" else None
    raw = raw or request.GET.get("company")
    if not raw:
        return _supplier_step(request)
    company = _supplier(raw)
    if company is None:
        return _supplier_step(
            request, error=f"No supplier with id {raw!r}: search for it by name.", status=400
        )
    form = AttestationForm(
        request.POST or None,
        request.FILES or None,
        company=company,
        needs_owner=_needs_owner(request.user),
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            attestation = _save_new(request, form, company)
            if attestation is not None:
                messages.success(request, "The attestation is logged; it starts as submitted.")
                return redirect("registry:attestation-detail", pk=attestation.pk)
            status = 403 if form.refused else 400
    return render(
        request,
        "registry/attestation_form.html",
        {"form": form, "company": company, "attestation": None},
        status=status,
    )


def _supplier_step(request, error: str = "", status: int = 200):
    search = SupplierSearchForm(request.GET or None)
    results = []
    if search.is_valid() and search.cleaned_data["q"]:
        results = list(
            Company.objects.filter(legal_name__icontains=search.cleaned_data["q"])
            .only("pk", "legal_name", "country")
            .order_by("legal_name", "pk")[:SUPPLIER_RESULTS]
        )
    return render(
        request,
        "registry/attestation_supplier.html",
        {"search": search, "results": results, "error": error, "limit": SUPPLIER_RESULTS},
        status=status,
    )


def _fields(form) -> dict:
    data = dict(form.cleaned_data)
    data.pop("evidence", None)
    return data


def _save_new(request, form, company) -> Attestation | None:
    """The attestation and its evidence in one transaction: both or neither."""
    form.refused = False
    data = _fields(form)
    owner = data.pop("owner", None)
    try:
        with transaction.atomic():
            attestation = services.attestation_create(
                user=request.user,
                owner_id=owner.pk if owner else None,
                company=company,
                minerals=data.pop("minerals"),
                facilities=data.pop("facilities"),
                shared_with=data.pop("shared_with"),
                **data,
            )
            if form.cleaned_data.get("evidence"):
                services.evidence_add(
                    attestation=attestation,
                    user=request.user,
                    upload=form.cleaned_data["evidence"],
                )
    except ValidationError as error:
        form.add_service_error(error)
    except PermissionDenied as error:
        form.refused = True
        form.add_error(None, str(error))
    except Conflict as error:
        form.add_error("evidence", error.message)
    else:
        return attestation
    return None


def _initial(attestation: Attestation) -> dict:
    return {
        "standard": attestation.standard.code,
        "type": attestation.type,
        "facilities": list(attestation.facilities.all()),
        "minerals": list(attestation.minerals.all()),
        "valid_from": attestation.valid_from,
        "valid_until": attestation.valid_until,
        "verifier": attestation.verifier,
        "verifier_name": attestation.verifier_name,
        "reference": attestation.reference,
        "visibility": attestation.visibility,
        "shared_with": list(attestation.shared_with.all()),
        "notes": attestation.notes,
    }


@login_required
@require_http_methods(["GET", "POST"])
def attestation_edit(request, pk):
    attestation = _attestation(request, pk)
    if not can_edit(request.user, attestation):
        raise PermissionDenied("Only the logging organisation's compliance officers may edit.")
    form = AttestationForm(
        request.POST or None,
        request.FILES or None,
        company=attestation.company,
        initial=_initial(attestation),
    )
    if attestation.status not in services.EDITABLE_STATUSES:
        form.lock_substantive(services.SUBSTANTIVE)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            version = _version(request.POST.get("version"))
            outcome = _save_changes(request, form, attestation, version)
            if outcome is None:
                messages.success(request, "The attestation is saved.")
                return redirect("registry:attestation-detail", pk=attestation.pk)
            status = outcome
    return render(
        request,
        "registry/attestation_form.html",
        {"form": form, "company": attestation.company, "attestation": attestation},
        status=status,
    )


def _version(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _save_changes(request, form, attestation, version) -> int | None:
    """Save what the person changed, and a new evidence file, together; None when saved,
    else the status code of the refusal (its message is on the form)."""
    changes = {name: form.cleaned_data[name] for name in form.changed_data if name != "evidence"}
    try:
        with transaction.atomic():
            if changes:
                attestation = services.attestation_update(
                    attestation=attestation,
                    user=request.user,
                    expected_version=version,
                    **changes,
                )
            elif version is not None and version != attestation.version:
                raise Conflict("The attestation changed since you read it; reload and try again.")
            if form.cleaned_data.get("evidence"):
                services.evidence_add(
                    attestation=attestation,
                    user=request.user,
                    upload=form.cleaned_data["evidence"],
                )
    except ValidationError as error:
        form.add_service_error(error)
        return 400
    except PermissionDenied as error:
        form.add_error(None, str(error))
        return 403
    except Conflict as error:
        form.add_error("evidence" if "file" in error.message else None, error.message)
        return 409
    return None


# --- one attestation ----------------------------------------------------------------------


def _coverage(attestation: Attestation) -> list[dict]:
    """The cells it covers, grouped by dimension, each own or inherited (and from where)."""
    landscape = load_landscape(dt.date.today())
    sources = cell_sources(attestation, landscape)
    names = {s.code: s.short_name for s in landscape.standards.values()}
    groups: dict[int, dict] = {}
    for cell in landscape.cells:  # in the taxonomy's order
        source = sources.get(cell.code)
        if source is None:
            continue
        group = groups.setdefault(
            cell.dimension_id, {"dimension": cell.dimension, "cells": [], "inherited": 0}
        )
        group["cells"].append(
            {"cell": cell, "via": source.via, "via_name": names.get(source.via, source.via)}
        )
        if source.via:
            group["inherited"] += 1
    return list(groups.values())


def _detail_page(request, attestation, *, error: str = "", status: int = 200):
    history = StatusChange.objects.filter(attestation=attestation).select_related("by")
    coverage = _coverage(attestation)
    return render(
        request,
        "registry/attestation_detail.html",
        {
            "attestation": attestation,
            "coverage": coverage,
            "covered_count": sum(len(g["cells"]) for g in coverage),
            "inherited_count": sum(g["inherited"] for g in coverage),
            "history": history,
            "evidence": [
                (item, evidence_url(attestation.pk, item.pk))
                for item in attestation.evidence.select_related("uploaded_by")
            ],
            "minerals": attestation.minerals.order_by("name"),
            "facilities": attestation.facilities.order_by("name"),
            "shared_with": attestation.shared_with.order_by("name"),
            "steps": services.allowed_transitions(attestation, request.user),
            "hints": services.transition_hints(attestation, request.user),
            "can_edit": can_edit(request.user, attestation),
            "error": error,
            "demo": attestation.demo,
        },
        status=status,
    )


def attestation_detail(request, pk):
    return _detail_page(request, _attestation(request, pk))


def evidence_url(attestation_id: int, evidence_id: int) -> str:
    """The API's access-checked download (a 404 to whoever may not see the attestation)."""
    return reverse(
        "api:attestation-download", kwargs={"pk": attestation_id, "evidence_id": evidence_id}
    )


@login_required
@require_POST
def attestation_transition(request, pk):
    attestation = _attestation(request, pk)
    form = TransitionForm(request.POST)
    if not form.is_valid():
        problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
        return _detail_page(request, attestation, error=problems, status=400)
    try:
        moved = services.attestation_transition(
            attestation=attestation,
            to_status=form.cleaned_data["to"],
            user=request.user,
            reason=form.cleaned_data["note"],
        )
    except PermissionDenied as error:
        return _detail_page(request, attestation, error=str(error), status=403)
    except Conflict as error:
        return _detail_page(request, attestation, error=error.message, status=409)
    except ValidationError as error:
        return _detail_page(request, attestation, error=" ".join(error.messages), status=400)
    label = services.STEP_LABELS[form.cleaned_data["to"]]
    messages.success(
        request, f"{label}: done; the attestation is now {moved.get_status_display().lower()}."
    )
    return redirect("registry:attestation-detail", pk=attestation.pk)


__all__ = [
    "attestation_create",
    "attestation_detail",
    "attestation_edit",
    "attestation_list",
    "attestation_transition",
    "evidence_url",
]
