from django_countries import serializer_fields
from rest_framework import serializers


class CountryField(serializer_fields.CountryField):
    """django-countries' field, except that {}, [] or 0 is refused rather than stored as
    a blank country where blank is not allowed."""

    def to_internal_value(self, data):
        country = super().to_internal_value(data)
        if not country and not self.allow_blank:
            self.fail("invalid_choice", input=data)
        return country


class CodeListField(serializers.ListField):
    """Accepts `a,b,c`, repeated parameters, or a JSON list."""

    child = serializers.CharField(max_length=80)

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = [data]
        items = []
        for item in data:
            items.extend(part.strip() for part in str(item).split(",") if part.strip())
        return super().to_internal_value(items)


def query_data(request, list_fields: tuple[str, ...]) -> dict:
    """Query parameters as a dict, with repeatable ones kept as lists."""
    data = {}
    for key in request.query_params:
        values = request.query_params.getlist(key)
        data[key] = values if key in list_fields else values[-1]
    return data
