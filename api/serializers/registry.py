from django.db import transaction
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.utils.urls import replace_query_param

from api.fields import CountryField
from registry import privacy
from registry.models import (
    ATTESTATION_INPUT_FIELDS,
    ATTESTATION_MANAGED_FIELDS,
    Attestation,
    Company,
    CompanyIdentifier,
    Evidence,
    Facility,
    MinedSource,
    Organisation,
    StatusChange,
)
from registry.services import allowed_transitions, mine_set_owners, validate_owner_shares
from taxonomy.matrix import STAGE_CODES
from taxonomy.models import Cell, Mineral, Standard


class StageField(serializers.RelatedField):
    """A supply-chain stage by its short code: `refining` for `application.refining`."""

    default_error_messages = {
        "unknown": "Unknown stage {value!r}; one of: mining, trading, refining, cathode, cell, "
        "battery_assembly, vehicle, recycling.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", Cell.objects.filter(dimension__code="application"))
        super().__init__(**kwargs)

    def to_representation(self, value):
        return value.code.split(".", 1)[1]

    def to_internal_value(self, data):
        cell = self.get_queryset().filter(code=f"application.{data}").first()
        if cell is None:
            self.fail("unknown", value=data)
        return cell


extend_schema_field(serializers.CharField)(StageField)


class MineralField(serializers.SlugRelatedField):
    default_error_messages = {"does_not_exist": "Unknown mineral {value!r}."}

    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", Mineral.objects.all())
        super().__init__(slug_field="code", **kwargs)


class StandardCodeField(serializers.SlugRelatedField):
    default_error_messages = {"does_not_exist": "Unknown standard {value!r}."}

    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", Standard.objects.all())
        super().__init__(slug_field="code", **kwargs)


class OrganisationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organisation
        fields = ["id", "name", "kind", "company", "demo"]


class IdentifierSerializer(serializers.ModelSerializer):
    class Meta:
        model = CompanyIdentifier
        fields = ["scheme", "issuer", "value"]
        validators = []  # uniqueness is checked by the database, per company save

    def validate(self, attrs):
        CompanyIdentifier(**attrs).clean()
        return attrs


class CompanySerializer(serializers.ModelSerializer):
    country = CountryField()
    state_owner = CountryField(required=False, allow_blank=True)
    stages = StageField(many=True, required=False)
    identifiers = IdentifierSerializer(many=True, required=False)
    facility_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Company
        fields = [
            "id",
            "legal_name",
            "aliases",
            "country",
            "lei",
            "identifiers",
            "stages",
            "parent",
            "state_owner",
            "state_ownership_pct",
            "website",
            "notes",
            "facility_count",
            "demo",
        ]

    def validate_aliases(self, value):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise serializers.ValidationError("A list of names.")
        return value

    def validate_parent(self, value):
        if value and self.instance and value.pk == self.instance.pk:
            raise serializers.ValidationError("A company cannot be its own parent.")
        return value

    @transaction.atomic
    def create(self, validated_data):
        identifiers = validated_data.pop("identifiers", [])
        company = super().create(validated_data)
        self._save_identifiers(company, identifiers)
        return company

    @transaction.atomic
    def update(self, instance, validated_data):
        identifiers = validated_data.pop("identifiers", None)
        company = super().update(instance, validated_data)
        if identifiers is not None:
            company.identifiers.all().delete()
            self._save_identifiers(company, identifiers)
        return company

    def _save_identifiers(self, company, identifiers):
        for data in identifiers:
            exists = CompanyIdentifier.objects.filter(
                scheme=data["scheme"], issuer=data.get("issuer", ""), value=data["value"]
            ).exclude(company=company)
            if exists.exists():
                raise serializers.ValidationError(
                    {"identifiers": f"{data['scheme']}:{data['value']} belongs to another company."}
                )
            CompanyIdentifier.objects.create(company=company, **data)


class FacilitySerializer(serializers.ModelSerializer):
    country = CountryField()
    stage = StageField()
    minerals = MineralField(many=True, required=False)

    class Meta:
        model = Facility
        fields = [
            "id",
            "company",
            "name",
            "kind",
            "country",
            "region",
            "stage",
            "minerals",
            "feedstock",
            "rmi_cid",
            "demo",
        ]


class OwnerSerializer(serializers.Serializer):
    company = serializers.PrimaryKeyRelatedField(queryset=Company.objects.all())
    share_pct = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=0, max_value=100)


