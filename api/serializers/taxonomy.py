from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.fields import CodeListField
from taxonomy.models import Cell, Dimension, Standard, StandardLink


class CellSerializer(serializers.ModelSerializer):
    dimension = serializers.CharField(source="dimension.code")

    class Meta:
        model = Cell
        fields = ["code", "dimension", "group", "group_label", "label", "description"]


class DimensionSerializer(serializers.ModelSerializer):
    cells = CellSerializer(many=True)

    class Meta:
        model = Dimension
        fields = ["code", "label", "question", "cells"]


class StandardBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Standard
        fields = ["code", "short_name", "name", "kind", "binding", "independently_verified"]


class CriterionSerializer(serializers.Serializer):
    value = serializers.BooleanField()
    basis = serializers.CharField()


def _criteria(standard: Standard) -> dict:
    return {
        name: {"value": getattr(standard, name), "basis": getattr(standard, f"{name}_basis")}
        for name in Standard.CRITERIA
    }


class StandardListSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:standard-detail", lookup_field="code")
    source_url = serializers.URLField(source="url")
    minerals = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    sponsor = serializers.SerializerMethodField()
    universal = serializers.SerializerMethodField()
    cell_count = serializers.SerializerMethodField()
    criteria_met = serializers.IntegerField()

    class Meta:
        model = Standard
        fields = [
            "url",
            "code",
            "short_name",
            "name",
            "kind",
            "jurisdiction",
            "year",
            "binding",
            "source_url",
            "sponsor",
            "universal",
            "minerals",
            "cahra",
            "cell_count",
            "criteria_met",
        ]

    # These read the prefetched `standard_cells`: no query per row.
    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_sponsor(self, obj) -> list[str]:
        return [
            sc.cell.code for sc in obj.standard_cells.all() if sc.cell.code.startswith("sponsor.")
        ]

    def get_universal(self, obj) -> bool:
        return any(sc.cell.code == "scope.universal" for sc in obj.standard_cells.all())

    def get_cell_count(self, obj) -> int:
        return len(obj.standard_cells.all())


class StandardCellSerializer(serializers.Serializer):
    code = serializers.CharField(source="cell.code")
    label = serializers.CharField(source="cell.label")
    dimension = serializers.CharField(source="cell.dimension.code")
    clause = serializers.CharField()
    basis = serializers.CharField()


class LinkSerializer(serializers.Serializer):
    standard = serializers.CharField()
    kind = serializers.CharField()
    note = serializers.CharField()


class LinksSerializer(serializers.Serializer):
    incorporates = LinkSerializer(many=True)
    references = LinkSerializer(many=True)
    incorporated_by = LinkSerializer(many=True)
    referenced_by = LinkSerializer(many=True)


class ScopeSerializer(serializers.Serializer):
    universal = serializers.BooleanField()
    minerals = serializers.ListField(child=serializers.CharField())
    extraction_methods = serializers.ListField(child=serializers.CharField())
    countries = serializers.ListField(child=serializers.CharField())
    cahra = serializers.BooleanField()
    note = serializers.CharField()


class InheritedCellSerializer(serializers.Serializer):
    code = serializers.CharField()
    via = serializers.ListField(child=serializers.CharField())


class StandardDetailSerializer(StandardListSerializer):
    scope = serializers.SerializerMethodField()
    criteria = serializers.SerializerMethodField()
    cells = serializers.SerializerMethodField()
    inherited_cells = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()
    sources = serializers.ListField(child=serializers.CharField())

    class Meta(StandardListSerializer.Meta):
        fields = StandardListSerializer.Meta.fields + [
            "summary",
            "scope",
            "criteria",
            "cells",
            "inherited_cells",
            "links",
            "sources",
        ]

    @extend_schema_field(ScopeSerializer)
    def get_scope(self, obj):
        return {
            "universal": self.get_universal(obj),
            "minerals": [m.code for m in obj.minerals.all()],
            "extraction_methods": obj.extraction_methods,
            "countries": [c.code for c in obj.countries],
            "cahra": obj.cahra,
            "note": obj.scope_note,
        }

    @extend_schema_field(serializers.DictField(child=CriterionSerializer()))
    def get_criteria(self, obj):
        return _criteria(obj)

    @extend_schema_field(StandardCellSerializer(many=True))
    def get_cells(self, obj):
        return StandardCellSerializer(obj.standard_cells.all(), many=True).data

    @extend_schema_field(InheritedCellSerializer(many=True))
    def get_inherited_cells(self, obj):
        landscape = self.context["landscape"]
        inherited = landscape.inherited.get(obj.id, {})
        return [
            {"code": cell.code, "via": [landscape.standards[i].code for i in inherited[cell.code]]}
            for cell in landscape.cells
            if cell.code in inherited
        ]

    @extend_schema_field(LinksSerializer)
    def get_links(self, obj):
        def row(link: StandardLink, other: Standard) -> dict:
            return {"standard": other.code, "kind": link.kind, "note": link.note}

        out = {"incorporates": [], "references": [], "incorporated_by": [], "referenced_by": []}
        for link in obj.links_out.all():
            out[link.kind].append(row(link, link.target))
        for link in obj.links_in.all():
            key = "incorporated_by" if link.kind == "incorporates" else "referenced_by"
            out[key].append(row(link, link.source))
        return out


