"""Site search over the registry: companies and mines by part of a name, companies by LEI
or another identifier. Public records only (companies and mines are public)."""

from django.db.models import QuerySet

from .models import Company, CompanyIdentifier, MinedSource


def companies_matching(text: str) -> QuerySet[Company]:
    """Companies whose legal name or another name holds `text` (any case), or whose LEI or
    other identifier is `text`. Each branch is its own lookup, united: on PostgreSQL the
    legal name reads its trigram index (registry 0010), the LEI and identifiers their
    b-tree indexes; an OR across the columns would read every company."""
    by_name = Company.objects.filter(legal_name__icontains=text).order_by().values("pk")
    by_alias = Company.objects.filter(aliases__icontains=text).order_by().values("pk")
    by_lei = Company.objects.filter(lei=text.upper()).order_by().values("pk")
    by_identifier = (
        CompanyIdentifier.objects.filter(value__iexact=text).order_by().values("company_id")
    )
    matches = by_name.union(by_alias, by_lei, by_identifier)
    return Company.objects.filter(pk__in=matches).order_by("legal_name", "pk")


def mines_matching(text: str) -> QuerySet[MinedSource]:
    """Mines (and urban mines) whose name holds `text`, any case."""
    return (
        MinedSource.objects.filter(name__icontains=text)
        .select_related("operator")
        .order_by("name", "pk")
    )
