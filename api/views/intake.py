"""Supplier data intake: import jobs (upload, status, commit), templates and exports.
Thin: intake.services decides and does; intake.selectors says what one may see."""

from django.core.exceptions import PermissionDenied
from django.http import FileResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers import intake as s
from api.serializers.passports import VALIDATION_ERRORS, ErrorSerializer
from intake import exports, selectors, services

NOT_FOUND = {404: OpenApiResponse(ErrorSerializer, description="No such job you may see")}
WRITE = {
    400: OpenApiResponse(VALIDATION_ERRORS, description="The file or the kind is refused"),
    403: OpenApiResponse(ErrorSerializer, description="Only staff and compliance officers"),
}
AS = OpenApiParameter("as", str, enum=list(exports.FORMATS), description="csv (default) or xlsx")
FILE = OpenApiResponse(OpenApiTypes.BINARY, description="The table, as CSV or XLSX")


def _job(request, pk) -> object:
    job = selectors.jobs_visible_to(request.user).filter(pk=pk).first()
    if job is None:
        raise NotFound("No such import job.")
    return job


class ImportJobCreateView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": s.ImportRequestSerializer},
        responses={201: s.ImportJobSerializer, **WRITE},
    )
    def post(self, request):
        """Upload a table (or a template) to import, as a job: a dry run by default lists
        every problem; `dry_run=false` writes all rows or none. Poll the job for progress."""
        if not services.can_import(request.user):
            raise PermissionDenied("Only staff and compliance officers may import data.")
        body = s.ImportRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        job = services.job_create(
            user=request.user,
            upload=body.validated_data["file"],
            kind=body.validated_data.get("kind") or None,
            dry_run=body.validated_data["dry_run"],
        )
        job.refresh_from_db()  # run already when tasks run in-process
        return Response(s.ImportJobSerializer(job).data, status=status.HTTP_201_CREATED)


class ImportJobDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: s.ImportJobSerializer, **NOT_FOUND})
    def get(self, request, pk: int):
        """A job's status, progress (rows done, percent), summary and problems; seen by its
        requester's organisation and staff only."""
        return Response(s.ImportJobSerializer(_job(request, pk)).data)


class ImportJobCommitView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={201: s.ImportJobSerializer, **WRITE, **NOT_FOUND})
    def post(self, request, pk: int):
        """Commit a finished dry run without errors: a new job writes the same file."""
        job = services.job_commit(user=request.user, job=_job(request, pk))
        job.refresh_from_db()
        return Response(s.ImportJobSerializer(job).data, status=status.HTTP_201_CREATED)


def _table(kind: str):
    table = exports.table_of(kind)
    if table is None:
        raise NotFound(f"No table {kind!r}; tables: {', '.join(sorted(exports.TABLES))}.")
    return table


def _format(request) -> str:
    fmt = request.query_params.get("as", "csv").lower()
    if fmt not in exports.FORMATS:
        from rest_framework.exceptions import ValidationError

        raise ValidationError({"as": "csv or xlsx"})
    return fmt


def _send(rows, fmt: str, name: str):
    if fmt == "csv":
        response = StreamingHttpResponse(
            exports.csv_stream(rows), content_type=exports.CONTENT_TYPES["csv"]
        )
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    else:
        response = FileResponse(
            exports.xlsx_file(rows, name),
            as_attachment=True,
            filename=f"{name}.xlsx",
            content_type=exports.CONTENT_TYPES["xlsx"],
        )
    response["X-Content-Type-Options"] = "nosniff"
    return response


class TableTemplateView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(parameters=[AS], responses={200: FILE, **NOT_FOUND})
    def get(self, request, kind: str):
        """A table's import template: its header and one example row."""
        table = _table(kind)
        return _send(exports.template_rows(table), _format(request), f"{kind}-template")


class TableExportView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(parameters=[AS], responses={200: FILE, **NOT_FOUND})
    def get(self, request, kind: str):
        """Every row of a table, in the format its import reads (attestations: those you
        may see)."""
        table = _table(kind)
        fmt = _format(request)
        user = request.user if request.user.is_authenticated else None
        return _send(exports.export_rows(table, user), fmt, kind)
