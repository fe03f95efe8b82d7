"""Web pages for people: readable without JavaScript."""

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from config.pagination import page_of

from . import permissions, selectors, services
from .filters import StandardFilterSet
from .forms import ProposalForm
from .models import ProposalStatus, ReferenceProposal, Standard, StandardKind, StandardStatus


def home(request):
    return render(request, "home.html", {"standard_count": Standard.objects.count()})


def standard_list(request):
    filterset = StandardFilterSet(
        request.GET or None,
        queryset=Standard.objects.with_cell_count().prefetch_related("minerals"),
    )
    valid = not filterset.is_bound or filterset.is_valid()
    standards = (
        filterset.qs
        if filterset.is_bound and valid
        else filterset.queryset.with_status_on(dt.date.today())
    )
    page, query = page_of(request, standards.order_by("short_name", "pk"))
    return render(
        request,
        "taxonomy/standard_list.html",
        {
            "filterset": filterset,
            "standards": page.object_list,
            "page": page,
            "query": query,
            "kinds": StandardKind.choices,
            "status_names": dict(StandardStatus.choices),
        },
        status=200 if valid else 400,
    )


def _date(value: str | None) -> dt.date | None:
    """A YYYY-MM-DD query value; ValueError names a bad one."""
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def standard_detail(request, code):
    try:
        on = _date(request.GET.get("on"))
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc))
    return _render_detail(request, code, on)


def _render_detail(request, code, on, form=None, status=200):
    standard = selectors.standards_with_detail(on).filter(code=code).first()
    if standard is None:
        raise Http404(f"No standard with code {code!r}.")
    versions = list(standard.versions.all())
    approved = selectors.approved_proposals(standard)
    can_propose = permissions.can_propose(request.user)
    return render(
        request,
        "taxonomy/standard_detail.html",
        {
            "standard": standard,
            "on": on,
            "status_changes": list(standard.status_changes.all()),
            "versions": versions,
            "version": selectors.version_on(versions, on),
            "matrix": selectors.standard_matrix(standard, on),
            "links_out": list(standard.links_out.all()),
            "links_in": list(standard.links_in.all()),
            "approved": approved,
            "last_review": selectors.last_review(standard, approved),
            "pending": standard.proposals.filter(status=ProposalStatus.PROPOSED).count(),
            "can_review": permissions.can_review_proposals(request.user),
            "form": form or (ProposalForm(standard=standard) if can_propose else None),
        },
        status=status,
    )


