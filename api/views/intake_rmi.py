"""RMI declarations received from suppliers: conformance of their smelters, and
confirming a proposed smelter match. Thin: intake.rmi.selectors and services decide."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers.passports import VALIDATION_ERRORS, ErrorSerializer
from intake.models import DeclaredSmelter
from intake.rmi import selectors, services
from registry.models import Facility
from registry.permissions import can_log_attestations

_organisations = selectors.organisations_of


class _Declaration(serializers.Serializer):
    pk = serializers.IntegerField()
    template = serializers.CharField()
    version = serializers.CharField()
    effective_date = serializers.DateField()


class _Reaudit(serializers.Serializer):
    cid = serializers.CharField()
    name = serializers.CharField()
    metal = serializers.CharField()
    reaudit_due = serializers.DateField()


class _Supplier(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ConformanceSerializer(serializers.Serializer):
    supplier = _Supplier()
    declarations = _Declaration(many=True)
    smelters_declared = serializers.IntegerField()
    smelters_identified = serializers.IntegerField()
    conformant = serializers.IntegerField()
    active = serializers.IntegerField()
    not_on_list = serializers.IntegerField()
    list_date = serializers.DateField(allow_null=True)
    reaudits = _Reaudit(many=True)
    next_reaudit_due = serializers.DateField(allow_null=True)
    overdue = _Reaudit(many=True)
    rule = serializers.CharField()


class SupplierConformanceView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses={
            200: ConformanceSerializer,
            404: OpenApiResponse(ErrorSerializer, description="No declaration of it you hold"),
        }
    )
    def get(self, request, pk: int):
        """How many of a supplier's declared smelters (its current RMI declarations held by
        your organisation) RMI's latest conformant facility list calls conformant or
        active, and when their re-audits fall due; `rule` says how this counts as RMAP
        coverage."""
        data = selectors.supplier_conformance(
            supplier_id=pk, organisation_ids=_organisations(request.user)
        )
        if data is None:
            raise NotFound("No declaration of this supplier that you hold.")
        return Response(ConformanceSerializer(data).data)


class ConfirmRequestSerializer(serializers.Serializer):
    facility = serializers.IntegerField(
        allow_null=True, help_text="The facility it is; null rejects the proposal"
    )


class DeclaredSmelterSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeclaredSmelter
        fields = [
            "id",
            "row",
            "metal",
            "cid",
            "name",
            "country",
            "match",
            "facility",
            "candidate",
            "score",
            "confirmed_at",
        ]


class DeclaredSmelterConfirmView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=ConfirmRequestSerializer,
        responses={
            200: DeclaredSmelterSerializer,
            400: OpenApiResponse(VALIDATION_ERRORS, description="No such facility"),
            403: OpenApiResponse(ErrorSerializer, description="Only compliance officers"),
            404: OpenApiResponse(ErrorSerializer, description="No such smelter row you see"),
        },
    )
    def post(self, request, pk: int):
        """Confirm (or reject, with `facility: null`) which registry facility a declared
        smelter is: a name match is only ever proposed until a person confirms it."""
        declared = selectors.declared_smelters_visible_to(request.user).filter(pk=pk).first()
        if declared is None:
            raise NotFound("No such declared smelter.")
        if not can_log_attestations(request.user):
            raise PermissionDenied("Only compliance officers may confirm matches.")
        body = ConfirmRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        facility = None
        if body.validated_data["facility"] is not None:
            facility = Facility.objects.filter(pk=body.validated_data["facility"]).first()
            if facility is None:
                raise serializers.ValidationError({"facility": "No such facility."})
        declared = services.confirm_match(declared=declared, facility=facility, user=request.user)
        return Response(DeclaredSmelterSerializer(declared).data)
