import django_filters
from django.db.models import Q

from .models import Attestation, Company, Facility, MinedSource


class CompanyFilterSet(django_filters.FilterSet):
    stage = django_filters.CharFilter(field_name="stages", method="filter_stage")
    country = django_filters.CharFilter()
    mineral = django_filters.CharFilter(field_name="facilities__minerals__code", distinct=True)
    state_owned = django_filters.BooleanFilter(
        field_name="state_ownership_pct", method="filter_state_owned"
    )
    identifier = django_filters.CharFilter(method="filter_identifier")

    class Meta:
        model = Company
        fields = ["country", "parent", "lei", "state_owner", "demo"]

    def filter_stage(self, queryset, name, value):
        return queryset.filter(stages__code=f"application.{value}").distinct()

    def filter_state_owned(self, queryset, name, value):
        owned = ~Q(state_owner="")
        return queryset.filter(owned) if value else queryset.exclude(owned)

    def filter_identifier(self, queryset, name, value):
        return queryset.filter(Q(lei=value) | Q(identifiers__value=value)).distinct()


class FacilityFilterSet(django_filters.FilterSet):
    stage = django_filters.CharFilter(method="filter_stage")
    mineral = django_filters.CharFilter(field_name="minerals__code", distinct=True)

    class Meta:
        model = Facility
        fields = ["company", "kind", "country", "feedstock", "rmi_cid", "demo"]

    def filter_stage(self, queryset, name, value):
        return queryset.filter(stage__code=f"application.{value}")


class MinedSourceFilterSet(django_filters.FilterSet):
    mineral = django_filters.CharFilter(field_name="minerals__code", distinct=True)
    owner = django_filters.NumberFilter(field_name="owners", distinct=True)

    class Meta:
        model = MinedSource
        fields = ["country", "method", "cahra", "operator", "recycled_origin", "demo"]


class AttestationFilterSet(django_filters.FilterSet):
    standard = django_filters.CharFilter(field_name="standard__code")
    mineral = django_filters.CharFilter(field_name="minerals__code", distinct=True)
    valid_on = django_filters.DateFilter(field_name="valid_from", method="filter_valid_on")
    valid_until_before = django_filters.DateFilter(field_name="valid_until", lookup_expr="lt")
    facility = django_filters.NumberFilter(field_name="facilities", distinct=True)
    shared_with = django_filters.NumberFilter(field_name="shared_with", distinct=True)
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    created_since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = Attestation
        fields = [
            "company",
            "status",
            "type",
            "visibility",
            "owner",
            "verifier",
            "submitted_by",
            "reviewed_by",
            "demo",
        ]

    def filter_valid_on(self, queryset, name, value):
        return queryset.valid_on(value)
