"""Site search: companies, standards, mines and the passports the requester may see.

The queries live in the apps that own the records (registry/search.py, taxonomy/search.py,
passports/search.py); this page only shows them. Each section shows its first results and
its count; `?section=` pages through one section whole."""

from dataclasses import dataclass

from django import forms
from django.http import QueryDict
from django.shortcuts import render
from django.views.decorators.http import require_GET

from config.pagination import page_of
from passports import access
from passports.search import passports_matching
from registry.search import companies_matching, first_companies_matching, mines_matching
from taxonomy.search import standards_matching

SHOWN = 10  # results per section on the overview
# Sections whose first rows are read another way than slicing the whole list (its order).
FIRST = {"companies": first_companies_matching}
PAGE_SIZE = 50  # results per page of one section


class SearchForm(forms.Form):
    q = forms.CharField(
        label="Search",
        min_length=2,
        max_length=100,
        strip=True,
        error_messages={
            "min_length": "Type at least 2 characters to search.",
            "max_length": "Type at most 100 characters.",
            "required": "Type what to search for.",
        },
    )
    section = forms.ChoiceField(
        required=False,
        choices=[("", "all"), ("companies", "companies"), ("standards", "standards")]
        + [("mines", "mines"), ("passports", "passports")],
    )


@dataclass
class Section:
    key: str
    title: str
    rows: object  # a queryset (the overview slices it) or a page's rows
    count: int
    more_url: str = ""


def _sections(request, text: str) -> dict:
    """Each section's ordered queryset, for this requester."""
    requester = access.requester_for(request.user)
    return {
        "companies": ("Companies", companies_matching(text)),
        "standards": ("Standards", standards_matching(text)),
        "mines": ("Mines", mines_matching(text)),
        "passports": ("Battery passports", passports_matching(requester, text)),
    }


@require_GET
def search(request):
    if not request.GET:
        return render(request, "search/results.html", {"form": SearchForm()})
    form = SearchForm(request.GET)
    if not form.is_valid():
        # A short or missing term answers the form and its message, never every row.
        return render(request, "search/results.html", {"form": form}, status=400)
    text = form.cleaned_data["q"]
    found = _sections(request, text)
    chosen = form.cleaned_data["section"]
    if chosen:
        title, rows = found[chosen]
        page, query = page_of(request, rows, PAGE_SIZE)
        section = Section(chosen, title, page.object_list, page.paginator.count)
        context = {"form": form, "q": text, "section": section, "page": page, "query": query}
        return render(request, "search/results.html", context)
    sections = []
    for key, (title, rows) in found.items():
        # One more than shown tells whether there are more: no COUNT over every match
        # (a common word matches thousands of companies), one query per section.
        first = FIRST.get(key)
        shown = first(text, SHOWN + 1) if first else list(rows[: SHOWN + 1])
        more = f"?{_query(text, key)}" if len(shown) > SHOWN else ""
        sections.append(Section(key, title, shown[:SHOWN], min(len(shown), SHOWN), more))
    return render(request, "search/results.html", {"form": form, "q": text, "sections": sections})


def _query(text: str, section: str) -> str:
    query = QueryDict(mutable=True)
    query.update({"q": text, "section": section})
    return query.urlencode()