# --- Matrix ---------------------------------------------------------------


class MatrixCellSerializer(serializers.Serializer):
    code = serializers.CharField(source="cell.code")
    label = serializers.CharField(source="cell.label")
    covered = serializers.BooleanField()
    clause = serializers.CharField()
    basis = serializers.CharField()
    inherited_from = serializers.SerializerMethodField()

    def get_inherited_from(self, obj) -> list[str]:
        return [standard.code for standard in obj.inherited_from]


class MatrixGroupSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
    cells = MatrixCellSerializer(many=True)


class MatrixDimensionSerializer(serializers.Serializer):
    code = serializers.CharField(source="dimension.code")
    label = serializers.CharField(source="dimension.label")
    question = serializers.CharField(source="dimension.question")
    covered_count = serializers.IntegerField()
    cell_count = serializers.IntegerField()
    groups = MatrixGroupSerializer(many=True)


# --- Questions across standards -------------------------------------------


class InheritedParamSerializer(serializers.Serializer):
    inherited = serializers.BooleanField(
        default=True, help_text="Count what a standard incorporates (default true)."
    )


class CompareQuerySerializer(InheritedParamSerializer):
    standards = CodeListField(
        min_length=2, help_text="Two or more standard codes, comma-separated."
    )


class ComparisonRowSerializer(serializers.Serializer):
    cell = serializers.CharField(source="cell.code")
    label = serializers.CharField(source="cell.label")
    dimension = serializers.CharField(source="cell.dimension.code")
    covered_by = serializers.ListField(child=serializers.CharField())
    inherited_by = serializers.ListField(child=serializers.CharField())


class OverlapSerializer(serializers.Serializer):
    a = serializers.CharField(source="a.code")
    b = serializers.CharField(source="b.code")
    common = serializers.ListField(child=serializers.CharField())
    only_a = serializers.ListField(child=serializers.CharField())
    only_b = serializers.ListField(child=serializers.CharField())
    jaccard = serializers.FloatField()


class ComparisonSerializer(serializers.Serializer):
    standards = StandardBriefSerializer(many=True)
    rows = ComparisonRowSerializer(many=True)
    overlaps = OverlapSerializer(many=True)


class CoverageQuerySerializer(InheritedParamSerializer):
    cells = CodeListField(min_length=1, help_text="Cell codes, comma-separated.")
    match = serializers.ChoiceField(choices=["all", "any"], default="all")


class CoverageMatchSerializer(serializers.Serializer):
    standard = StandardBriefSerializer()
    matched = serializers.ListField(child=serializers.CharField())
    missing = serializers.ListField(child=serializers.CharField())


class CoverageResultSerializer(serializers.Serializer):
    cells = serializers.ListField(child=serializers.CharField())
    match = serializers.CharField()
    inherited = serializers.BooleanField()
    results = CoverageMatchSerializer(many=True)


class SetCoverQuerySerializer(InheritedParamSerializer):
    cells = CodeListField(min_length=1, help_text="Cell codes to cover, comma-separated.")
    candidates = CodeListField(
        required=False, help_text="Limit the search to these standard codes (default: all)."
    )


class SetCoverSerializer(serializers.Serializer):
    required = serializers.ListField(child=serializers.CharField())
    standards = StandardBriefSerializer(many=True)
    contributions = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField())
    )
    uncoverable = serializers.ListField(child=serializers.CharField())
    rule = serializers.CharField()
