"""The EU registry export of every passport's registration record (passports/registry_record.py);
a passport's own record, chain and recycling are actions of api/views/passports.py."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from api.downloads import file_response
from api.serializers import passport_life as life_s
from api.serializers import passports as s
from api.views.passports import PassportCursor
from passports import registry_record


class _JSON(BaseContentNegotiation):
    """JSON pages; `?format=csv` is answered by the view itself (the whole export)."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class RegistrationListView(APIView):
    """Public: a registration record holds public values only (ESPR Art. 13)."""

    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _JSON
    ordering = ("id",)

    @extend_schema(
        operation_id="api_passports_registration_list",
        parameters=[
            OpenApiParameter(
                "format", str, enum=["json", "csv"], description="csv: every record in one file"
            )
        ],
        responses={
            200: life_s.RegistrationPageSerializer,
            400: OpenApiResponse(s.VALIDATION_ERRORS, description="Unknown format"),
        },
    )
    def get(self, request):
        """Every published passport's record for the EU digital product passport registry
        (ceased ones too, with their status), cursor-paginated (follow `next`); ?format=csv
        downloads them all."""
        fmt = request.query_params.get("format") or "json"
        if fmt == "csv":
            return file_response(
                "csv", "dpp-registry", list(registry_record.FIELDS), registry_record.all_records()
            )
        if fmt != "json":
            raise ValidationError({"format": f"Unknown format {fmt!r}: json or csv."})
        paginator = PassportCursor()
        page = paginator.paginate_queryset(registry_record.registered(), request, view=self)
        data = life_s.RegistrationRecordSerializer(registry_record.records(page), many=True).data
        return paginator.get_paginated_response(data)
