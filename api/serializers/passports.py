from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.relations import MANY_RELATION_KWARGS

from passports import access, gtin
from passports.catalogue import SCHEMA_FILES
from passports.models import (
    SUCCESSOR_STATUS_CHOICES,
    BatteryCategory,
    BatteryModel,
    BatteryPassport,
    BatteryStatus,
    DynamicReading,
    Lifecycle,
    PassportEvent,
)
from registry.models import Attestation, Company
from registry.querysets import Requester


class PrefetchedManyField(serializers.ManyRelatedField):
    """A to-many field that reads the prefetched rows straight from the instance: going
    through the relation builds a related manager per row and field (a third of a page of
    50 battery models)."""

    def get_attribute(self, instance):
        cache = getattr(instance, "_prefetched_objects_cache", {})
        if len(self.source_attrs) == 1 and self.source_attrs[0] in cache:
            return cache[self.source_attrs[0]]
        return super().get_attribute(instance)


class PrefetchedPrimaryKeyField(serializers.PrimaryKeyRelatedField):
    @classmethod
    def many_init(cls, *args, **kwargs):  # as DRF's, with the field above
        many = {key: value for key, value in kwargs.items() if key in MANY_RELATION_KWARGS}
        return PrefetchedManyField(child_relation=cls(*args, **kwargs), **many)


