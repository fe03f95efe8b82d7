"""Query and answer shapes of the concentration series and the mine-to-refinery flows."""

from rest_framework import serializers

from registry.concentration.published import DENOMINATORS, FRINGES
from registry.models import ProductionStatistic, Rule

from .registry import MineralField
from .supply import BandSerializer


class SeriesQuerySerializer(serializers.Serializer):
    mineral = MineralField()
    stage = serializers.ChoiceField(choices=ProductionStatistic.Stage.choices, required=False)
    product = serializers.CharField(required=False, max_length=60)
    denominator = serializers.ChoiceField(choices=DENOMINATORS, default="world")
    fringe = serializers.ChoiceField(choices=FRINGES, default="one_unit")
    thresholds = serializers.SlugRelatedField(
        slug_field="code", queryset=Rule.objects.filter(kind="hhi_bands"), required=False
    )


class SeriesPointSerializer(serializers.Serializer):
    year = serializers.IntegerField()
    hhi = serializers.FloatField(allow_null=True)
    hhi_low = serializers.FloatField(allow_null=True)
    hhi_high = serializers.FloatField(allow_null=True)
    band = BandSerializer()
    total = serializers.FloatField()
    coverage_pct = serializers.FloatField(allow_null=True)
    low_coverage = serializers.BooleanField()
    note = serializers.CharField()


class SeriesLineSerializer(serializers.Serializer):
    stage = serializers.CharField()
    product = serializers.CharField()
    unit = serializers.CharField()
    source = serializers.CharField()
    points = SeriesPointSerializer(many=True)


class SeriesSerializer(serializers.Serializer):
    mineral = serializers.CharField()
    convention = serializers.DictField()
    series = SeriesLineSerializer(many=True)


class MineToRefineryQuerySerializer(serializers.Serializer):
    mineral = MineralField()
    as_of = serializers.DateField(required=False)


class ChainFlowSerializer(serializers.Serializer):
    origin = serializers.CharField()
    origin_label = serializers.CharField()
    destination = serializers.CharField()
    destination_label = serializers.CharField()
    tonnes = serializers.FloatField()
    share_pct = serializers.FloatField()
    demo = serializers.BooleanField()


class MineToRefinerySerializer(serializers.Serializer):
    mineral = serializers.CharField()
    flows = ChainFlowSerializer(many=True)
    total = serializers.FloatField()
    recycled = ChainFlowSerializer(many=True)
    recycled_total = serializers.FloatField()
    demo = serializers.BooleanField()
    label = serializers.CharField(allow_blank=True)
    as_of = serializers.DateField(allow_null=True)
    note = serializers.CharField()
    computed_at = serializers.DateTimeField(
        allow_null=True, help_text="When the kept result was computed; null when computed now"
    )
    stale = serializers.BooleanField(help_text="True while a newer result is being computed")
