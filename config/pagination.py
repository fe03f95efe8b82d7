"""One page of a list page's rows, with the query string that keeps its filters."""

from django.core.paginator import Page, Paginator
from django.utils.functional import cached_property

PAGE_SIZE = 50


def page_of(
    request, rows, size: int = PAGE_SIZE, paginator: type[Paginator] = Paginator
) -> tuple[Page, str]:
    """The page `?page=` names of `rows` (ordered: a stable order on a unique key keeps
    pages from overlapping); out of range or rubbish gives the last or the first page.
    The query string returned holds the other parameters, for the page links."""
    page = paginator(rows, size).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()


class CappedCountPaginator(Paginator):
    """Counts rows up to ten pages and no further. The admin shows an exact total of
    every search and filter, a COUNT(*) over all the matches on each page view: a broad
    search of 200,000 attestations took 330 ms, most of it counting. Past the cap the
    list says "more than 1,000" (the admin's 100 a page; 500 on a page of 50) and pages
    up to it: nobody reads further than that, a narrower search or a filter finds the
    rest, and the count reads no more rows than the pages can show."""

    pages = 10

    @property
    def cap(self) -> int:
        return self.pages * self.per_page

    @cached_property
    def count(self) -> int:
        rows = self.object_list
        if hasattr(rows, "query"):  # a queryset: COUNT(*) over a LIMITed subquery,
            # unordered, or the database walks the ordering's index to find the cap.
            return rows.order_by()[: self.cap + 1].count()
        return len(rows)

    @property
    def capped(self) -> bool:
        return self.count > self.cap

    @cached_property
    def num_pages(self) -> int:
        if self.capped:
            return max(1, self.cap // self.per_page)
        return super().num_pages
