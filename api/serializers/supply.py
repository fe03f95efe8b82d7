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
            "company",
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
        fields = [
            "code",
            "name",
            "kind",
            "params",
            "source",
            "notes",
            "in_force_from",
            "in_force_until",
        ]


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
    hhi = serializers.FloatField(
        allow_null=True, help_text="None when only bounds can be given (hhi_low, hhi_high)"
    )
    band = BandSerializer()
    total = serializers.FloatField()
    shares = ShareSerializer(many=True)
    note = serializers.CharField()


class ProductionShareSerializer(ShareSerializer):
    country = serializers.CharField(help_text="A company's country (site or head office)")


class ConventionSerializer(serializers.Serializer):
    by = serializers.CharField()
    denominator = serializers.CharField(help_text="world | listed (flows: recorded)")
    fringe = serializers.CharField(help_text="one_unit | excluded | bounds")
    company_country = serializers.CharField(required=False, help_text="site | head_office")
    attribution = serializers.CharField(required=False, help_text="flows: operator | equity")


class ConcentrationAnswerSerializer(ConcentrationSerializer):
    """A concentration with its convention, coverage and source stated."""

    shares = ProductionShareSerializer(many=True)
    convention = ConventionSerializer()
    coverage_pct = serializers.FloatField(
        allow_null=True,
        help_text="Share of the world total the listed producers cover (None: no world total)",
    )
    low_coverage = serializers.BooleanField(
        help_text="Coverage below CONCENTRATION_MIN_COVERAGE_PCT (or unknown): bounds only"
    )
    hhi_low = serializers.FloatField(
        allow_null=True, help_text="The unlisted producers spread into vanishingly small ones"
    )
    hhi_high = serializers.FloatField(
        allow_null=True, help_text="The unlisted producers counted as one producer"
    )
    source = serializers.CharField()
    unit = serializers.CharField()


# Parameters that mean something for one source only; given for the other: 400.
ONLY_FOR = {
    "production": ("year", "product", "denominator", "fringe", "company_country", "unlisted"),
    "flows": ("attribution", "as_of"),
}


class ConcentrationQuerySerializer(serializers.Serializer):
    mineral = serializers.SlugRelatedField(slug_field="code", queryset=Mineral.objects.all())
    stage = serializers.ChoiceField(
        choices=SUPPLYING_STAGES,
        default="mining",
    )
    source = serializers.ChoiceField(choices=["production", "flows"], default="production")
    by = serializers.ChoiceField(choices=["country", "company"], default="country")
    attribution = serializers.ChoiceField(
        choices=["operator", "equity"],
        default="operator",
        help_text="Flows only, mining by company: the mine's operator or its owners' equity "
        "shares (published production is taken as published, without joint-venture shares)",
    )
    year = serializers.IntegerField(default=2024, min_value=1900, max_value=2100)
    product = serializers.CharField(required=False)
    denominator = serializers.ChoiceField(
        choices=["world", "listed"],
        default="world",
        help_text="Production only: shares of the world total, or of the listed producers",
    )
    fringe = serializers.ChoiceField(
        choices=["one_unit", "excluded", "bounds"],
        required=False,
        help_text="Production only: the unlisted producers as one producer (default with "
        "denominator=world), left out (the default and only choice with denominator=listed), "
        "or bounds (hhi_low, hhi_high)",
    )
    company_country = serializers.ChoiceField(
        choices=["site", "head_office"],
        required=False,
        help_text="Production only, from company rows: a company's country is its site's or "
        "its head office's (by=country sums the company rows by it)",
    )
    unlisted = serializers.ChoiceField(
        choices=["other", "excluded"],
        required=False,
        help_text="Former name: other = denominator=world&fringe=one_unit, excluded = "
        "denominator=listed&fringe=excluded",
    )
    thresholds = serializers.SlugRelatedField(
        slug_field="code", queryset=Rule.objects.filter(kind="hhi_bands"), required=False
    )
    as_of = serializers.DateField(required=False)

    def validate(self, attrs):
        given = set(self.initial_data)
        source = attrs["source"]
        for other, names in ONLY_FOR.items():
            if other == source:
                continue
            for name in names:
                if name in given:
                    raise serializers.ValidationError(
                        {name: f"{name} does not apply to source={source}."}
                    )
        if "unlisted" in given and given & {"denominator", "fringe"}:
            raise serializers.ValidationError(
                {"unlisted": "unlisted is the former name of denominator and fringe: give one."}
            )
        if (
            source == "flows"
            and "attribution" in given
            and (attrs["stage"] != "mining" or attrs["by"] != "company")
        ):
            raise serializers.ValidationError(
                {"attribution": "attribution applies to mining flows by company only."}
            )
        if "fringe" not in attrs:
            attrs["fringe"] = "excluded" if attrs["denominator"] == "listed" else "one_unit"
        return attrs


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
    status = serializers.CharField(
        help_text="pass | fail | info | not_applicable | historical (the rule's force had "
        "ended on the date checked: shown for reference) | not_in_force (it had not begun)"
    )
    value = serializers.FloatField(allow_null=True)
    threshold = serializers.FloatField(allow_null=True)
    detail = serializers.CharField()
    source = serializers.CharField()
    flows = FlowSerializer(many=True)
    in_force_from = serializers.DateField(allow_null=True, required=False)
    in_force_until = serializers.DateField(allow_null=True, required=False)


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


