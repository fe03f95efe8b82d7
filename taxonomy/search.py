"""Site search over the taxonomy: standards by name, acronym or code."""

from django.db.models import Q, QuerySet

from .models import Standard


def standards_matching(text: str) -> QuerySet[Standard]:
    """Standards whose name, short name (acronym) or code holds `text`, any case."""
    return Standard.objects.filter(
        Q(name__icontains=text) | Q(short_name__icontains=text) | Q(code__icontains=text)
    ).order_by("short_name", "pk")