@login_required
@require_POST
def standard_propose(request, code):
    standard = get_object_or_404(Standard, code=code)
    if not permissions.can_propose(request.user):
        raise PermissionDenied(permissions.PROPOSE_REFUSED)
    form = ProposalForm(request.POST, standard=standard)
    if form.is_valid():
        data = form.cleaned_data
        try:
            proposal = services.propose(
                request.user,
                standard,
                data["kind"],
                data["payload"],
                data["source"],
                data["reason"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Proposal #{proposal.pk} is waiting for a reviewer.")
            return redirect(reverse("taxonomy:standard-detail", args=[code]) + "#curation")
    return _render_detail(request, code, None, form, status=400)


# --- Review of proposals: staff and reviewers; to anyone else the pages do not exist ---


def _reviewers_only(request) -> None:
    if not permissions.can_review_proposals(request.user):
        raise Http404


def _render_proposals(request, error=None, status=200):
    shown = request.GET.get("status", ProposalStatus.PROPOSED)
    if shown not in (*ProposalStatus.values, "all"):
        shown = ProposalStatus.PROPOSED
    page, query = page_of(
        request, selectors.proposals_for_review(None if shown == "all" else shown)
    )
    proposals = list(page.object_list)
    for proposal in proposals:
        proposal.decidable = permissions.can_decide(request.user, proposal)
    return render(
        request,
        "taxonomy/proposals.html",
        {
            "proposals": proposals,
            "page": page,
            "query": query,
            "shown": shown,
            "statuses": [*ProposalStatus.choices, ("all", "All")],
            "error": error,
        },
        status=status,
    )


def proposal_list(request):
    _reviewers_only(request)
    return _render_proposals(request)


@require_POST
def proposal_approve(request, pk):
    return _decide(request, pk, services.approve, "approved")


@require_POST
def proposal_reject(request, pk):
    return _decide(request, pk, services.reject, "rejected")


def _decide(request, pk, decide, done):
    _reviewers_only(request)
    get_object_or_404(ReferenceProposal, pk=pk)
    try:
        proposal = decide(request.user, pk, request.POST.get("note", ""))
    except ValidationError as error:
        # The standard changed since, or it was decided meanwhile: say so, change nothing.
        return _render_proposals(request, error=" ".join(error.messages), status=409)
    messages.success(request, f"Proposal #{proposal.pk} {done}.")
    return redirect("taxonomy:proposals")


def compare(request):
    codes = [c for value in request.GET.getlist("standards") for c in value.split(",") if c]
    error = None
    try:
        standards = selectors.resolve_standards(codes) if codes else list(Standard.objects.all())
    except selectors.UnknownCodes as exc:
        error, standards = str(exc), list(Standard.objects.all())
    comparison = selectors.compare_standards(standards, with_inherited=True)
    total = len(standards) or 1
    rows = [
        {
            "row": row,
            "marks": [
                "own"
                if s.code in row.covered_by
                else "inherited"
                if s.code in row.inherited_by
                else ""
                for s in standards
            ],
            "count": len(row.covered_by) + len(row.inherited_by),
            "heat": round(100 * (len(row.covered_by) + len(row.inherited_by)) / total),
        }
        for row in comparison.rows
    ]
    return render(
        request,
        "taxonomy/compare.html",
        {
            "standards": standards,
            "rows": rows,
            "overlaps": comparison.overlaps if len(standards) <= 6 else [],
            "standard_groups": _by_kind(Standard.objects.order_by("kind", "short_name")),
            "selected": {s.code for s in standards} if codes else set(),
            "error": error,
        },
        status=400 if error else 200,
    )


def _by_kind(standards) -> list[tuple[str, list[Standard]]]:
    """Standards grouped under their kind's name, for a picker's <optgroup>s."""
    groups: dict[str, list[Standard]] = {}
    names = dict(StandardKind.choices)
    for standard in standards:
        groups.setdefault(names.get(standard.kind, standard.kind), []).append(standard)
    return list(groups.items())


def landscape_gaps(request):
    from registry.charts import DotRow, dot_chart  # drawing only: no registry models

    heat = selectors.coverage_heat_map()
    levels = [name for name, *_ in selectors.COVERAGE_LEVELS]
    chart = dot_chart(
        [DotRow(dimension, counts) for dimension, counts in heat],
        levels,
        title="How many standards cover the cells of each dimension",
        desc=(
            "One row per dimension of the taxonomy, one column per band of standards "
            "covering a cell; each dot's size is the number of cells, printed in it. "
            "The table beside gives the figures."
        ),
    )
    return render(
        request,
        "taxonomy/gaps.html",
        {
            "cells": selectors.uncovered_cells(),
            "heat": heat,
            "heat_levels": levels,
            "heat_chart": chart,
        },
    )


def landscape_changes(request):
    """What changed between two dates (default: the last twelve months)."""
    today = dt.date.today()
    error, changes = None, []
    try:
        start = _date(request.GET.get("from")) or today - dt.timedelta(days=365)
        end = _date(request.GET.get("to")) or today
        if start > end:
            raise ValueError("`to` is before `from`.")
    except ValueError as exc:
        error, start, end = str(exc), today - dt.timedelta(days=365), today
    if error is None:
        changes = selectors.landscape_changes(start, end)
    return render(
        request,
        "taxonomy/changes.html",
        {"changes": changes, "start": start, "end": end, "error": error},
        status=400 if error else 200,
    )
