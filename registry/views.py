"""Pages: companies, a company's scorecard, and the sector gap search."""

import datetime as dt

from django import forms
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, Q
from django.http import Http404, QueryDict
from django.shortcuts import render
from django_countries import countries

from config.pagination import page_of
from passports import access
from passports.selectors import passports_with_company
from taxonomy.matrix import STAGES
from taxonomy.models import Cell, Mineral, StandardStatus
from taxonomy.selectors import cell_choices_by_dimension, cell_names, standard_names

from . import kept
from .charts import Bar, DotRow, Flow, Line, bar_chart, dot_chart, flow_chart, line_chart
from .concentration import UNLISTED, ConcentrationInputError, hhi_rule
from .concentration.chain import hhi_series
from .concentration.published import BY, DENOMINATORS, FRINGES
from .filters import CompanyFilterSet
from .kept import NotReady
from .models import Attestation, Company, CompanyIdentifier, Facility, Rule, SupplyRelationship
from .querysets import Requester
from .selectors import (
    GRADE_CHOICES,
    GRADE_RULE,
    companies_with_detail,
    companies_with_grade,
    company_coverage,
    grades_of,
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


class CompanyListForm(forms.Form):
    """The companies list's filters, by name; the values are the API's parameters, so the
    download links carry them as they are."""

    search = forms.CharField(required=False, max_length=200, label="Name, alias or identifier")
    country = forms.ChoiceField(choices=(), required=False)
    stage = forms.ChoiceField(choices=[("", "any stage"), *STAGES], required=False)
    mineral = forms.ChoiceField(choices=(), required=False)
    grade = forms.ChoiceField(
        choices=[("", "any grade"), *GRADE_CHOICES],
        required=False,
        help_text="Grade today, from the attestations you may see.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = [("", "any country")] + list(countries)
        self.fields["mineral"].choices = [("", "any mineral")] + [
            (m.code, m.name) for m in Mineral.objects.all()
        ]


def _searched(companies, text: str):
    """The API's `search` (legal name, aliases, LEI, identifiers, notes): every word."""
    for word in text.split():
        named = CompanyIdentifier.objects.filter(company_id=OuterRef("pk"), value__icontains=word)
        companies = companies.filter(
            Q(legal_name__icontains=word)
            | Q(aliases__icontains=word)
            | Q(lei__icontains=word)
            | Q(notes__icontains=word)
            | Exists(named)
        )
    return companies


def company_list(request):
    form = CompanyListForm(request.GET)
    grades_as_of = None
    # legal_name then the primary key: a stable order, pages do not overlap or skip.
    companies = companies_with_detail()
    status = 200
    if form.is_valid():
        data = form.cleaned_data
        # The API's own filters (EXISTS subqueries, the grade over a bounded group).
        filterset = CompanyFilterSet(
            {k: data[k] for k in ("country", "stage", "mineral") if data[k]},
            queryset=_searched(companies, data["search"]),
            request=request,
        )
        companies = filterset.qs
        if data["grade"]:
            try:
                graded = companies_with_grade(
                    companies, data["grade"], Requester.for_user(request.user)
                )
                companies, grades_as_of = graded.companies, graded
            except NotReady as exc:  # the first grading of a large group is being computed
                form.add_error("grade", str(exc))
                companies, status = companies.none(), 202
    else:
        companies, status = companies.none(), 400
    page, query = page_of(request, companies.order_by("legal_name", "pk"), COMPANY_PAGE_SIZE)
    rows = list(page.object_list)
    # Each row's grade, for the page's companies only: a fixed number of queries.
    grades = grades_of([c.pk for c in rows], Requester.for_user(request.user))
    for company in rows:
        company.grade = grades.get(company.pk, "none")
    return render(
        request,
        "registry/company_list.html",
        {
            "form": form,
            "companies": rows,
            "page": page,
            "query": query,
            "stage_names": dict(STAGES),
            "grade_rule": GRADE_RULE,
            "grades_as_of": grades_as_of,
            "filtered": any(request.GET.get(k) for k in CompanyListForm.base_fields),
            "demo": any(c.demo for c in page.object_list),
        },
        status=status,
    )


# The scorecard's coverage levels, strongest first: the heat map's columns.
COVERAGE_MARKS = (
    ("independent", "Independently verified"),
    ("covered", "Verified (membership or filing)"),
    ("declared", "Self-declared only"),
    ("gap", "Expected, not covered"),
    ("", "Not expected, not covered"),
)
# The chart's axis has room for a word per column; the table beside has the full names.
COVERAGE_MARKS_SHORT = ("Independent", "Verified", "Declared", "Gap", "Not expected")


def _coverage_heat(company, grid: list[dict]):
    """Per dimension, how many of its cells the company covers at each level: the rows
    of the grid counted (no query), drawn as a dot chart beside its table."""
    columns = [mark for mark, _ in COVERAGE_MARKS]
    counts: dict[str, list[int]] = {}
    for row in grid:
        line = counts.setdefault(row["cell"].dimension.label, [0] * len(columns))
        line[columns.index(row["mark"])] += 1
    heat = list(counts.items())
    chart = dot_chart(
        [DotRow(dimension, line) for dimension, line in heat],
        list(COVERAGE_MARKS_SHORT),
        title=f"How {company.legal_name} covers each dimension",
        desc=(
            "One row per dimension of the taxonomy, one column per level of coverage, "
            "strongest first; each dot's size is the number of cells, printed in it. "
            "The table beside gives the figures."
        ),
    )
    return heat, chart


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
    heat, heat_chart = _coverage_heat(company, grid)
    return render(
        request,
        "registry/scorecard.html",
        {
            "company": company,
            "coverage": coverage,
            "grid": grid,
            "heat": heat,
            "heat_chart": heat_chart,
            "heat_levels": [name for _, name in COVERAGE_MARKS],
            "form": form,
            "grade_rule": GRADE_RULE,
            "status_class": {"verified": "yes", "suspended": "gap", "revoked": "gap"},
            "demo": company.demo or any(a.demo for a in coverage.attestations),
            **_company_links(request, company),
            "standard_names": standard_names(),
            "status_names": dict(Attestation.Status.choices),
            "standard_status_names": dict(StandardStatus.choices),
            "element_names": {e.key: e.label for e in coverage.expected},
            "stage_names": dict(STAGES),
        },
        status=200 if form.is_valid() or not request.GET else 400,
    )


def company_minerals(company):
    """The minerals a company handles (its facilities) or trades (its recorded flows)."""
    facilities = Facility.minerals.through.objects.filter(
        mineral_id=OuterRef("pk"), facility__company_id=company.pk
    )
    flows = SupplyRelationship.objects.filter(Q(buyer_id=company.pk) | Q(supplier_id=company.pk))
    return Mineral.objects.filter(Q(pk__in=flows.values("mineral_id")) | Exists(facilities))


def _company_links(request, company) -> dict:
    """What the scorecard and the supply chain link to: the company's minerals (their
    supply chains and concentration) and the passports of batteries it is part of."""
    passports, more = passports_with_company(access.requester_for(request.user), company)
    minerals = list(company_minerals(company))
    stages = [c.code.split(".", 1)[1] for c in company.stages.all()]
    gaps_query = QueryDict(mutable=True)
    gaps_query.setlist("cells", ["content.labor_rights", "content.human_rights"])
    if stages:
        gaps_query["stage"] = stages[0]
    if minerals:
        gaps_query["mineral"] = minerals[0].code
    return {
        "company_minerals": minerals,
        "passports": passports,
        "more_passports": more,
        "gaps_query": gaps_query.urlencode(),
    }


class SectorForm(forms.Form):
    cells = forms.MultipleChoiceField(
        choices=(),
        label="Cells a company should cover",
        widget=forms.SelectMultiple(attrs={"size": 14}),
        help_text="Grouped by dimension; Ctrl or Cmd to choose more than one",
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
        self.fields["cells"].choices = cell_choices_by_dimension(("scope", "sponsor"))
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
    grades = None
    if result is not None and result.grades is not None:  # a sector chosen
        grades = _grade_distribution(query, result.grades)
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
            "grades": grades,
            "cell_names": cell_names() if result else {},
            "population": _population(form) if result else "",
        },
        status=400 if form.is_bound and not form.is_valid() else 202 if pending else 200,
    )


def _population(form) -> str:
    """The group a sector search counts, in words: "refining companies of cobalt in Chile"."""
    data, fields = form.cleaned_data, form.fields
    words = [
        f"{dict(fields['stage'].choices)[data['stage']].lower()} companies"
        if data["stage"]
        else "companies of every stage"
    ]
    if data["mineral"]:
        words.append(f"handling {dict(fields['mineral'].choices)[data['mineral']].lower()}")
    if data["country"]:
        words.append(f"in {dict(fields['country'].choices)[data['country']]}")
    return " ".join(words)


def _grade_distribution(query: dict, counts: dict[str, int]) -> dict:
    """The sector's companies per grade (kept with the sector's figures), and its chart."""
    sector = " ".join(filter(None, [query["mineral"], query["stage"]]))
    where = f" in {query['country']}" if query["country"] else ""
    title = f"Grades of the {sector} companies{where}"
    total = sum(counts.values())
    chart = bar_chart(
        [Bar(level.capitalize(), n, caption=f"{n:,}") for level, n in counts.items()],
        title=title,
        desc=(
            f"How many of the {total:,} companies hold each grade, platinum to none, "
            "as their scorecards grade them for this sector. The table beside lists them."
        ),
        scale=None,
    )
    return {"counts": counts, "total": total, "title": title, "chart": chart}


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
            "stage_names": dict(STAGES),
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


RULE_STATUS_NAMES = {
    "pass": "Pass",
    "fail": "Fail",
    "info": "For information",
    "not_applicable": "Not applicable",
    "historical": "Historical (the rule's force has ended; shown for reference)",
    "not_in_force": "Not in force yet on this date (not checked)",
}


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
            **_company_links(request, company),
            "cell_names": cell_names(),
            "stage_names": dict(STAGES),
            "country_names": dict(countries),
            "rule_status_names": RULE_STATUS_NAMES,
        },
        status=202 if pending else 200,
    )
