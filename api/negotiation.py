"""The API's content negotiation: DRF's, with an unknown `?format=` a 400 on the `format`
parameter naming the formats the operation has (DRF's own is a bare "Not found.": a
bad parameter, not a missing resource). Its own module:
DRF imports it while building APIView, before views or schemas can be imported."""

from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation


class Negotiation(DefaultContentNegotiation):
    def filter_renderers(self, renderers, format):
        kept = [r for r in renderers if r.format == format]
        if not kept:
            known = ", ".join(sorted({r.format for r in renderers if r.format != "api"}))
            raise ValidationError(
                {"format": [f"No format {format!r} here: this answer comes as {known}."]}
            )
        return kept
