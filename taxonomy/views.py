"""Web pages for people: readable without JavaScript."""

from django.http import Http404
from django.shortcuts import render

from . import selectors
from .filters import StandardFilterSet
from .models import Standard, StandardKind


def home(request):
    return render(request, "home.html", {"standard_count": Standard.objects.count()})


def standard_list(request):
    filterset = StandardFilterSet(
        request.GET or None,
        queryset=Standard.objects.with_cell_count().prefetch_related("minerals"),
    )
    valid = not filterset.is_bound or filterset.is_valid()
    standards = filterset.qs if filterset.is_bound and valid else filterset.queryset
    return render(
        request,
        "taxonomy/standard_list.html",
        {"filterset": filterset, "standards": standards, "kinds": StandardKind.choices},
        status=200 if valid else 400,
    )


def standard_detail(request, code):
    standard = selectors.standards_with_detail().filter(code=code).first()
    if standard is None:
        raise Http404(f"No standard with code {code!r}.")
    return render(
        request,
        "taxonomy/standard_detail.html",
        {
            "standard": standard,
            "matrix": selectors.standard_matrix(standard),
            "links_out": list(standard.links_out.all()),
            "links_in": list(standard.links_in.all()),
        },
    )


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
            "all_standards": Standard.objects.all(),
            "selected": {s.code for s in standards} if codes else set(),
            "error": error,
        },
        status=400 if error else 200,
    )


def landscape_gaps(request):
    return render(request, "taxonomy/gaps.html", {"cells": selectors.uncovered_cells()})
