from rest_framework import serializers

from api.fields import CountryField
from registry.models import (
    MinedSource,
    ProductionStatistic,
    Rule,
    SourceLink,
    SupplyRelationship,
)
from registry.services import relationships_save
from taxonomy.matrix import SUPPLYING_STAGES
from taxonomy.models import Mineral

from .registry import MineralField, StageField


class SupplyRelationshipSerializer(serializers.ModelSerializer):
    mineral = MineralField()
    stage = StageField()
    supplier_name = serializers.CharField(source="supplier.legal_name", read_only=True)
    buyer_name = serializers.CharField(source="buyer.legal_name", read_only=True)

    class Meta:
        model = SupplyRelationship
        fields = [
            "id",
            "supplier",
            "supplier_name",
            "supplier_facility",
            "buyer",
            "buyer_name",
            "buyer_facility",
            "material",
            "mineral",
            "stage",
            "period_start",
            "period_end",
            "volume_t",
            "share_pct",
            "note",
            "demo",
        ]
        extra_kwargs = {
            "volume_t": {"min_value": 0},
            "share_pct": {"min_value": 0, "max_value": 100},
        }

    def validate(self, attrs):
        if self.instance is None and attrs.get("supplier") == attrs.get("buyer"):
            raise serializers.ValidationError({"supplier": "A company cannot supply itself."})
        return attrs

    def create(self, validated_data):
        return relationships_save([validated_data])[0]

    def update(self, instance, validated_data):
        merged = {
            f: getattr(instance, f)
            for f in (
                "supplier",
                "buyer",
                "supplier_facility",
                "buyer_facility",
                "material",
                "mineral",
                "stage",
                "period_start",
                "period_end",
                "volume_t",
                "share_pct",
                "note",
            )
        }
        merged.update(validated_data)
        return relationships_save([merged], instance=instance)[0]


class BulkRelationshipSerializer(serializers.ListSerializer):
    """A list of relationships is saved by one service call: all of them or none."""

    def create(self, validated_data):
        return relationships_save(validated_data)


SupplyRelationshipSerializer.Meta.list_serializer_class = BulkRelationshipSerializer


class SourceLinkSerializer(serializers.ModelSerializer):
    mineral = MineralField()
    mine_name = serializers.CharField(source="mine.name", read_only=True)
    facility_name = serializers.CharField(source="facility.name", read_only=True)

    class Meta:
        model = SourceLink
        fields = [
            "id",
            "mine",
            "mine_name",
            "facility",
            "facility_name",
            "mineral",
            "period_start",
            "period_end",
            "volume_t",
        ]
        extra_kwargs = {"volume_t": {"min_value": 0}}

    def validate(self, attrs):
        mine = attrs.get("mine", getattr(self.instance, "mine", None))
        mineral = attrs.get("mineral", getattr(self.instance, "mineral", None))
        if mine and mineral and not mine.minerals.filter(pk=mineral.pk).exists():
            raise serializers.ValidationError(
                {"mineral": f"{mine.name} is not recorded as producing {mineral.name.lower()}."}
            )
        start, end = attrs.get("period_start"), attrs.get("period_end")
        if start and end and end < start:
            raise serializers.ValidationError({"period_end": "The period ends before it starts."})
        return attrs


class ProductionStatisticSerializer(serializers.ModelSerializer):
    mineral = serializers.CharField(source="mineral.code")
    country = CountryField(allow_blank=True)

    class Meta:
        model = ProductionStatistic
        fields = [
            "id",
            "mineral",
            "product",
            "stage",
            "kind",
            "country",
            "label",
            "year",
            "estimated",
            "quantity",
            "unit",
            "source",
            "note",
        ]


class RuleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Rule
        fields = ["code", "name", "kind", "params", "source", "notes"]


# --- Results -------------------------------------------------------------------


class BandSerializer(serializers.Serializer):
    rule = serializers.CharField()
    label = serializers.CharField()
    moderate_from = serializers.FloatField()
    high_above = serializers.FloatField()
    source = serializers.CharField()


class ShareSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    amount = serializers.FloatField()
    share_pct = serializers.FloatField()


class ConcentrationSerializer(serializers.Serializer):
    hhi = serializers.FloatField()
    band = BandSerializer()
    total = serializers.FloatField()
    shares = ShareSerializer(many=True)
    note = serializers.CharField()


class ConcentrationQuerySerializer(serializers.Serializer):
    mineral = serializers.SlugRelatedField(slug_field="code", queryset=Mineral.objects.all())
    stage = serializers.ChoiceField(
        choices=SUPPLYING_STAGES,
        default="mining",
    )
    source = serializers.ChoiceField(choices=["production", "flows"], default="production")
    by = serializers.ChoiceField(choices=["country", "company"], default="country")
    attribution = serializers.ChoiceField(choices=["operator", "equity"], default="operator")
    year = serializers.IntegerField(default=2024, min_value=1900, max_value=2100)
    product = serializers.CharField(required=False)
    unlisted = serializers.ChoiceField(choices=["other", "excluded"], default="other")
    thresholds = serializers.SlugRelatedField(
        slug_field="code", queryset=Rule.objects.filter(kind="hhi_bands"), required=False
    )
    as_of = serializers.DateField(required=False)


class CycleSerializer(serializers.Serializer):
    path = serializers.ListField(child=serializers.CharField())
    names = serializers.ListField(child=serializers.CharField())


class FlowSerializer(serializers.Serializer):
    kind = serializers.CharField()
    id = serializers.CharField()
    supplier = serializers.CharField()
    buyer = serializers.CharField()
    stage = serializers.CharField()
    country = serializers.CharField()
    share_pct = serializers.FloatField()
    hypothetical = serializers.BooleanField()


