"""Pages: companies, a company's scorecard, and the sector gap search."""

import datetime as dt

from django import forms
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django_countries import countries

from config.pagination import page_of
from taxonomy.matrix import STAGES
from taxonomy.models import Cell, Mineral

from . import kept
from .charts import Flow, Line, flow_chart, line_chart
from .concentration import UNLISTED, ConcentrationInputError, hhi_rule
from .concentration.chain import hhi_series
from .concentration.published import BY, DENOMINATORS, FRINGES
from .kept import NotReady
from .models import Company, Rule
from .querysets import Requester
from .selectors import (
    GRADE_RULE,
    companies_with_detail,
    company_coverage,
    holds_demo_data,
    sector_gaps,
)
from .supply import supply_chain_served


class AsOfForm(forms.Form):
    as_of = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    mineral = forms.ChoiceField(choices=(), required=False)
    stage = forms.ChoiceField(choices=[("", "every stage"), *STAGES], required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mineral"].choices = [("", "every mineral")] + [
            (m.code, m.name) for m in Mineral.objects.all()
        ]


COMPANY_PAGE_SIZE = 50
FLOW_PAGE_SIZE = 50


def company_list(request):
    # legal_name then the primary key: a stable order, pages do not overlap or skip.
    companies = companies_with_detail().order_by("legal_name", "pk")
    stage = request.GET.get("stage")
    if stage:
        companies = companies.filter(stages__code=f"application.{stage}")
    page, query = page_of(request, companies, COMPANY_PAGE_SIZE)
    return render(
        request,
        "registry/company_list.html",
        {
            "companies": page.object_list,
            "page": page,
            "query": query,
            "stages": STAGES,
            "stage": stage,
            "demo": any(c.demo for c in page.object_list),
        },
    )


def company_scorecard(request, pk):
    company = companies_with_detail().filter(pk=pk).first()
    if company is None:
        raise Http404(f"No company with id {pk}.")
    form = AsOfForm(request.GET or None)
    scope = form.cleaned_data if form.is_valid() else {}
    coverage = company_coverage(
        company,
        Requester.for_user(request.user),
        scope.get("as_of"),
        mineral=scope.get("mineral") or None,
        stage=scope.get("stage") or None,
    )
    expected_cells = {code for e in coverage.expected for code in e.cells}
    gap_cells = {code for g in coverage.gaps for code in g.element.cells}
    independent = coverage.independent_cells
    grid = []
    for cell in Cell.objects.select_related("dimension").order_by("dimension__order", "order"):
        if cell.dimension.code in ("participants", "scope", "sponsor"):
            continue
        if cell.code in independent:
            mark = "independent"
        elif cell.code in coverage.covered:
            mark = "covered"
        elif cell.code in coverage.declared:
            mark = "declared"
        elif cell.code in gap_cells:
            mark = "gap"
        else:
            mark = ""
        grid.append({"cell": cell, "mark": mark, "expected": cell.code in expected_cells})
    return render(
        request,
        "registry/scorecard.html",
        {
            "company": company,
            "coverage": coverage,
            "grid": grid,
            "form": form,
            "grade_rule": GRADE_RULE,
            "status_class": {"verified": "yes", "suspended": "gap", "revoked": "gap"},
            "demo": company.demo or any(a.demo for a in coverage.attestations),
        },
        status=200 if form.is_valid() or not request.GET else 400,
    )


class SectorForm(forms.Form):
    cells = forms.MultipleChoiceField(
        choices=(),
        widget=forms.SelectMultiple(attrs={"size": 10}),
        help_text="The taxonomy cells a company should cover",
    )
    stage = forms.ChoiceField(choices=[("", "any stage"), *STAGES], required=False)
    mineral = forms.ChoiceField(choices=(), required=False)
    country = forms.ChoiceField(choices=(), required=False)
    as_of = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    independent = forms.BooleanField(
        required=False, initial=True, label="Only independently verified (audit, certification)"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cells"].choices = [
            (c.code, str(c))
            for c in Cell.objects.select_related("dimension")
            .exclude(dimension__code__in=["scope", "sponsor"])
            .order_by("order")
        ]
        self.fields["mineral"].choices = [("", "any mineral")] + [
            (m.code, m.name) for m in Mineral.objects.all()
        ]
        self.fields["country"].choices = [("", "any country")] + list(countries)


class _KnownLength:
    """One page of rows standing for a list of known length, for the Paginator: the
    rows of the other pages are never read."""

    def __init__(self, rows: list, total: int):
        self.rows, self.total = rows, total

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, index):
        return self.rows


def _page_number(request) -> int:
    value = request.GET.get("page", "1")
    return int(value) if value.isdigit() and 0 < int(value) < 10**6 else 1