class BatteryModelSerializer(serializers.ModelSerializer):
    """Model-level passport data, every field cut to the requester's tier like any passport
    answer (access.MODEL_FIELDS)."""

    serializer_related_field = PrefetchedPrimaryKeyField

    class Meta:
        model = BatteryModel
        fields = [
            "id",
            "manufacturer",
            "model_identifier",
            "name",
            "category",
            "chemistry",
            "gtin",
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
        requester = self.context.get("requester") or Requester.anonymous()
        roles = access.roles_for(requester, instance.manufacturer_id)
        return access.cut(super().to_representation(instance), roles, access.MODEL_FIELDS)

    def validate_gtin(self, value: str) -> str:
        try:
            return gtin.free_gtin(value, self.instance)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from None

    def get_fields(self):
        # An attestation the requester may not see cannot be linked, and answers exactly
        # as one that does not exist ("Invalid pk ... object does not exist").
        fields = super().get_fields()
        requester = self.context.get("requester") or Requester.anonymous()
        relation = fields["attestations"].child_relation
        relation.queryset = Attestation.objects.visible_to(requester)
        return fields

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


# --- Answers ------------------------------------------------------------------------------
# Output serializers: each turns what passports/selectors.py reads, already cut to the
# requester's tier there (`as_seen`, `version_as_seen`, ...), into the answer, and is the
# answer's OpenAPI schema. They decide nothing about access.


# Fields that turn a value into its answer on their own (no context, no nested serializer).
PLAIN_FIELDS = (
    serializers.BooleanField,
    serializers.CharField,
    serializers.ChoiceField,
    serializers.DateTimeField,
    serializers.DictField,
    serializers.FloatField,
    serializers.IntegerField,
    serializers.ListField,
    serializers.SerializerMethodField,
    serializers.UUIDField,
)


class AttributeNumbersField(serializers.ListField):
    """Attribute numbers (ints from the selectors, already cut to the tier) answered as they
    are: DRF's call per number cost more than the rest of a change-feed page (a version
    names up to 93 of them)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "Attributes changed that your tier may see")
        super().__init__(child=serializers.IntegerField(), **kwargs)

    def to_representation(self, data):
        return list(data)


class RowSerializer(serializers.Serializer):
    """An output serializer of rows (dicts), declared (and so documented) like any other,
    that answers without DRF's per-answer deep copy of every field, which cost as much as
    the rest of a passport read: its fields are bound once per class, and each reads its
    row key directly. So only plain fields (PLAIN_FIELDS) may be declared; method fields
    run on the serializer at hand, so their `self.context` is this answer's."""

    # serializer class -> (name, method name or None, row key, field), built once
    _plans: dict[type, tuple] = {}

    @classmethod
    def plan(cls) -> tuple:
        plan = RowSerializer._plans.get(cls)
        if plan is None:
            steps = []
            for field in cls().fields.values():
                if not isinstance(field, PLAIN_FIELDS):
                    raise TypeError(f"{cls.__name__}.{field.field_name} is not a plain field")
                method = getattr(field, "method_name", None)
                steps.append((field.field_name, method, field.source, field))
            plan = RowSerializer._plans[cls] = tuple(steps)
        return plan

    def to_representation(self, instance):
        out = {}
        for name, method, key, field in self.plan():
            if method is not None:
                out[name] = getattr(self, method)(instance)
                continue
            try:
                value = instance[key]
            except KeyError:
                try:  # DRF's rules for a missing value (None if nullable, else skipped)
                    value = field.get_attribute(instance)
                except serializers.SkipField:
                    continue
            out[name] = None if value is None else field.to_representation(value)
        return out


def _help(name: str) -> str:
    """The help text of a passport model field."""
    return str(getattr(BatteryPassport._meta.get_field(name), "help_text", ""))


def _tier():
    return serializers.ChoiceField(
        choices=access.TIERS, help_text="The access tier this answer is cut to (Art. 77(2))"
    )


def _document():
    return serializers.DictField(
        help_text="The Battery Pass 1.2.0 document {aspect: payload}, holding only the "
        "attributes your tier may see"
    )


class PassportSummarySerializer(RowSerializer):
    """A passport without its document, as your tier may see it."""

    url = serializers.SerializerMethodField()
    internal_id = serializers.CharField(help_text=_help("internal_id"))
    batterypass_id = serializers.CharField(help_text=_help("batterypass_id"))
    uuid = serializers.UUIDField()
    battery_identifier = serializers.CharField(help_text=_help("battery_identifier"))
    battery_model = serializers.CharField(
        source="battery_model__model_identifier", help_text="The battery model's identifier"
    )
    manufacturer = serializers.IntegerField(
        source="battery_model__manufacturer_id", help_text="The manufacturer (a company id)"
    )
    economic_operator = serializers.IntegerField(
        source="economic_operator_id", help_text="The economic operator (a company id)"
    )
    category = serializers.ChoiceField(
        choices=BatteryCategory.choices, source="battery_model__category"
    )
    chemistry = serializers.CharField(source="battery_model__chemistry")
    lifecycle = serializers.ChoiceField(choices=Lifecycle.choices)
    battery_status = serializers.ChoiceField(
        choices=BatteryStatus.choices,
        allow_null=True,
        help_text="Attribute 11: null for a tier that may not see it",
    )
    version = serializers.IntegerField(help_text="Latest published version (0: never published)")
    updated_at = serializers.DateTimeField()
    predecessor = serializers.CharField(
        source="predecessor__internal_id",
        allow_null=True,
        help_text="The passport of the battery before repurposing or remanufacturing "
        "(Art. 77(7)); it reveals the status, so it follows attribute 11: null for a tier "
        "that may not see it",
    )
    ceased_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When the passport ceased because the battery was recycled (Art. 77(6)); "
        "null while it lives. Its versions stay readable.",
    )
    demo = serializers.BooleanField(help_text="Illustrative demo record, not real data")

    def get_url(self, row) -> str:
        return self.context["request"].build_absolute_uri(f"/api/passports/{row['internal_id']}/")


class PassportDocumentSerializer(PassportSummarySerializer):
    """A passport and its document, as your tier may see it (bulk results, earlier
    versions)."""

    tier = _tier()
    document = _document()


class PassportDetailSerializer(PassportSummarySerializer):
    """A passport and its document, as your tier may see it, and its public page."""

    tier = _tier()
    public_page = serializers.SerializerMethodField(
        help_text="The battery's public page (what its QR code opens)"
    )
    document = _document()

    def get_public_page(self, row) -> str:
        return self.context["request"].build_absolute_uri(f"/p/{row['internal_id']}/")


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


