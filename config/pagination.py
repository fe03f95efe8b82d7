"""One page of a list page's rows, with the query string that keeps its filters."""

from django.core.paginator import Page, Paginator

PAGE_SIZE = 50


def page_of(request, rows, size: int = PAGE_SIZE) -> tuple[Page, str]:
    """The page `?page=` names of `rows` (ordered: a stable order on a unique key keeps
    pages from overlapping); out of range or rubbish gives the last or the first page.
    The query string returned holds the other parameters, for the page links."""
    page = Paginator(rows, size).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()