def sector_search(request):
    form = SectorForm(request.GET or None, initial={"independent": True})
    result, pending = None, None
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        query = {
            "cells": data["cells"],
            "requester": Requester.for_user(request.user),
            "stage": data["stage"] or None,
            "mineral": data["mineral"] or None,
            "country": data["country"] or None,
            "as_of": data["as_of"] or dt.date.today(),
            "independent_only": data["independent"],
            "page_size": COMPANY_PAGE_SIZE,
            "keep": True,
        }
        number = _page_number(request)
        try:
            result = sector_gaps(page=number, **query)
            last = max(1, -(-result.lacking_count // COMPANY_PAGE_SIZE))
            if number > last:  # past the end: the last page, as the list pages do
                result = sector_gaps(page=last, **query)
        except NotReady as exc:
            pending = exc
    # The figures are over the whole group; the companies lacking coverage come a page at
    # a time (legal name, then id), read from the database one page at a time.
    rows = _KnownLength(result.lacking, result.lacking_count) if result else []
    page = Paginator(rows, COMPANY_PAGE_SIZE).get_page(result.page if result else 1)
    query_string = request.GET.copy()
    query_string.pop("page", None)
    return render(
        request,
        "registry/sector_search.html",
        {
            "form": form,
            "result": result,
            "pending": pending,
            "page": page,
            "query": query_string.urlencode(),
            "demo": result is not None and holds_demo_data(),
        },
        status=400 if form.is_bound and not form.is_valid() else 202 if pending else 200,
    )


# --- Concentration pages -------------------------------------------------------


def concentration_page(request, mineral):
    mineral_obj = Mineral.objects.filter(code=mineral).first()
    if mineral_obj is None:
        raise Http404(f"Unknown mineral {mineral!r}.")
    rules = Rule.objects.filter(kind="hhi_bands")
    rule = rules.filter(code=request.GET.get("thresholds")).first() or hhi_rule()
    unlisted = request.GET.get("unlisted", "other")
    unlisted = unlisted if unlisted in UNLISTED else "other"
    year = (
        int(request.GET.get("year", "2024")) if request.GET.get("year", "2024").isdigit() else 2024
    )
    # Published production: every year of every stage, one query per line; the year
    # asked is read from the same series.
    convention, problem = _page_convention(request.GET, unlisted)
    try:
        series = hhi_series(mineral=mineral, rule=rule, **convention)
    except ConcentrationInputError as exc:
        series, problem = [], problem or exc.message
    published = [
        (line.stage, line.product, c, line.source)
        for line in series
        for point_year, c in line.points
        if point_year == year
    ]
    # The flow views and the mine-to-refinery flows group every flow of the mineral: a
    # kept result above a small registry (a fixed handful of queries whatever its size),
    # "as of" shown.
    served, pending = None, None
    try:
        served = kept.serve(
            "concentration",
            {"mineral": mineral, "rule": rule.code},
            Requester.for_user(request.user),
            population=Company.objects.count,
            rows=slice(0, 0),
        )
    except NotReady as exc:
        pending = exc
    # A result kept before the mine-to-refinery flows joined it has none: shown as such.
    chain = served.payload.get("mine_to_refinery") if served else None
    if chain:
        chain = _largest_flows(chain)
    flows = [
        (f["stage"], f["by"], f["attribution"], f["c"], _flow_title(f))
        for f in (served.payload["flows"] if served else [])
    ]
    # Computed with the flows; a result kept before that says nothing: the registry-wide check.
    flows_demo = bool(flows) and (
        served.payload["flows_demo"] if "flows_demo" in served.payload else holds_demo_data()
    )
    return render(
        request,
        "registry/concentration.html",
        {
            "mineral": mineral_obj,
            "minerals": Mineral.objects.all(),
            "published": published,
            "series": series,
            "series_chart": _series_chart(mineral_obj, series, rule),
            "series_years": sorted({y for line in series for y, _ in line.points}),
            "chain": chain,
            "chain_chart": _chain_chart(mineral_obj, chain) if chain else "",
            "flows": flows,
            "flows_demo": flows_demo,
            "rule": rule,
            "rules": rules,
            "unlisted": unlisted,
            "convention": convention,
            "published_by": convention.get("by", "country"),
            "conventions": [
                (name, allowed, convention.get(name, ""))
                for name, allowed in (
                    ("by", BY),
                    ("denominator", DENOMINATORS),
                    ("fringe", FRINGES),
                )
            ],
            "problem": problem,
            "year": year,
            "demo": flows_demo or bool(chain and chain["demo"]),
            "served": served,
            "pending": pending,
        },
        status=400 if problem else 202 if pending else 200,
    )


def _flow_title(view: dict) -> str:
    title = f"{view['stage'].capitalize()} by {view['by']}"
    if view["by"] == "company" and view["stage"] == "mining":
        title += f" ({view['attribution']})"
    return title


def _page_convention(query, unlisted: str) -> tuple[dict, str]:
    """The published HHI's convention asked on the page (by, denominator, fringe), else
    the former `unlisted` choice; and what is wrong with it, if anything."""
    convention, problems = {}, []
    for name, allowed in (("by", BY), ("denominator", DENOMINATORS), ("fringe", FRINGES)):
        value = query.get(name)
        if value in allowed:
            convention[name] = value
        elif value:
            problems.append(f"{name} must be one of {', '.join(allowed)}")
    return convention or {"unlisted": unlisted}, "; ".join(problems)


def _series_chart(mineral, series, rule) -> str:
    moderate, high = rule.params["moderate_from"], rule.params["high_above"]
    lines = [
        Line(
            f"{line.stage} ({line.product})",
            [(y, c.hhi) for y, c in line.points if c.hhi is not None],
            [
                (y, c.hhi_low, c.hhi_high)
                for y, c in line.points
                if c.hhi is None and c.hhi_low is not None
            ],
        )
        for line in series
    ]
    return line_chart(
        lines,
        title=f"{mineral.name}: HHI of published production per year, by stage",
        desc=(
            f"One line per stage and product; dashed lines mark the {rule.name} bands "
            f"(moderate from {moderate:,.0f}, high above {high:,.0f}). A bar instead of a "
            "point: a year known only within bounds. The table beside gives the figures."
        ),
        thresholds=[
            (moderate, f"moderate from {moderate:,.0f}"),
            (high, f"high above {high:,.0f}"),
        ],
    )


CHAIN_FLOWS_SHOWN = 25  # a country pair per flow: up to 38 x 38 in a large registry


def _largest_flows(chain: dict) -> dict:
    """The page draws and lists the largest flows; the rest are summed in one line (the
    JSON route and its download hold them all). Nine hundred bands are not readable, and
    drawing them was most of the page's time at 50,000 companies."""
    flows = sorted(chain["flows"], key=lambda f: (-f["tonnes"], f["origin"], f["destination"]))
    rest = flows[CHAIN_FLOWS_SHOWN:]
    return {
        **chain,
        "flows": flows[:CHAIN_FLOWS_SHOWN],
        "more_count": len(rest),
        "more_tonnes": sum(f["tonnes"] for f in rest),
        "more_share_pct": sum(f["share_pct"] for f in rest),
    }


def _chain_chart(mineral, chain: dict) -> str:
    flows = [Flow(f["origin_label"], f["destination_label"], f["tonnes"]) for f in chain["flows"]]
    illustrative = f" Drawn from {chain['label']}." if chain["demo"] else ""
    more = (
        f", the largest {len(flows)} flows drawn ({chain['more_count']} smaller ones not)"
        if chain.get("more_count")
        else ""
    )
    return flow_chart(
        flows,
        title=f"{mineral.name}: mined tonnes from the country of mining to the country of refining",
        desc=(
            f"Band widths are proportional to tonnes of contained metal; {chain['total']:,.0f} t "
            f"in all{more}.{illustrative} The table beside gives the figures."
        ),
        headings=("Country of mining", "Country of refining"),
    )


def supply_chain_page(request, pk):

    company = companies_with_detail().filter(pk=pk).first()
    if company is None:
        raise Http404(f"No company with id {pk}.")
    mineral = Mineral.objects.filter(code=request.GET.get("mineral", "cobalt")).first()
    if mineral is None:
        raise Http404("Unknown mineral.")
    asked = request.GET.getlist("cells")
    cells = list(Cell.objects.filter(code__in=asked).values_list("code", flat=True)) or [
        "content.labor_rights"
    ]
    number = _page_number(request)
    served, pending = None, None
    try:
        served = supply_chain_served(
            company,
            mineral,
            requester=Requester.for_user(request.user),
            cells=cells,
            flows=slice((number - 1) * FLOW_PAGE_SIZE, number * FLOW_PAGE_SIZE),
        )
    except NotReady as exc:
        pending = exc
    rows = _KnownLength(served.rows, served.row_count) if served else []
    page = Paginator(rows, FLOW_PAGE_SIZE).get_page(number)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "registry/supply_chain.html",
        {
            "company": company,
            "mineral": mineral,
            "minerals": Mineral.objects.all(),
            "result": served.payload if served else None,
            "trace": served.payload["trace"] if served else None,
            "served": served,
            "pending": pending,
            "flows": served.rows if served else [],
            "page": page,
            "query": query.urlencode(),
            "cells": cells,
            "demo": company.demo or holds_demo_data(),
        },
        status=202 if pending else 200,
    )
