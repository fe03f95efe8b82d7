from rest_framework import serializers

from passports import access
from passports.models import (
    SUCCESSOR_STATUS_CHOICES,
    BatteryModel,
    BatteryPassport,
    BatteryStatus,
    DynamicReading,
    PassportVersion,
)
from registry.models import Company


class BatteryModelSerializer(serializers.ModelSerializer):
    """Model-level passport data, cut to the requester's tier like any passport answer."""

    class Meta:
        model = BatteryModel
        fields = [
            "id",
            "manufacturer",
            "model_identifier",
            "name",
            "category",
            "chemistry",
            "data",
            "catenax_extra",
            "supply_relationships",
            "mined_sources",
            "attestations",
            "created_at",
            "updated_at",
            "demo",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        viewer = self.context.get("viewer") or access.Viewer.anonymous()
        data["data"] = access.project(instance.data, viewer.roles_for(instance.manufacturer_id))
        return data

    def validate(self, attrs):
        manufacturer = attrs.get("manufacturer") or getattr(self.instance, "manufacturer", None)
        for relationship in attrs.get("supply_relationships", []):
            if relationship.buyer_id != manufacturer.pk:
                raise serializers.ValidationError(
                    {
                        "supply_relationships": f"Relationship {relationship.pk} does not supply "
                        f"{manufacturer}."
                    }
                )
        for attestation in attrs.get("attestations", []):
            if attestation.company_id != manufacturer.pk:
                raise serializers.ValidationError(
                    {"attestations": f"Attestation {attestation.pk} is not {manufacturer}'s."}
                )
        return attrs


class PassportSummarySerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    battery_model = serializers.CharField(source="battery_model.model_identifier")
    manufacturer = serializers.IntegerField(source="battery_model.manufacturer_id")
    category = serializers.CharField(source="battery_model.category")
    chemistry = serializers.CharField(source="battery_model.chemistry")
    predecessor = serializers.CharField(source="predecessor.internal_id", default=None)

    class Meta:
        model = BatteryPassport
        fields = [
            "url",
            "internal_id",
            "batterypass_id",
            "uuid",
            "battery_identifier",
            "battery_model",
            "manufacturer",
            "economic_operator",
            "category",
            "chemistry",
            "lifecycle",
            "battery_status",
            "version",
            "updated_at",
            "predecessor",
            "demo",
        ]

    def get_url(self, obj) -> str:
        request = self.context.get("request")
        path = f"/api/passports/{obj.internal_id}/"
        return request.build_absolute_uri(path) if request else path


class PassportDetailSerializer(PassportSummarySerializer):
    tier = serializers.CharField()
    document = serializers.DictField()
    public_page = serializers.CharField()

    class Meta(PassportSummarySerializer.Meta):
        fields = PassportSummarySerializer.Meta.fields + ["tier", "document", "public_page"]


class PassportCreateSerializer(serializers.Serializer):
    battery_model = serializers.PrimaryKeyRelatedField(queryset=BatteryModel.objects.all())
    battery_identifier = serializers.CharField(max_length=100)
    economic_operator = serializers.PrimaryKeyRelatedField(queryset=Company.objects.all())
    data = serializers.DictField(required=False, default=dict)


class PassportDraftSerializer(serializers.Serializer):
    data = serializers.DictField()
    revision = serializers.IntegerField(
        required=False, help_text="The revision you read; a stale one gets 409 (or If-Match)"
    )


class PublishSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="")


class ReviseSerializer(serializers.Serializer):
    data = serializers.DictField(required=False, default=dict)
    note = serializers.CharField(required=False, allow_blank=True, default="")
    version = serializers.IntegerField(
        required=False, help_text="The version you read; a stale one gets 409"
    )
    battery_status = serializers.ChoiceField(choices=BatteryStatus.choices, required=False)


class RepurposeSerializer(serializers.Serializer):
    battery_status = serializers.ChoiceField(choices=SUCCESSOR_STATUS_CHOICES)
    battery_identifier = serializers.CharField(max_length=100)
    economic_operator = serializers.PrimaryKeyRelatedField(queryset=Company.objects.all())
    battery_model = serializers.PrimaryKeyRelatedField(
        queryset=BatteryModel.objects.all(), required=False
    )
    data = serializers.DictField(required=False, default=dict)


class ReadingSerializer(serializers.ModelSerializer):
    attribute = serializers.IntegerField(source="attribute.number")
    name = serializers.CharField(source="attribute.name", read_only=True)

    class Meta:
        model = DynamicReading
        fields = ["id", "attribute", "name", "value", "measured_at", "recorded_at"]


class ReadingInputSerializer(serializers.Serializer):
    attribute = serializers.IntegerField(min_value=1, max_value=93)
    value = serializers.JSONField()
    measured_at = serializers.DateTimeField()


class VersionSummarySerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None)
    changed_attributes = serializers.SerializerMethodField()

    class Meta:
        model = PassportVersion
        fields = [
            "number",
            "battery_status",
            "note",
            "created_at",
            "created_by",
            "changed_attributes",
        ]

    def get_changed_attributes(self, obj) -> list[int]:
        visible = self.context.get("visible")
        return [n for n in obj.changed_attributes if visible is None or n in visible]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        visible = self.context.get("visible")
        if visible is not None and 11 not in visible:
            # The status, and notes that may name it, follow attribute 11's tier.
            data["battery_status"] = None
            data["note"] = None
        return data


class BulkSerializer(serializers.Serializer):
    identifiers = serializers.ListField(
        child=serializers.CharField(max_length=100), min_length=1, max_length=500
    )


class ImportSerializer(serializers.Serializer):
    battery_model = serializers.PrimaryKeyRelatedField(queryset=BatteryModel.objects.all())
    economic_operator = serializers.PrimaryKeyRelatedField(queryset=Company.objects.all())
    predecessor = serializers.CharField(
        required=False, help_text="Identifier of the predecessor's passport"
    )
    document = serializers.DictField(help_text="Battery Pass 1.2.0: {aspect: payload}")


class MineralProvenanceSerializer(serializers.Serializer):
    mineral = serializers.CharField()
    traced = serializers.BooleanField()
    recycled_pre_pct = serializers.FloatField()
    recycled_post_pct = serializers.FloatField()
    cahra_pct = serializers.FloatField()
    untraced_pct = serializers.FloatField()
    mine_country_hhi = serializers.FloatField()
    mine_country_band = serializers.CharField()
    processing_country_hhi = serializers.FloatField()
    lacking_coverage_pct = serializers.DictField(child=serializers.FloatField())
    minimums = serializers.DictField()


class ProvenanceSerializer(serializers.Serializer):
    minerals = MineralProvenanceSerializer(many=True)
    manufacturer_grade = serializers.CharField()
    manufacturer_gaps = serializers.IntegerField()
    attestations = serializers.ListField(child=serializers.CharField())
    rule = serializers.CharField()


class BulkResultSerializer(serializers.Serializer):
    results = PassportDetailSerializer(many=True)
    not_found = serializers.ListField(child=serializers.CharField())


class ChangeFeedEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    passport = serializers.CharField()
    kind = serializers.CharField()
    version = serializers.IntegerField()
    attributes = serializers.ListField(child=serializers.IntegerField())
    at = serializers.DateTimeField()


class ChangeFeedSerializer(serializers.Serializer):
    events = ChangeFeedEventSerializer(many=True)
    next_cursor = serializers.IntegerField()
    more = serializers.BooleanField()
