import django_filters
from django.db.models import Q

from . import access
from .models import BatteryCategory, BatteryPassport, BatteryStatus, Lifecycle


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
        ]
