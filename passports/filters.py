import django_filters

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
    status = django_filters.ChoiceFilter(field_name="battery_status", choices=BatteryStatus.choices)
    lifecycle = django_filters.ChoiceFilter(choices=Lifecycle.choices)
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

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
        ]