class RuleResultSerializer(serializers.Serializer):
    rule = serializers.CharField()
    name = serializers.CharField()
    status = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    threshold = serializers.FloatField(allow_null=True)
    detail = serializers.CharField()
    source = serializers.CharField()
    flows = FlowSerializer(many=True)


class TraceSerializer(serializers.Serializer):
    buyer = serializers.CharField()
    buyer_name = serializers.CharField()
    mineral = serializers.CharField()
    mine_country = ConcentrationSerializer()
    processing_country = ConcentrationSerializer()
    processing_company = ConcentrationSerializer()
    mining_company_operator = ConcentrationSerializer()
    mining_company_equity = ConcentrationSerializer()
    recycled_pct = serializers.FloatField()
    cahra_pct = serializers.FloatField()
    artisanal_pct = serializers.FloatField()
    untraced_pct = serializers.FloatField()
    lacking_coverage_pct = serializers.DictField(child=serializers.FloatField())
    cycles = CycleSerializer(many=True)
    tiers = serializers.IntegerField()
    edge_count = serializers.IntegerField()
    anomalies = serializers.ListField(child=serializers.CharField())
    flows = serializers.SerializerMethodField()

    def get_flows(self, obj) -> list[dict]:
        limit = self.context.get("flow_limit", 200)
        return FlowSerializer(obj.flows[:limit], many=True).data


class SupplyChainSerializer(serializers.Serializer):
    trace = TraceSerializer()
    rules = RuleResultSerializer(many=True)
    as_of = serializers.DateField(allow_null=True)
    checked_on = serializers.DateField()
    cells = serializers.ListField(child=serializers.CharField())
    thresholds = serializers.CharField()


class TraceConcentrationSerializer(ConcentrationSerializer):
    shares = ShareSerializer(many=True, help_text="The largest shares (at most 100)")
    share_count = serializers.IntegerField(help_text="Shares in all; the HHI counts every one")


class TracePageRuleSerializer(RuleResultSerializer):
    flows = FlowSerializer(many=True, help_text="The rule's largest flows (at most 20)")
    flow_count = serializers.IntegerField(help_text="Flows behind the result in all")


class TracePageSerializer(TraceSerializer):
    mine_country = TraceConcentrationSerializer()
    processing_country = TraceConcentrationSerializer()
    processing_company = TraceConcentrationSerializer()
    mining_company_operator = TraceConcentrationSerializer()
    mining_company_equity = TraceConcentrationSerializer()
    flows = FlowSerializer(many=True, help_text="One page of the flows, largest share first")
    flow_count = serializers.IntegerField(help_text="Flows in all")


class SupplyChainPageSerializer(SupplyChainSerializer):
    """The trace's summary and one page of its flows (documentation of the answer)."""

    trace = TracePageSerializer()
    rules = TracePageRuleSerializer(many=True)
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    next = serializers.URLField(allow_null=True, help_text="The next page of flows, or null")
    previous = serializers.URLField(allow_null=True, help_text="The previous page, or null")
    computed_at = serializers.DateTimeField(
        allow_null=True,
        help_text="As of when the trace was computed, when it comes from a kept result (a "
        "large graph); null: computed for this request",
    )
    stale = serializers.BooleanField(
        help_text="Computed before the registry last changed; a refresh is under way"
    )


class SupplyChainQuerySerializer(serializers.Serializer):
    mineral = serializers.SlugRelatedField(slug_field="code", queryset=Mineral.objects.all())
    page = serializers.IntegerField(default=1, min_value=1, help_text="Page of the flows")
    page_size = serializers.IntegerField(default=50, min_value=1, max_value=200)
    as_of = serializers.DateField(required=False, help_text="Only flows whose period covers it")
    checked_on = serializers.DateField(
        required=False, help_text="Date the rules are checked for (default: as_of or today)"
    )
    cells = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    thresholds = serializers.SlugRelatedField(
        slug_field="code", queryset=Rule.objects.filter(kind="hhi_bands"), required=False
    )


class NewCompanySerializer(serializers.Serializer):
    key = serializers.CharField()
    legal_name = serializers.CharField()
    country = CountryField()


class ScenarioEdgeSerializer(serializers.Serializer):
    supplier = serializers.CharField(help_text="Company id or a new company's key")
    buyer = serializers.CharField(help_text="Company id or a new company's key")
    stage = serializers.ChoiceField(choices=SUPPLYING_STAGES)
    material = serializers.CharField(required=False, default="refined_chemical")
    volume_t = serializers.FloatField(required=False, allow_null=True, min_value=0)
    share_pct = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=100)
    country = CountryField(required=False)


class ScenarioSourceSerializer(serializers.Serializer):
    mine = serializers.PrimaryKeyRelatedField(queryset=MinedSource.objects.all())
    company = serializers.CharField(help_text="Company id or a new company's key")
    volume_t = serializers.FloatField(min_value=0)


class WhatIfRequestSerializer(serializers.Serializer):
    mineral = serializers.SlugRelatedField(slug_field="code", queryset=Mineral.objects.all())
    new_companies = NewCompanySerializer(many=True, required=False, default=list)
    add = ScenarioEdgeSerializer(many=True, required=False, default=list)
    remove = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    add_sources = ScenarioSourceSerializer(many=True, required=False, default=list)
    as_of = serializers.DateField(required=False)
    checked_on = serializers.DateField(required=False)
    cells = serializers.ListField(child=serializers.CharField(), required=False, default=list)


class WhatIfSerializer(serializers.Serializer):
    baseline = SupplyChainSerializer()
    scenario = SupplyChainSerializer()
    changes = serializers.ListField(child=serializers.CharField())
