"""The member's home page and a company's grade over time: thin views over selectors."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from registry.grade_history import MAX_EVALUATED_DATES, grade_history
from registry.models import Company
from registry.permissions import membership_of
from registry.querysets import Requester
from registry.selectors import GRADE_RULE

from . import selectors


@login_required
def home(request):
    membership = membership_of(request.user)
    if membership is None:
        # Staff and plain users without an organisation: nothing of theirs to show.
        return render(request, "workspace/no_organisation.html")
    organisation = membership.organisation
    requester = Requester.for_user(request.user)
    today = selectors.today()
    context = {
        "organisation": organisation,
        "membership": membership,
        "company": organisation.company,
        "review": selectors.awaiting_review(request.user),
        "imports": selectors.recent_imports(organisation.pk),
    }
    if organisation.company_id:
        context["suppliers"] = selectors.suppliers(
            organisation.company_id, requester, request.GET.get("page") or 1, today
        )
        context["expiring"] = selectors.expiring_attestations(
            organisation.company_id, requester, today
        )
    return render(request, "workspace/home.html", context)


def grade_history_page(request, pk):
    company = Company.objects.filter(pk=pk).first()
    if company is None:
        raise Http404(f"No company with id {pk}.")
    history = grade_history(company, Requester.for_user(request.user))
    return render(
        request,
        "workspace/grade_history.html",
        {
            "company": company,
            "history": history,
            "max_dates": MAX_EVALUATED_DATES,
            "grade_rule": GRADE_RULE,
        },
    )