class MinedSourceSerializer(serializers.ModelSerializer):
    country = CountryField()
    minerals = MineralField(many=True)
    owners = serializers.SerializerMethodField()
    owners_input = OwnerSerializer(many=True, required=False, write_only=True, source="owners")

    class Meta:
        model = MinedSource
        fields = [
            "id",
            "name",
            "minerals",
            "country",
            "region",
            "method",
            "cahra",
            "cahra_basis",
            "operator",
            "owners",
            "owners_input",
            "demo",
        ]

    @extend_schema_field(OwnerSerializer(many=True))
    def get_owners(self, obj):
        return [
            {
                "company": o.company_id,
                "company_name": o.company.legal_name,
                "share_pct": str(o.share_pct),
            }
            for o in obj.ownerships.all()
        ]

    def to_internal_value(self, data):
        # Accept `owners` on input too: it is the natural name for clients.
        if hasattr(data, "copy") and "owners" in data and "owners_input" not in data:
            data = data.copy()
            data["owners_input"] = data.pop("owners")
        return super().to_internal_value(data)

    def validate(self, attrs):
        cahra = attrs.get("cahra", getattr(self.instance, "cahra", False))
        basis = attrs.get("cahra_basis", getattr(self.instance, "cahra_basis", ""))
        if cahra and not basis:
            raise serializers.ValidationError(
                {"cahra_basis": "Say why the area is conflict-affected or high-risk."}
            )
        if "owners" in attrs:
            try:
                validate_owner_shares([(o["company"], o["share_pct"]) for o in attrs["owners"]])
            except Exception as exc:  # Django ValidationError -> DRF error
                raise serializers.ValidationError(getattr(exc, "message_dict", str(exc))) from exc
        return attrs

    @transaction.atomic
    def create(self, validated_data):
        owners = validated_data.pop("owners", [])
        mine = super().create(validated_data)
        mine_set_owners(mine=mine, owners=[(o["company"], o["share_pct"]) for o in owners])
        return mine

    @transaction.atomic
    def update(self, instance, validated_data):
        owners = validated_data.pop("owners", None)
        mine = super().update(instance, validated_data)
        if owners is not None:
            mine_set_owners(mine=mine, owners=[(o["company"], o["share_pct"]) for o in owners])
        return mine


class EvidenceSerializer(serializers.ModelSerializer):
    download = serializers.SerializerMethodField()

    class Meta:
        model = Evidence
        fields = ["id", "filename", "content_type", "size", "sha256", "uploaded_at", "download"]

    def get_download(self, obj) -> str:
        request = self.context.get("request")
        path = f"/api/registry/attestations/{obj.attestation_id}/evidence/{obj.pk}/"
        return request.build_absolute_uri(path) if request else path


class StatusChangeSerializer(serializers.ModelSerializer):
    by = serializers.CharField(source="by.username", default=None, allow_null=True)

    class Meta:
        model = StatusChange
        fields = ["from_status", "to_status", "effective", "at", "by", "reason"]


class AttestationHistorySerializer(serializers.Serializer):
    """One recorded version of an attestation (GET .../history/)."""

    version = serializers.IntegerField()
    status = serializers.CharField()
    visibility = serializers.CharField()
    valid_from = serializers.DateField()
    valid_until = serializers.DateField(allow_null=True)
    changed_at = serializers.DateTimeField()
    changed_by = serializers.CharField(allow_null=True)
    change = serializers.CharField()


class AttestationSerializer(serializers.ModelSerializer):
    standard = serializers.CharField(source="standard.code")
    minerals = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    submitted_by = serializers.CharField(
        source="submitted_by.username", default=None, allow_null=True
    )
    reviewed_by = serializers.CharField(
        source="reviewed_by.username", default=None, allow_null=True
    )
    evidence = EvidenceSerializer(many=True, read_only=True)
    status_changes = StatusChangeSerializer(many=True, read_only=True)
    allowed_transitions = serializers.SerializerMethodField(
        help_text="The statuses you may move it to now (POST .../transition/ with `to`)."
    )

    class Meta:
        model = Attestation
        fields = [
            "id",
            *ATTESTATION_INPUT_FIELDS[:3],
            "status",
            *ATTESTATION_INPUT_FIELDS[3:],
            *ATTESTATION_MANAGED_FIELDS[1:],
            "evidence",
            "status_changes",
            "allowed_transitions",
            "demo",
        ]
        read_only_fields = fields

    def get_allowed_transitions(self, obj) -> list[str]:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return []
        return [step.to for step in allowed_transitions(obj, user)]


