from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.fields import CodeListField
from taxonomy.models import STATUS_LABELS, Cell, Dimension, Standard, StandardLink
from taxonomy.selectors import version_valid_until


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
    binding = serializers.BooleanField(
        read_only=True, help_text="Binding when in force: see `status` for the date asked"
    )
    status = serializers.SerializerMethodField(
        help_text="Status on the date asked (`on`, else `in_force_on`, else today): proposed, "
        "adopted, in_force, suspended, ended, repealed, or not_yet (before its first record)"
    )

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
            "status",
        ]

    def get_status(self, obj) -> str:
        return getattr(obj, "status_on", "")  # annotated by the queryset: no query per row

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


class StandardStatusChangeSerializer(serializers.Serializer):
    date = serializers.DateField(source="on")
    status = serializers.CharField()
    status_label = serializers.SerializerMethodField()
    note = serializers.CharField()
    source = serializers.CharField()
    uncertain = serializers.CharField()

    def get_status_label(self, obj) -> str:
        return STATUS_LABELS[obj.status]


class StandardVersionSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
    valid_from = serializers.DateField(allow_null=True)
    valid_until = serializers.SerializerMethodField()
    current = serializers.BooleanField(help_text="The version the standard's cells describe")
    note = serializers.CharField()
    source = serializers.CharField()
    uncertain = serializers.CharField()

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_valid_until(self, obj):
        return version_valid_until(self.context.get("versions", [obj]), obj)


class StandardDetailSerializer(StandardListSerializer):
    status_history = serializers.SerializerMethodField()
    versions = serializers.SerializerMethodField()
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
            "status_history",
            "versions",
        ]

    @extend_schema_field(StandardStatusChangeSerializer(many=True))
    def get_status_history(self, obj):
        return StandardStatusChangeSerializer(obj.status_changes.all(), many=True).data

    @extend_schema_field(StandardVersionSerializer(many=True))
    def get_versions(self, obj):
        versions = list(obj.versions.all())
        return StandardVersionSerializer(versions, many=True, context={"versions": versions}).data

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


class OnQuerySerializer(serializers.Serializer):
    on = serializers.DateField(
        required=False,
        help_text="As of this date: status then, and the version in effect then (matrix).",
    )


class InheritedParamSerializer(serializers.Serializer):
    inherited = serializers.BooleanField(
        default=True, help_text="Count what a standard incorporates (default true)."
    )
    on = serializers.DateField(
        required=False,
        help_text="Answer as of this date: each standard's version in effect then, and "
        "(coverage, set cover) only standards in force then. Default: current versions.",
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


# --- Changes over time ----------------------------------------------------


class ChangesQuerySerializer(serializers.Serializer):
    # `from` is a Python keyword: the fields are declared here.
    def get_fields(self):
        return {
            "from": serializers.DateField(help_text="First date (included), YYYY-MM-DD"),
            "to": serializers.DateField(
                required=False, help_text="Last date (included), default today"
            ),
        }

    def validate(self, attrs):
        import datetime as dt

        attrs.setdefault("to", dt.date.today())
        if attrs["from"] > attrs["to"]:
            raise serializers.ValidationError({"to": "`to` is before `from`."})
        return attrs


class VersionBriefSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()


class LandscapeChangeSerializer(serializers.Serializer):
    date = serializers.DateField(source="on")
    standard = StandardBriefSerializer()
    kind = serializers.ChoiceField(choices=["status", "version"])
    status = serializers.CharField(help_text="Status from `date` (status changes)")
    previous_status = serializers.CharField()
    status_changed = serializers.BooleanField(
        help_text="False for a milestone that kept the status (an amendment, a postponement)"
    )
    version = VersionBriefSerializer(allow_null=True)
    previous_version = VersionBriefSerializer(allow_null=True)
    note = serializers.CharField()
    source = serializers.CharField(help_text="URL or citation")
    uncertain = serializers.CharField(help_text="What the sources did not settle; empty: sourced")


class LandscapeChangesSerializer(serializers.Serializer):
    def get_fields(self):
        return {
            "from": serializers.DateField(source="from_date"),
            "to": serializers.DateField(source="to_date"),
            "changes": LandscapeChangeSerializer(many=True),
        }
