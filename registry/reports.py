"""The supplier report: one printable page per company with its scorecard, the
attestations counted, its gaps and the standards that close them, and the concentration
of its supply chain for each mineral it buys. Read through the same selectors as the
scorecard and supply-chain pages, with what the requester may see."""

from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone

from taxonomy.models import Cell, Mineral

from .kept import NotReady
from .models import SupplyRelationship
from .querysets import Requester
from .selectors import GRADE_RULE, companies_with_detail, company_coverage
from .supply import supply_chain_served

TOP_SHARES = 5  # the largest shares per breakdown shown on paper
LABOUR = "content.labor_rights"  # the supply-chain page's default coverage question


def supplier_report(request, pk):
    """The report as a page, or with `?format=pdf` as a PDF (WeasyPrint, from the page's
    print stylesheet)."""
    fmt = request.GET.get("format", "html")
    if fmt not in ("html", "pdf"):
        return HttpResponseBadRequest(
            f"No format {fmt!r} for the supplier report: html or pdf.", content_type="text/plain"
        )
    company = companies_with_detail().filter(pk=pk).first()
    if company is None:
        raise Http404(f"No company with id {pk}.")
    requester = Requester.for_user(request.user)
    coverage = company_coverage(company, requester)
    labels = dict(Cell.objects.values_list("code", "label"))
    chains = []
    bought = SupplyRelationship.objects.filter(buyer=company).values("mineral").distinct()
    for mineral in Mineral.objects.filter(pk__in=bought).order_by("name"):
        try:
            served = supply_chain_served(
                company, mineral, requester=requester, cells=[LABOUR], flows=slice(0, 0)
            )
        except NotReady:  # a large graph being computed: the supply-chain page has it later
            chains.append({"mineral": mineral, "pending": True})
            continue
        trace = served.payload["trace"]
        chains.append(
            {
                "mineral": mineral,
                "trace": trace,
                "breakdowns": [
                    (title, trace[key], trace[key]["shares"][:TOP_SHARES])
                    for title, key in (
                        ("Mine country", "mine_country"),
                        ("Processing country", "processing_country"),
                        ("Processing company", "processing_company"),
                    )
                ],
                "lacking_labour": trace["lacking_coverage_pct"].get(LABOUR),
                "rules": served.payload["rules"],
            }
        )
    context = {
        "company": company,
        "coverage": coverage,
        "covered": sorted(
            (labels.get(code, code), code in coverage.independent_cells)
            for code in coverage.covered
        ),
        "grade_rule": GRADE_RULE,
        "chains": chains,
        "labour_label": labels.get(LABOUR, LABOUR),
        "generated": timezone.now(),
    }
    if fmt == "pdf":
        html = render_to_string("registry/supplier_report.html", context, request=request)
        response = HttpResponse(pdf_of(html), content_type="application/pdf")
        day = context["generated"].date().isoformat()
        response["Content-Disposition"] = (
            f'attachment; filename="supplier-report-{company.pk}-{day}.pdf"'
        )
        return response
    return render(request, "registry/supplier_report.html", context)


def pdf_of(html: str) -> bytes:
    """The page as PDF. Nothing is fetched: the page has no external resources, and a
    URL in user data (a company's website) must not make the server request it."""
    import weasyprint  # its C libraries (pango) load on import: only for a PDF

    fetcher = weasyprint.urls.URLFetcher(allowed_protocols=["data"])
    return weasyprint.HTML(string=html, url_fetcher=fetcher).write_pdf()
