from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from api.downloads import Table, downloadable
from api.fields import query_data
from api.serializers import taxonomy as s
from taxonomy import selectors
from taxonomy.filters import CellFilterSet, StandardFilterSet
from taxonomy.models import Cell, Dimension, Standard, StandardCell


@downloadable("dimensions")
class DimensionViewSet(viewsets.ReadOnlyModelViewSet):
    """The taxonomy's dimensions, each with its cells."""

    queryset = Dimension.objects.prefetch_related(
        Prefetch("cells", queryset=Cell.objects.select_related("dimension"))
    )
    serializer_class = s.DimensionSerializer
    lookup_field = "code"
    ordering = ("order", "pk")  # paged like every list (api.pagination); five fit one page
    filter_backends = []
    unfiltered_fields = dict.fromkeys(
        ("code", "label", "question", "order"), "the matrix's five dimensions, always listed whole"
    )


@downloadable("cells")
class CellViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Cell.objects.select_related("dimension")
    serializer_class = s.CellSerializer
    filterset_class = CellFilterSet
    lookup_field = "code"
    lookup_value_regex = r"[a-z_.]+"
    ordering = ("order", "pk")
    search_fields = ["code", "label", "description", "group_label"]
    unfiltered_fields = {"order": "the matrix's order, in which cells are always listed"}


@downloadable("standards")
class StandardViewSet(viewsets.ReadOnlyModelViewSet):
    """Standards and regulations with the cells they cover."""

    filterset_class = StandardFilterSet
    lookup_field = "code"
    search_fields = [
        "code",
        "name",
        "short_name",
        "summary",
        "scope_note",
        "url",
        *(f"{name}_basis" for name in Standard.CRITERIA),
    ]
    unfiltered_fields = {"sources": "the list of sources behind the judgements, read whole"}
    ordering_fields = ["short_name", "year", "jurisdiction"]
    ordering = ("short_name", "pk")

    def get_queryset(self):
        if self.action == "list":
            # `status_on` is annotated by the filterset, for the date asked.
            return Standard.objects.prefetch_related(
                "minerals",
                Prefetch("standard_cells", queryset=StandardCell.objects.select_related("cell")),
            )
        return selectors.standards_with_detail(self._on())

    def _on(self):
        """`on` for the detail and the matrix: status and version as of that date."""
        if "on" not in self.request.query_params:
            return None
        return _validated(self.request, s.OnQuerySerializer)["on"]

    def get_serializer_class(self):
        return s.StandardDetailSerializer if self.action == "retrieve" else s.StandardListSerializer

    def get_object(self):
        code = self.kwargs["code"]
        obj = self.get_queryset().filter(code=code).first()
        if obj is None:
            raise NotFound(f"No standard with code {code!r}.")
        return obj

    def get_serializer_context(self):
        context = super().get_serializer_context()
        # Not while the schema is drawn (drf-spectacular's fake view): it reads no data.
        if self.action == "retrieve" and not getattr(self, "swagger_fake_view", False):
            context["landscape"] = selectors.load_landscape()
        return context

    @extend_schema(
        parameters=[s.OnQuerySerializer], responses=s.MatrixDimensionSerializer(many=True)
    )
    @action(detail=True, filter_backends=[], pagination_class=None)
    def matrix(self, request, code=None):
        """The standard's matrix laid out like Figure 2 of the CLEE/NRGI report: its current
        version, or with `on` the version in effect that day."""
        standard = self.get_object()
        matrix = selectors.standard_matrix(standard, self._on())
        return Response(s.MatrixDimensionSerializer(matrix, many=True).data)


def _validated(request, serializer_class, list_fields=()):
    serializer = serializer_class(data=query_data(request, list_fields))
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@downloadable(get=Table(name="comparison", rows="rows", serializer=s.ComparisonRowSerializer))
class CompareView(APIView):
    @extend_schema(parameters=[s.CompareQuerySerializer], responses=s.ComparisonSerializer)
    def get(self, request):
        """Standards side by side: for each cell, which cover it; pairwise overlaps."""
        params = _validated(request, s.CompareQuerySerializer, ("standards",))
        standards = selectors.resolve_standards(params["standards"])
        comparison = selectors.compare_standards(standards, params["inherited"], params.get("on"))
        return Response(s.ComparisonSerializer(comparison).data)


@downloadable(
    get=Table(name="standards-covering", rows="results", serializer=s.CoverageMatchSerializer)
)
class CoverageView(APIView):
    @extend_schema(parameters=[s.CoverageQuerySerializer], responses=s.CoverageResultSerializer)
    def get(self, request):
        """Which standards cover a given set of cells (all of them, or any)."""
        params = _validated(request, s.CoverageQuerySerializer, ("cells",))
        cells = selectors.resolve_cells(params["cells"])
        results = selectors.standards_covering(
            cells, params["match"], params["inherited"], params.get("on")
        )
        return Response(
            s.CoverageResultSerializer(
                {
                    "cells": [c.code for c in cells],
                    "match": params["match"],
                    "inherited": params["inherited"],
                    "results": results,
                }
            ).data
        )


class SetCoverView(APIView):
    @extend_schema(parameters=[s.SetCoverQuerySerializer], responses=s.SetCoverSerializer)
    def get(self, request):
        """The smallest set of standards that together cover the given cells."""
        params = _validated(request, s.SetCoverQuerySerializer, ("cells", "candidates"))
        cells = selectors.resolve_cells(params["cells"])
        candidates = (
            selectors.resolve_standards(params["candidates"]) if "candidates" in params else None
        )
        cover = selectors.minimal_cover(cells, candidates, params["inherited"], params.get("on"))
        return Response(s.SetCoverSerializer(cover).data)


@downloadable(
    get=Table(
        name="uncovered-cells", rows=lambda view, request, data: data, serializer=s.CellSerializer
    )
)
class LandscapeGapsView(APIView):
    @extend_schema(responses=s.CellSerializer(many=True))
    def get(self, request):
        """Cells that no standard in the registry covers."""
        return Response(s.CellSerializer(selectors.uncovered_cells(), many=True).data)


@downloadable(
    get=Table(name="landscape-changes", rows="changes", serializer=s.LandscapeChangeSerializer)
)
class LandscapeChangesView(APIView):
    @extend_schema(parameters=[s.ChangesQuerySerializer], responses=s.LandscapeChangesSerializer)
    def get(self, request):
        """What changed in the landscape between two dates (both included): status changes
        and new versions of the standards, each with its source. Two queries."""
        params = _validated(request, s.ChangesQuerySerializer)
        changes = selectors.landscape_changes(params["from"], params["to"])
        return Response(
            s.LandscapeChangesSerializer(
                {"from_date": params["from"], "to_date": params["to"], "changes": changes}
            ).data
        )