class VersionSummarySerializer(RowSerializer):
    """A published version, as your tier may see it."""

    number = serializers.IntegerField()
    battery_status = serializers.ChoiceField(
        choices=BatteryStatus.choices,
        allow_null=True,
        help_text="Attribute 11: null for a tier that may not see it",
    )
    note = serializers.CharField(
        allow_null=True, help_text="May name the status, so null when the status is"
    )
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField(source="created_by__username", allow_null=True)
    changed_attributes = AttributeNumbersField()


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
    results = PassportDocumentSerializer(many=True)
    not_found = serializers.ListField(
        child=serializers.CharField(), help_text="The identifiers asked for that matched nothing"
    )


class ChangeFeedEventSerializer(RowSerializer):
    id = serializers.IntegerField()
    passport = serializers.CharField(help_text="The passport's internal id")
    kind = serializers.ChoiceField(choices=PassportEvent.Kind.choices)
    version = serializers.IntegerField()
    attributes = AttributeNumbersField()
    at = serializers.DateTimeField()


class ChangeFeedSerializer(serializers.Serializer):
    events = ChangeFeedEventSerializer(many=True)
    next_cursor = serializers.IntegerField(help_text="Pass it back as `since`")
    more = serializers.BooleanField()


class ExportSerializer(serializers.Serializer):
    """An export is a document of its format already: it is answered as it is (declaring
    its members here documents them; a copy through the fields would drop any other)."""

    def to_representation(self, instance):
        return instance


def _aspect(aspect: str):
    return serializers.DictField(
        required=False,
        help_text=f"{aspect}: passports/data/batterypass-1.2.0/{SCHEMA_FILES[aspect]}",
    )


class BatteryPassExportSerializer(ExportSerializer):
    """A Battery Pass 1.2.0 document (batterypass/BatteryPassDataModel 1.2.0, one JSON
    Schema per aspect, shipped in passports/data/batterypass-1.2.0/): the seven aspects,
    holding only the attributes your tier may see; an aspect you may see nothing of is
    left out."""

    GeneralProductInformation = _aspect("GeneralProductInformation")
    CarbonFootprintForBatteries = _aspect("CarbonFootprintForBatteries")
    Circularity = _aspect("Circularity")
    MaterialComposition = _aspect("MaterialComposition")
    PerformanceAndDurability = _aspect("PerformanceAndDurability")
    Labeling = _aspect("Labeling")
    SupplyChainDueDiligence = _aspect("SupplyChainDueDiligence")


def _catenax(text: str):
    return serializers.DictField(required=False, help_text=text)


class CatenaXExportSerializer(ExportSerializer):
    """A Catena-X BatteryPass 6.1.0 object (semantic model
    urn:samm:io.catenax.battery.battery_pass:6.1.0#BatteryPass, JSON Schema in
    passports/data/catenax-batterypass-6.1.0/BatteryPass-6.1.0-schema.json), holding only
    what your tier may see: members the tier cannot fill are left out."""

    specVersion = serializers.CharField(
        required=False, help_text="urn:io.catenax.battery.battery_pass:6.1.0"
    )
    identification = _catenax("Battery identification")
    operation = _catenax("Manufacturer, operator, manufacturing place and date")
    characteristics = _catenax("Warranty and physical dimensions")
    sustainability = _catenax("Carbon footprint, documents and status")
    materials = _catenax("Active, hazardous and recycled materials")
    performance = _catenax("Rated and dynamic performance values")
    conformity = _catenax("Conformity documents")
    safety = _catenax("Safety measures, labels and their meaning")
    sources = serializers.ListField(
        child=serializers.DictField(), required=False, help_text="Further documents"
    )
    metadata = _catenax("The passport's identifier, predecessor, version, dates and status")
    commercial = _catenax("Commercial information (putting into service)")
    handling = _catenax("Spare parts, dismantling and removal")


class ErrorSerializer(serializers.Serializer):
    """What went wrong (403 refused, 404 not found or not visible to you, 409 conflict)."""

    detail = serializers.CharField()


# A refused request body or query: {field: [messages]} (a field may hold a list of schema
# errors, `missing_attributes`, ...).
VALIDATION_ERRORS = {
    "type": "object",
    "description": "{field: [messages]}",
    "additionalProperties": {},
}
