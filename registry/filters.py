import django_filters
from django.db.models import Q

from .models import Attestation, Company, Facility, MinedSource


class CompanyFilterSet(django_filters.FilterSet):
    stage = django_filters.CharFilter(method="filter_stage")
    country = django_filters.CharFilter()
    mineral = django_filters.CharFilter(field_name="facilities__minerals__code", distinct=True)
    state_owned = django_filters.BooleanFilter(method="filter_state_owned")
    identifier = django_filters.CharFilter(method="filter_identifier")

    class Meta:
        model = Company
        fields = ["country", "parent", "lei"]

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
        fields = ["company", "kind", "country", "feedstock"]

    def filter_stage(self, queryset, name, value):
        return queryset.filter(stage__code=f"application.{value}")


class MinedSourceFilterSet(django_filters.FilterSet):
    mineral = django_filters.CharFilter(field_name="minerals__code", distinct=True)
    owner = django_filters.NumberFilter(field_name="ownerships__company", distinct=True)

    class Meta:
        model = MinedSource
        fields = ["country", "method", "cahra", "operator"]


class AttestationFilterSet(django_filters.FilterSet):
    standard = django_filters.CharFilter(field_name="standard__code")
    mineral = django_filters.CharFilter(field_name="minerals__code", distinct=True)
    valid_on = django_filters.DateFilter(method="filter_valid_on")

    class Meta:
        model = Attestation
        fields = ["company", "status", "type", "visibility", "owner", "verifier"]

    def filter_valid_on(self, queryset, name, value):
        return queryset.valid_on(value)
