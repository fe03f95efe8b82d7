"""The answers of a passport's whole life: recycling, the chain of its passports, and its
EU registry record (passports/chain.py, passports/registry_record.py)."""

from rest_framework import serializers

from api.serializers.passports import RowSerializer
from passports.models import BatteryStatus, Lifecycle
from registry.models import Organisation


class RecycleSerializer(serializers.Serializer):
    recycled_on = serializers.DateField(help_text="The day the battery was recycled")
    recycler = serializers.PrimaryKeyRelatedField(
        queryset=Organisation.objects.all(),
        required=False,
        allow_null=True,
        help_text="The recycling organisation (a recycler recording it: its own)",
    )


class ChainEntrySerializer(serializers.Serializer):
    """One passport of the battery's life, as your tier may see it."""

    internal_id = serializers.CharField()
    batterypass_id = serializers.CharField()
    uuid = serializers.UUIDField()
    lifecycle = serializers.ChoiceField(choices=Lifecycle.choices)
    battery_status = serializers.ChoiceField(
        choices=BatteryStatus.choices, allow_null=True, help_text="Attribute 11"
    )
    version = serializers.IntegerField()
    economic_operator = serializers.IntegerField(source="economic_operator_id", allow_null=True)
    ceased_at = serializers.DateTimeField(
        allow_null=True, help_text="The passport ceased: the battery was recycled (Art. 77(6))"
    )
    recycled_on = serializers.DateField(allow_null=True, help_text="Follows attribute 11")
    recycler = serializers.CharField(
        source="recycler__name", allow_null=True, help_text="Follows attribute 11"
    )


class ChainSerializer(serializers.Serializer):
    """The passport and the passports linked to it by repurposing or remanufacturing
    (Art. 77(7)): a link shows the status of both ends, so it is listed only while your tier
    may see attribute 11 of both; another company's draft is never listed."""

    passport = ChainEntrySerializer()
    predecessors = ChainEntrySerializer(many=True, help_text="Oldest first")
    successors = ChainEntrySerializer(many=True, help_text="Nearest first")


class RegistrationRecordSerializer(RowSerializer):
    """A passport's record for the EU digital product passport registry (ESPR Art. 13):
    public values only. A row serializer: a page is 100 records of 18 fields."""

    unique_product_identifier = serializers.CharField(help_text="urn:uuid of the passport")
    passport_identifier = serializers.CharField(help_text="The Battery Pass identifier")
    internal_id = serializers.CharField()
    unique_operator_identifier = serializers.CharField()
    operator_identifier_scheme = serializers.ChoiceField(choices=("LEI", "registry"))
    operator_name = serializers.CharField()
    unique_facility_identifier = serializers.CharField(allow_null=True)
    commodity_code = serializers.CharField(help_text="Combined Nomenclature (8507 60: Li-ion)")
    battery_category = serializers.CharField()
    resolver_endpoint = serializers.URLField(help_text="What the data carrier opens")
    api_endpoint = serializers.URLField()
    data_carrier = serializers.CharField()
    data_carrier_image = serializers.URLField()
    status = serializers.ChoiceField(choices=("active", "ceased"))
    version = serializers.IntegerField()
    published_at = serializers.DateTimeField(allow_null=True)
    ceased_at = serializers.DateTimeField(allow_null=True)
    demo = serializers.BooleanField()


class RegistrationPageSerializer(serializers.Serializer):
    """A page of registration records (api.pagination: follow `next`)."""

    next = serializers.URLField(allow_null=True, help_text="The next page, or null")
    previous = serializers.URLField(allow_null=True, help_text="The previous page, or null")
    results = RegistrationRecordSerializer(many=True)
