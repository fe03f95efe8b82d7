import django_filters
from django.db.models import Exists, OuterRef, Q

from config.widgets import FastSelect
from registry.models import Company

from . import access
from .models import BatteryCategory, BatteryModel, BatteryPassport, BatteryStatus, Lifecycle


class PassportFilterSet(django_filters.FilterSet):
    model = django_filters.NumberFilter(field_name="battery_model")
    manufacturer = django_filters.NumberFilter(field_name="battery_model__manufacturer")
    category = django_filters.ChoiceFilter(
        field_name="battery_model__category", choices=BatteryCategory.choices
    )
    chemistry = django_filters.CharFilter(
        field_name="battery_model__chemistry", lookup_expr="iexact"
    )
    status = django_filters.ChoiceFilter(
        field_name="battery_status",
        method="filter_status",
        choices=BatteryStatus.choices,
        help_text="Battery status is not public (attribute 11): only passports whose status "
        "you may see are matched.",
    )
    lifecycle = django_filters.ChoiceFilter(choices=Lifecycle.choices)
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    published_since = django_filters.IsoDateTimeFilter(field_name="published_at", lookup_expr="gte")
    economic_operator = django_filters.NumberFilter()
    demo = django_filters.BooleanFilter()
    ceased = django_filters.BooleanFilter(
        field_name="ceased_at",
        lookup_expr="isnull",
        exclude=True,
        help_text="true: passports that ceased when their battery was recycled (Art. 77(6)).",
    )

    def filter_status(self, queryset, name, value):
        requester = getattr(self.request, "_passport_requester", None) or access.requester_for(
            getattr(self.request, "user", None)
        )
        everywhere, manufacturers = access.manufacturers_seeing(requester, 11)
        queryset = queryset.filter(battery_status=value)
        if everywhere:
            return queryset
        own = requester.company_id or 0
        return queryset.filter(
            Q(battery_model__manufacturer_id__in=manufacturers)
            | Q(battery_model__manufacturer_id=own)
            | Q(economic_operator_id=own)
        )

    class Meta:
        model = BatteryPassport
        fields = [
            "model",
            "manufacturer",
            "category",
            "chemistry",
            "status",
            "lifecycle",
            "updated_since",
            "published_since",
            "economic_operator",
            "demo",
            "ceased",
        ]


class PassportListFilter(PassportFilterSet):
    """The passports page's filters: the API list's, the manufacturer chosen by name among
    the companies that make battery models."""

    category = django_filters.ChoiceFilter(
        field_name="battery_model__category",
        choices=BatteryCategory.choices,
        label="Category",
        empty_label="every category",
    )
    status = django_filters.ChoiceFilter(
        field_name="battery_status",
        method="filter_status",  # only passports whose status the requester may see
        choices=BatteryStatus.choices,
        label="Battery status",
        empty_label="every status",
    )

    manufacturer = django_filters.ModelChoiceFilter(
        field_name="battery_model__manufacturer",
        queryset=Company.objects.filter(
            Exists(BatteryModel.objects.filter(manufacturer_id=OuterRef("pk")))
        ).order_by("legal_name"),
        label="Manufacturer",
        empty_label="every manufacturer",
        widget=FastSelect,  # one option per battery maker: hundreds
    )
    # The page offers these three; the API list keeps the others.
    model = chemistry = lifecycle = updated_since = published_since = None
    economic_operator = demo = None

    class Meta(PassportFilterSet.Meta):
        fields = ["category", "status", "manufacturer"]
