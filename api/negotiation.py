"""The API's content negotiation: DRF's, with an unknown `?format=` a 404 that names it
and the formats the operation has (DRF's own says only "Not found."). Its own module:
DRF imports it while building APIView, before views or schemas can be imported."""

from rest_framework.exceptions import NotFound
from rest_framework.negotiation import DefaultContentNegotiation


class Negotiation(DefaultContentNegotiation):
    def filter_renderers(self, renderers, format):
        kept = [r for r in renderers if r.format == format]
        if not kept:
            known = ", ".join(sorted({r.format for r in renderers if r.format != "api"}))
            raise NotFound(f"No format {format!r} here: this answer comes as {known}.")
        return kept