class AttestationWriteSerializer(serializers.ModelSerializer):
    standard = StandardCodeField()
    minerals = MineralField(many=True, required=False)
    version = serializers.IntegerField(
        required=False, help_text="On update: the version you read; a stale one gets 409."
    )

    class Meta:
        model = Attestation
        fields = [*ATTESTATION_INPUT_FIELDS, "version"]
        extra_kwargs = {"owner": {"required": False}}

    def validate(self, attrs):
        start = attrs.get("valid_from", getattr(self.instance, "valid_from", None))
        end = attrs.get("valid_until", getattr(self.instance, "valid_until", None))
        if start and end and end < start:
            raise serializers.ValidationError(
                {"valid_until": f"Validity ends ({end}) before it starts ({start})."}
            )
        visibility = attrs.get("visibility", getattr(self.instance, "visibility", "private"))
        if attrs.get("shared_with") and visibility != "shared":
            raise serializers.ValidationError(
                {"shared_with": "Name organisations only when visibility is 'shared'."}
            )
        return attrs


class TransitionSerializer(serializers.Serializer):
    to = serializers.ChoiceField(choices=Attestation.Status.choices)
    reason = serializers.CharField(required=False, allow_blank=True, default="")
    effective = serializers.DateField(required=False)


class EvidenceUploadSerializer(serializers.Serializer):
    file = serializers.FileField()


# --- Coverage ------------------------------------------------------------


class CellSourceSerializer(serializers.Serializer):
    attestation = serializers.IntegerField(source="attestation_id")
    standard = serializers.CharField()
    type = serializers.CharField()
    independent = serializers.BooleanField()
    via = serializers.CharField(allow_null=True)


class ExpectedElementSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    dimension = serializers.CharField()
    cells = serializers.ListField(child=serializers.CharField())
    mode = serializers.CharField()
    profile = serializers.CharField()


class GapSerializer(serializers.Serializer):
    element = ExpectedElementSerializer()
    declared = serializers.BooleanField(help_text="Self-declared, not verified")
    closing_standards = serializers.ListField(child=serializers.CharField())


class GradeSerializer(serializers.Serializer):
    level = serializers.CharField()
    breadth = serializers.FloatField()
    depth = serializers.FloatField()
    rule = serializers.CharField()


class NotCountedSerializer(serializers.Serializer):
    attestation = serializers.IntegerField(source="attestation_id")
    standard = serializers.CharField()
    status = serializers.CharField(help_text="The standard's status on `as_of`")
    reason = serializers.CharField()


class CoverageSerializer(serializers.Serializer):
    company = serializers.IntegerField(source="company.pk")
    company_name = serializers.CharField(source="company.legal_name")
    as_of = serializers.DateField()
    stages = serializers.ListField(child=serializers.CharField())
    attestations = serializers.SerializerMethodField()
    covered = serializers.DictField(child=CellSourceSerializer(many=True))
    declared = serializers.DictField(child=CellSourceSerializer(many=True))
    expected = ExpectedElementSerializer(many=True)
    satisfied = serializers.ListField(child=serializers.CharField())
    gaps = GapSerializer(many=True)
    closing_standards = serializers.SerializerMethodField()
    unclosable = serializers.ListField(child=serializers.CharField())
    grade = GradeSerializer()
    not_counted = NotCountedSerializer(
        many=True,
        help_text="Attestations to standards not in force on `as_of` (ended, not yet "
        "applying): shown with the reason, counted nowhere",
    )

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_attestations(self, obj):
        return [a.pk for a in obj.attestations]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_closing_standards(self, obj):
        return [s.code for s in obj.closing_standards]


class CoverageQuerySerializer(serializers.Serializer):
    as_of = serializers.DateField(required=False, help_text="Coverage on this date (default today)")
    mineral = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Mineral.objects.all(),
        required=False,
        help_text="Only attestations in scope for this mineral (naming it, or no mineral)",
    )
    stage = serializers.ChoiceField(
        choices=STAGE_CODES,
        required=False,
        help_text="Only attestations in scope for this stage (naming a facility at it, or none)",
    )


