"""One FilterSet per model, used by the API and the pages alike.

Codes are checked in the form fields, so a bad value becomes a form error:
a 400 naming it in the API, a message on the pages.
"""

import datetime as dt

import django_filters
from django import forms
from django.db.models import Exists, OuterRef
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from .models import Cell, Mineral, Standard, StandardKind, StandardStatus


class CellCodesField(forms.CharField):
    """Comma-separated cell codes; every one must exist."""

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return []
        codes = list(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
        known = set(Cell.objects.filter(code__in=codes).values_list("code", flat=True))
        unknown = [code for code in codes if code not in known]
        if unknown:
            # Values go in params: django-filter %-formats the message, and a user's "%" broke it.
            raise forms.ValidationError(
                "Unknown cell: %(cells)s", params={"cells": ", ".join(unknown)}
            )
        return codes


class MineralCodeField(forms.CharField):
    def clean(self, value):
        value = super().clean(value)
        if value and not Mineral.objects.filter(code=value).exists():
            raise forms.ValidationError("Unknown mineral: %(value)s", params={"value": value})
        return value


@extend_schema_field(OpenApiTypes.STR)
class CellCodesFilter(django_filters.Filter):
    field_class = CellCodesField


@extend_schema_field(OpenApiTypes.STR)
class MineralFilter(django_filters.Filter):
    field_class = MineralCodeField


class CellFilterSet(django_filters.FilterSet):
    dimension = django_filters.CharFilter(field_name="dimension__code")

    class Meta:
        model = Cell
        fields = ["dimension", "group"]


class StandardFilterSet(django_filters.FilterSet):
    kind = django_filters.MultipleChoiceFilter(choices=StandardKind.choices, label="Kind")
    binding = django_filters.BooleanFilter(
        label="Binding when in force",
        help_text="Binding when in force: laws bind those in scope only while in force; "
        "add `in_force_on` (or `status=in_force`) to ask who is bound on a date.",
    )
    in_force_on = django_filters.DateFilter(
        method="filter_in_force_on",
        label="In force on",
        help_text="Date (YYYY-MM-DD): only standards in force that day (their status history; "
        "a standard with none recorded counts as in force).",
    )
    status = django_filters.MultipleChoiceFilter(
        choices=StandardStatus.choices,
        method="filter_status",
        label="Status",
        help_text="Status on `on` (default today): proposed, adopted (not yet applying), "
        "in_force, suspended, ended, repealed.",
    )
    on = django_filters.DateFilter(
        method="filter_nothing",
        label="Status on",
        help_text="The date `status` is read on, and the `status` field of each result "
        "(default: `in_force_on`, else today).",
    )
    jurisdiction = django_filters.CharFilter(
        lookup_expr="iexact",
        label="Jurisdiction",
        help_text="Jurisdiction as recorded (e.g. `EU`, `US`, `international`), any case.",
    )
    mineral = MineralFilter(
        field_name="minerals",
        method="filter_mineral",
        label="Mineral",
        help_text="Mineral code; standards with no mineral limit cover every mineral.",
    )
    sponsor = CellCodesFilter(
        method="filter_sponsor",
        label="Sponsor",
        help_text="Sponsor cell codes, e.g. `sponsor.industry_association` (any of them).",
    )
    covers = CellCodesFilter(
        field_name="cells",
        method="filter_covers",
        label="Covers cells",
        help_text="Comma-separated cell codes; standards that cover all of them themselves.",
    )
    cahra = django_filters.BooleanFilter()
    widely_accepted = django_filters.BooleanFilter()
    multi_stakeholder = django_filters.BooleanFilter()
    independently_verified = django_filters.BooleanFilter()
    transparent = django_filters.BooleanFilter()
    country = django_filters.CharFilter(
        field_name="countries",
        lookup_expr="icontains",
        label="Country in scope",
        help_text="ISO country code: standards whose scope names that country.",
    )
    covers_industrial = django_filters.BooleanFilter()
    covers_artisanal = django_filters.BooleanFilter()
    covers_recycled = django_filters.BooleanFilter()
    year_min = django_filters.NumberFilter(field_name="year", lookup_expr="gte")
    year_max = django_filters.NumberFilter(field_name="year", lookup_expr="lte")

    class Meta:
        model = Standard
        fields = ["kind", "binding", "jurisdiction", "cahra"]

    def status_date(self) -> dt.date:
        """The date each result's `status` is given for."""
        data = getattr(self.form, "cleaned_data", None) or {}
        return data.get("on") or data.get("in_force_on") or dt.date.today()

    def filter_queryset(self, queryset):
        return super().filter_queryset(queryset.with_status_on(self.status_date()))

    def filter_nothing(self, queryset, name, value):
        return queryset

    def filter_in_force_on(self, queryset, name, value):
        return queryset.in_force_on(value) if value else queryset

    def filter_status(self, queryset, name, value):
        return queryset.filter(status_on__in=value) if value else queryset

    def filter_mineral(self, queryset, name, value):
        # Those naming the mineral, and those naming none (they cover every mineral):
        # EXISTS keeps one row per standard, where a join needed DISTINCT.
        named = Standard.minerals.through.objects.filter(standard_id=OuterRef("pk"))
        return queryset.filter(Exists(named.filter(mineral__code=value)) | ~Exists(named))

    def filter_sponsor(self, queryset, name, value):
        return queryset.covering_any(value) if value else queryset

    def filter_covers(self, queryset, name, value):
        return queryset.covering_all(value) if value else queryset
