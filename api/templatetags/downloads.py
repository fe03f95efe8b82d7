"""`{% download_links %}`: a page's "Download CSV / XLSX" links, to the API route that
answers the same question, carrying the page's current filters (api/downloads.py)."""

from django import template
from django.http import QueryDict
from django.urls import reverse

register = template.Library()


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple) or hasattr(value, "model"):  # records: their codes
        return ",".join(str(getattr(item, "code", item)) for item in value)
    return str(value)


@register.inclusion_tag("_downloads.html", takes_context=True)
def download_links(context, route, *args, keep="", what="this table", **fixed):
    """Links to `route` (with `args`) as CSV and XLSX: the page's query parameters named
    in `keep` (comma-separated; the names the API reads too) and the `fixed` ones."""
    request = context["request"]
    query = QueryDict(mutable=True)
    for name in filter(None, keep.split(",")):
        values = [v for v in request.GET.getlist(name) if v != ""]
        if values:
            query.setlist(name, values)
    for name, value in fixed.items():
        if value is not None and value != "":
            query[name] = _text(value)
    base = reverse(route, args=args)
    links = []
    for fmt in ("csv", "xlsx"):
        query["format"] = fmt
        links.append((fmt, f"{base}?{query.urlencode()}"))
    return {"links": links, "what": what}