class FeedSerializer(serializers.Serializer):
    """A dual-feedstock plant's feed capacities (seed 000)."""

    virgin_t = serializers.FloatField(min_value=0, help_text="Virgin feed capacity, tonnes")
    recycled_t = serializers.FloatField(min_value=0, help_text="Recycled feed capacity, tonnes")

    def validate(self, attrs):
        if attrs["virgin_t"] + attrs["recycled_t"] <= 0:
            raise serializers.ValidationError({"virgin_t": "Give the plant some feed."})
        return attrs


class ChainPlantSerializer(FeedSerializer):
    key = serializers.CharField(help_text="Its key, to refer to it elsewhere in the scenario")
    legal_name = serializers.CharField()
    country = CountryField()
    supplies = serializers.CharField(help_text="The company it supplies: an id or a new key")
    stage = serializers.ChoiceField(choices=SUPPLYING_STAGES, default="refining")
    volume_t = serializers.FloatField(required=False, allow_null=True, min_value=0)
    share_pct = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=100)
    virgin_country = CountryField(required=False, help_text="Where the virgin feed is mined")
    recycled_country = CountryField(required=False, help_text="Where the recycled feed is")

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if (attrs.get("volume_t") is None) == (attrs.get("share_pct") is None):
            raise serializers.ValidationError(
                {"volume_t": "Give the plant's supply volume_t or share_pct."}
            )
        return attrs


class WhatIfRequestSerializer(serializers.Serializer):
    mineral = serializers.SlugRelatedField(slug_field="code", queryset=Mineral.objects.all())
    new_companies = NewCompanySerializer(many=True, required=False, default=list)
    add = ScenarioEdgeSerializer(many=True, required=False, default=list)
    remove = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    add_sources = ScenarioSourceSerializer(many=True, required=False, default=list)
    plants = ChainPlantSerializer(
        many=True,
        required=False,
        default=list,
        help_text="Regional dual-feedstock plants added to the chain",
    )
    as_of = serializers.DateField(required=False)
    checked_on = serializers.DateField(required=False)
    cells = serializers.ListField(child=serializers.CharField(), required=False, default=list)


class BeforeAfterSerializer(serializers.Serializer):
    before = serializers.FloatField(allow_null=True)
    after = serializers.FloatField(allow_null=True)


class StatusPairSerializer(serializers.Serializer):
    before = serializers.CharField(allow_null=True)
    after = serializers.CharField(allow_null=True)


class RuleComparisonSerializer(serializers.Serializer):
    rule = serializers.CharField()
    name = serializers.CharField()
    status = StatusPairSerializer()
    value = BeforeAfterSerializer()


class WhatIfComparisonSerializer(serializers.Serializer):
    refining_hhi_by_country = BeforeAfterSerializer()
    refining_hhi_by_company = BeforeAfterSerializer()
    recycled_pct = BeforeAfterSerializer()
    untraced_pct = BeforeAfterSerializer()
    rules = RuleComparisonSerializer(many=True)


class WhatIfSerializer(serializers.Serializer):
    baseline = SupplyChainSerializer()
    scenario = SupplyChainSerializer()
    changes = serializers.ListField(child=serializers.CharField())
    comparison = WhatIfComparisonSerializer()


class RefiningPlantSerializer(FeedSerializer):
    name = serializers.CharField()
    country = CountryField()


class RefiningWhatIfRequestSerializer(serializers.Serializer):
    mineral = serializers.SlugRelatedField(slug_field="code", queryset=Mineral.objects.all())
    year = serializers.IntegerField(min_value=1900, max_value=2100)
    product = serializers.CharField(required=False)
    plants = RefiningPlantSerializer(many=True, allow_empty=False)
    denominator = serializers.ChoiceField(choices=["world", "listed"], default="world")
    fringe = serializers.ChoiceField(choices=["one_unit", "excluded", "bounds"], default="one_unit")
    thresholds = serializers.SlugRelatedField(
        slug_field="code", queryset=Rule.objects.filter(kind="hhi_bands"), required=False
    )


class ConcentrationPairSerializer(serializers.Serializer):
    before = ConcentrationSerializer()
    after = ConcentrationSerializer()


class LargestCountrySerializer(serializers.Serializer):
    country = serializers.CharField()
    share_pct = serializers.FloatField()


class LargestPairSerializer(serializers.Serializer):
    before = LargestCountrySerializer()
    after = LargestCountrySerializer()
    cap_pct = serializers.FloatField(required=False)
    rule = serializers.CharField(required=False)
    note = serializers.CharField(required=False)


class RecycledShareSerializer(serializers.Serializer):
    before_pct = serializers.FloatField(allow_null=True)
    after_pct_at_least = serializers.FloatField()
    note = serializers.CharField()


class RefiningWhatIfSerializer(serializers.Serializer):
    mineral = serializers.CharField()
    year = serializers.IntegerField()
    product = serializers.CharField()
    unit = serializers.CharField()
    convention = serializers.DictField()
    by_country = ConcentrationPairSerializer()
    by_company = ConcentrationPairSerializer(allow_null=True)
    by_company_note = serializers.CharField(allow_blank=True)
    world_t = BeforeAfterSerializer()
    recycled = RecycledShareSerializer()
    largest_country = LargestPairSerializer()
    changes = serializers.ListField(child=serializers.CharField())
    note = serializers.CharField()