class SectorQuerySerializer(serializers.Serializer):
    cells = serializers.ListField(child=serializers.CharField(), min_length=1)
    stage = serializers.ChoiceField(
        choices=STAGE_CODES,
        required=False,
    )
    mineral = serializers.SlugRelatedField(
        slug_field="code", queryset=Mineral.objects.all(), required=False
    )
    country = CountryField(required=False)
    as_of = serializers.DateField(required=False)
    independent = serializers.BooleanField(
        default=True, help_text="Count only third-party audits and certifications (default)"
    )
    page = serializers.IntegerField(
        default=1, min_value=1, help_text="Page of the companies lacking coverage"
    )
    page_size = serializers.IntegerField(default=50, min_value=1, max_value=200)


class CompanyLackSerializer(serializers.Serializer):
    company = serializers.IntegerField(source="company.pk")
    company_name = serializers.CharField(source="company.legal_name")
    country = serializers.CharField(source="company.country.code")
    missing = serializers.ListField(child=serializers.CharField())


class CellShareSerializer(serializers.Serializer):
    cell = serializers.CharField(help_text='A cell code, or "any" for the cells together')
    lacking = serializers.IntegerField()
    share = serializers.FloatField(
        help_text="Of `company_count`, or of `snapshot.company_count` when `basis` is snapshot"
    )
    visible_lacking = serializers.IntegerField(
        help_text="Companies lacking, from the attestations you may see, on `as_of`"
    )
    basis = serializers.ChoiceField(
        choices=["visible", "snapshot", "exact"],
        help_text="visible: only what you may see; snapshot: every attestation, from the "
        "snapshot, noised; exact: every attestation, live (staff)",
    )
    noised = serializers.BooleanField()
    suppressed = serializers.BooleanField(
        help_text="A figure counting private attestations was withheld (too near none or all)"
    )


class SectorSnapshotInfoSerializer(serializers.Serializer):
    taken_on = serializers.DateField()
    company_count = serializers.IntegerField(help_text="The group's size in the snapshot")
    epsilon = serializers.FloatField(help_text="Noise parameter of each figure")
    rule = serializers.CharField()


class SectorGapsSerializer(serializers.Serializer):
    cells = serializers.ListField(child=serializers.CharField())
    as_of = serializers.DateField()
    independent_only = serializers.BooleanField()
    company_count = serializers.IntegerField()
    lacking = CompanyLackSerializer(many=True)
    shares = CellShareSerializer(many=True)
    share_lacking_any = serializers.FloatField()
    private_data_counted = serializers.BooleanField()
    floor = serializers.IntegerField()
    lacking_any = CellShareSerializer()
    private_data = serializers.ChoiceField(
        choices=privacy.STATUSES,
        help_text="How figures counting private attestations were given (registry.privacy)",
    )
    private_data_note = serializers.CharField()
    snapshot = SectorSnapshotInfoSerializer(
        allow_null=True, help_text="Where figures counting private attestations come from"
    )
    lacking_count = serializers.IntegerField(
        help_text="Companies lacking any of the cells, from what you may see; `lacking` is "
        "one page of them, by legal name then id"
    )
    grades = serializers.DictField(
        child=serializers.IntegerField(),
        allow_null=True,
        help_text="With a stage or mineral: how many of the group's companies hold each grade "
        "(platinum, gold, silver, basic, none), graded as their scorecards grade them for "
        "that mineral and stage from what you may see; null without a stage or mineral",
    )
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    next = serializers.SerializerMethodField(help_text="The next page of `lacking`, or null")
    previous = serializers.SerializerMethodField(
        help_text="The previous page of `lacking`, or null"
    )
    computed_at = serializers.DateTimeField(
        allow_null=True,
        help_text="As of when the figures were computed, when they come from a kept result "
        "(large groups); null: computed for this request",
    )
    stale = serializers.BooleanField(
        help_text="The figures were computed before the registry last changed; a refresh "
        "is under way"
    )

    def _page_link(self, obj, number: int) -> str | None:
        request = self.context.get("request")
        if request is None:
            return None
        return replace_query_param(request.build_absolute_uri(), "page", number)

    def get_next(self, obj) -> str | None:
        if obj.page * obj.page_size >= obj.lacking_count:
            return None
        return self._page_link(obj, obj.page + 1)

    def get_previous(self, obj) -> str | None:
        return self._page_link(obj, obj.page - 1) if obj.page > 1 else None
