import sys

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from api.downloads import Table, downloadable
from api.fields import query_data
from api.mixins import GuardedRecordMixin
from api.permissions import RecordOwnerOrStaff
from api.serializers import supply as s
from api.views.registry import KEPT_PENDING
from registry import concentration, supply
from registry.concentration import scenario
from registry.models import (
    Company,
    ProductionStatistic,
    Rule,
    SourceLink,
    SupplyRelationship,
)
from registry.querysets import Requester
from taxonomy.selectors import resolve_cells

# One relationship or a list of them, in and out.
REQUEST = {"$ref": "#/components/schemas/SupplyRelationshipRequest"}
ANSWER = {"$ref": "#/components/schemas/SupplyRelationship"}


@downloadable("relationships")
class SupplyRelationshipViewSet(
    GuardedRecordMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Supplier-to-buyer flows. POST a list to create many at once: all or none."""

    queryset = SupplyRelationship.objects.select_related("supplier", "buyer", "mineral", "stage")
    serializer_class = s.SupplyRelationshipSerializer
    ordering = ("pk",)  # cursor pages (api.pagination) on the primary key
    permission_classes = [RecordOwnerOrStaff]
    filterset_fields = {
        "buyer": ["exact"],
        "supplier": ["exact"],
        "mineral__code": ["exact"],
        "stage__code": ["exact"],
        "material": ["exact"],
        "supplier_facility": ["exact"],
        "buyer_facility": ["exact"],
        "period_start": ["gte", "lte"],
        "period_end": ["gte", "lte"],
        "volume_t": ["gte", "lte"],
        "share_pct": ["gte", "lte"],
        "demo": ["exact"],
    }
    search_fields = ["note", "supplier__legal_name", "buyer__legal_name"]

    def get_serializer(self, *args, **kwargs):
        if isinstance(kwargs.get("data"), list):
            kwargs["many"] = True
        return super().get_serializer(*args, **kwargs)

    @extend_schema(
        request={"application/json": {"oneOf": [REQUEST, {"type": "array", "items": REQUEST}]}},
        responses={201: {"oneOf": [ANSWER, {"type": "array", "items": ANSWER}]}},
    )
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)


@downloadable("source-links")
class SourceLinkViewSet(GuardedRecordMixin, viewsets.ModelViewSet):
    """Mine-to-processor flows."""

    queryset = SourceLink.objects.select_related("mine", "facility", "mineral")
    serializer_class = s.SourceLinkSerializer
    ordering = ("pk",)
    permission_classes = [RecordOwnerOrStaff]
    filterset_fields = {
        "mine": ["exact"],
        "facility": ["exact"],
        "mineral__code": ["exact"],
        "period_start": ["gte", "lte"],
        "period_end": ["gte", "lte"],
        "volume_t": ["gte", "lte"],
    }
    http_method_names = ["get", "post", "put", "patch", "head", "options"]


@downloadable("production")
class ProductionStatisticViewSet(viewsets.ReadOnlyModelViewSet):
    """Production as published: by country, or by company (`company` set; `country` is
    then the site's), and world totals (kind world)."""

    queryset = ProductionStatistic.objects.select_related("mineral")
    serializer_class = s.ProductionStatisticSerializer
    ordering = ("pk",)  # rows in the order they were loaded from the published tables
    filterset_fields = {
        "mineral__code": ["exact"],
        "stage": ["exact"],
        "year": ["exact"],
        "product": ["exact"],
        "kind": ["exact"],
        "country": ["exact"],
        "company": ["exact", "isnull"],
        "estimated": ["exact"],
        "unit": ["exact"],
        "quantity": ["gte", "lte"],
    }
    search_fields = ["label", "source", "note"]


@downloadable("rules")
class RuleViewSet(viewsets.ReadOnlyModelViewSet):
    """Rule parameters, kept as data."""

    queryset = Rule.objects.all()
    serializer_class = s.RuleSerializer
    lookup_field = "code"
    ordering = ("kind", "code", "pk")
    filterset_fields = {
        "code": ["exact"],
        "kind": ["exact"],
        "in_force_from": ["exact", "gte", "lte", "isnull"],
        "in_force_until": ["exact", "gte", "lte", "isnull"],
    }
    search_fields = ["name", "source", "notes"]
    unfiltered_fields = {"params": "structured parameters of the rule, read whole"}


def _params(request, serializer_class, lists=()):
    data = query_data(request, lists)
    for key in lists:
        if key in data:
            data[key] = [c for v in data[key] for c in v.split(",") if c]
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@downloadable(
    get=Table(
        name=lambda v: f"concentration-{v.request.query_params.get('mineral')}",
        rows="shares",
        serializer=s.ConcentrationAnswerSerializer,
    )
)
class ConcentrationView(APIView):
    @extend_schema(
        parameters=[s.ConcentrationQuerySerializer], responses=s.ConcentrationAnswerSerializer
    )
    def get(self, request):
        """HHI, band and shares for a mineral and stage, from published production (by
        country or company; `denominator`, `fringe`, `company_country`) or from the
        registry's flows (by country or company; `attribution`). Every answer states its
        convention, the share of the world total the listed producers cover and its
        source; below the coverage threshold only bounds (`hhi_low`, `hhi_high`) are
        given. A parameter that does not apply to the chosen source is a 400."""
        p = _params(request, s.ConcentrationQuerySerializer)
        rule = p.get("thresholds") or concentration.hhi_rule()
        if p["source"] == "production":
            result = concentration.production_concentration(
                mineral=p["mineral"].code,
                stage=p["stage"],
                year=p["year"],
                product=p.get("product"),
                by=p["by"],
                denominator=p["denominator"],
                fringe=p["fringe"],
                company_country=p.get("company_country"),
                unlisted=p.get("unlisted"),
                rule=rule,
            )
        else:
            result = concentration.flow_concentration(
                mineral=p["mineral"].code,
                stage=p["stage"],
                by=p["by"],
                attribution=p["attribution"],
                as_of=p.get("as_of"),
                rule=rule,
            )
        return Response(s.ConcentrationAnswerSerializer(result).data)


def supply_chain_flows(view, request, data):
    """Every flow of the trace, largest first, not the answer's one page."""
    p = _params(request, s.SupplyChainQuerySerializer, ("cells",))
    served = supply.supply_chain_served(
        get_object_or_404(Company, pk=view.kwargs["pk"]),
        p["mineral"],
        requester=Requester.for_user(request.user),
        as_of=p.get("as_of"),
        cells=data["cells"],
        thresholds=p["thresholds"].code if p.get("thresholds") else None,
        checked_on=p.get("checked_on"),
        flows=slice(0, sys.maxsize),
    )
    return served.rows


@downloadable(
    get=Table(
        name=lambda view: f"supply-chain-{view.kwargs['pk']}",
        rows=supply_chain_flows,
        serializer=s.FlowSerializer,
    )
)
class SupplyChainView(APIView):
    @extend_schema(
        parameters=[s.SupplyChainQuerySerializer],
        responses={200: s.SupplyChainPageSerializer, 202: KEPT_PENDING},
    )
    def get(self, request, pk):
        """A buyer's supply of one mineral traced upstream to the mines: shares by mine
        country, processing country and company with their HHI; recycled, CAHRA and
        artisanal shares; the share whose suppliers lack coverage of `cells`; and the
        rule checks, each with its largest flows. `trace.flows` is one page of the flows,
        largest first (`next`, `previous`). A large graph's trace comes from a kept result
        (`computed_at`, `stale`); the first time, a 202 with Retry-After answers while it
        is computed."""
        buyer = get_object_or_404(Company, pk=pk)
        p = _params(request, s.SupplyChainQuerySerializer, ("cells",))
        cells = [c.code for c in resolve_cells(p["cells"])]
        number, size = p["page"], p["page_size"]
        served = supply.supply_chain_served(
            buyer,
            p["mineral"],
            requester=Requester.for_user(request.user),
            as_of=p.get("as_of"),
            cells=cells,
            thresholds=p["thresholds"].code if p.get("thresholds") else None,
            checked_on=p.get("checked_on"),
            flows=slice((number - 1) * size, number * size),
        )
        body = dict(served.payload)
        body["cells"] = cells  # as asked (the key sorts them)
        body["trace"] = {**served.payload["trace"], "flows": served.rows}
        url = request.build_absolute_uri()
        more = number * size < served.row_count
        body.update(
            page=number,
            page_size=size,
            next=replace_query_param(url, "page", number + 1) if more else None,
            previous=replace_query_param(url, "page", number - 1) if number > 1 else None,
            computed_at=served.computed_at if served.kept else None,
            stale=served.stale,
        )
        return Response(body)


class WhatIfView(APIView):
    permission_classes = [AllowAny]  # a computation: nothing is saved

    @extend_schema(request=s.WhatIfRequestSerializer, responses=s.WhatIfSerializer)
    def post(self, request, pk):
        """Add, remove or swap suppliers and sources and compare shares, HHI and rule
        results with today's, without saving anything."""
        buyer = get_object_or_404(Company, pk=pk)
        serializer = s.WhatIfRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        p = serializer.validated_data
        cells = [c.code for c in resolve_cells(p["cells"])]
        result = supply.what_if(
            buyer,
            p["mineral"],
            requester=Requester.for_user(request.user),
            new_companies=[dict(c, country=c["country"]) for c in p["new_companies"]],
            add=[dict(a) for a in p["add"]],
            remove=p["remove"],
            add_sources=[dict(x, mine=x["mine"].pk) for x in p["add_sources"]],
            plants=[dict(x) for x in p["plants"]],
            as_of=p.get("as_of"),
            cells=cells,
            checked_on=p.get("checked_on"),
        )
        return Response(s.WhatIfSerializer(result).data, status=status.HTTP_200_OK)


class RefiningWhatIfView(APIView):
    permission_classes = [AllowAny]  # a computation on published statistics: nothing is saved

    @extend_schema(request=s.RefiningWhatIfRequestSerializer, responses=s.RefiningWhatIfSerializer)
    def post(self, request):
        """Add regional dual-feedstock plants (virgin and recycled feed capacities) to a
        year's published refining statistics as new producers, and compare refining HHI
        by country and by company, the largest country's share and the recycled share
        before and after, under the concentration page's conventions."""
        serializer = s.RefiningWhatIfRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        p = serializer.validated_data
        result = scenario.refining_what_if(
            mineral=p["mineral"].code,
            year=p["year"],
            plants=[dict(x) for x in p["plants"]],
            product=p.get("product"),
            denominator=p["denominator"],
            fringe=p["fringe"],
            rule=p.get("thresholds"),
        )
        return Response(s.RefiningWhatIfSerializer(result).data)
