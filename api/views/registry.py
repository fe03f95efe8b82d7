import datetime as dt

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, parsers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticatedOrReadOnly
from rest_framework.response import Response
from rest_framework.views import APIView

from api.downloads import Table, downloadable
from api.fields import query_data
from api.mixins import GuardedRecordMixin
from api.permissions import RecordOwnerOrStaff
from api.serializers import registry as s
from config import preconditions
from config.files import download_response
from registry import selectors, services
from registry.filters import (
    AttestationFilterSet,
    CompanyFilterSet,
    FacilityFilterSet,
    MinedSourceFilterSet,
)
from registry.models import (
    Attestation,
    Evidence,
    Facility,
    MinedSource,
    MineOwnership,
    Organisation,
    StatusChange,
)
from registry.querysets import Requester
from taxonomy.models import Cell
from taxonomy.selectors import resolve_cells

# A large population's answer being computed for the first time (registry.kept).
KEPT_PENDING = OpenApiResponse(
    description="Being computed: ask again after the seconds in the Retry-After header"
)


def requester(request) -> Requester:
    return Requester.for_user(request.user)


def scorecard_rows(view, request, data) -> list[dict]:
    """The scorecard as one table: its grade, each covered and self-declared cell with
    the attestations behind it, each gap with the standards that close it, and the
    attestations not counted (standard not in force)."""
    labels = dict(Cell.objects.values_list("code", "label"))
    grade = data["grade"]
    rows = [
        {
            "section": "grade",
            "key": grade["level"],
            "label": grade["rule"],
            "note": f"breadth={grade['breadth']}; depth={grade['depth']}",
        }
    ]
    for section in ("covered", "declared"):
        for code, sources in data[section].items():
            rows.append(
                {
                    "section": section,
                    "key": code,
                    "label": labels.get(code, ""),
                    "standards": sorted({source["standard"] for source in sources}),
                    "attestations": sorted({source["attestation"] for source in sources}),
                    "independent": any(source["independent"] for source in sources),
                }
            )
    for gap in data["gaps"]:
        element = gap["element"]
        rows.append(
            {
                "section": "gap",
                "key": element["key"],
                "label": element["label"],
                "declared": gap["declared"],
                "closing_standards": gap["closing_standards"],
                "note": "cells: " + ", ".join(element["cells"]),
            }
        )
    for item in data["not_counted"]:
        rows.append(
            {
                "section": "not_counted",
                "key": item["standard"],
                "attestations": [item["attestation"]],
                "note": item["reason"],
            }
        )
    return rows


SCORECARD = Table(
    name=lambda view: f"scorecard-{view.kwargs['pk']}",
    rows=scorecard_rows,
    columns=(
        "section",
        "key",
        "label",
        "standards",
        "attestations",
        "independent",
        "declared",
        "closing_standards",
        "note",
    ),
)


def sector_lacking_rows(view, request, data):
    """Every company lacking coverage, not the answer's one page of `lacking`."""
    query = request.query_params
    return selectors.sector_lacking(
        cells=data["cells"],
        requester=requester(request),
        stage=query.get("stage") or None,
        mineral=query.get("mineral") or None,
        country=query.get("country") or None,
        as_of=dt.date.fromisoformat(data["as_of"]),
        independent_only=data["independent_only"],
    )


@downloadable("organisations")
class OrganisationViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Organisation.objects.all()
    serializer_class = s.OrganisationSerializer
    ordering = ("name", "pk")  # cursor pages (api.pagination): an indexed, unique order
    filterset_fields = ["kind", "company", "demo"]
    search_fields = ["name"]


@downloadable("companies", coverage=SCORECARD)
class CompanyViewSet(GuardedRecordMixin, viewsets.ModelViewSet):
    """Companies along the chain. `coverage` answers what a company covers and lacks."""

    queryset = selectors.companies_with_detail()
    serializer_class = s.CompanySerializer
    ordering = ("legal_name", "pk")
    filterset_class = CompanyFilterSet
    permission_classes = [RecordOwnerOrStaff]
    search_fields = ["legal_name", "aliases", "lei", "identifiers__value", "notes"]
    unfiltered_fields = {"website": "a link, not a property to select companies by"}
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        as_of = getattr(request, "grades_as_of", None)  # the grade filter's kept grading
        if as_of is not None:
            response["Grades-As-Of"] = as_of.isoformat()
        return response

    @extend_schema(parameters=[s.CoverageQuerySerializer], responses=s.CoverageSerializer)
    @action(detail=True, filter_backends=[], pagination_class=None)
    def coverage(self, request, pk=None):
        """Covered cells, gaps per dimension, standards that close them, and the grade,
        counting only the attestations you may see, on `as_of` (default today), and, with
        `mineral` / `stage`, only those in scope for them."""
        company = self.get_object()
        params = s.CoverageQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        coverage = selectors.company_coverage(
            company,
            requester(request),
            data.get("as_of"),
            mineral=data["mineral"].code if data.get("mineral") else None,
            stage=data.get("stage"),
        )
        return Response(s.CoverageSerializer(coverage).data)


@downloadable("facilities")
class FacilityViewSet(GuardedRecordMixin, viewsets.ModelViewSet):
    queryset = Facility.objects.select_related("stage").prefetch_related("minerals")
    serializer_class = s.FacilitySerializer
    ordering = ("name", "pk")
    filterset_class = FacilityFilterSet
    permission_classes = [RecordOwnerOrStaff]
    search_fields = ["name", "region", "company__legal_name"]
    http_method_names = ["get", "post", "put", "patch", "head", "options"]


@downloadable("mines")
class MinedSourceViewSet(GuardedRecordMixin, viewsets.ModelViewSet):
    queryset = MinedSource.objects.prefetch_related(
        "minerals",
        Prefetch("ownerships", queryset=MineOwnership.objects.select_related("company")),
    )
    serializer_class = s.MinedSourceSerializer
    ordering = ("name", "pk")
    filterset_class = MinedSourceFilterSet
    permission_classes = [RecordOwnerOrStaff]
    search_fields = ["name", "region", "cahra_basis"]
    http_method_names = ["get", "post", "put", "patch", "head", "options"]


@downloadable("attestations")
class AttestationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Attestations you may see: public ones, your organisation's, and those shared with it.

    Not deletable: an attestation ends by being revoked or expiring, and every change
    is kept (`history`)."""

    filterset_class = AttestationFilterSet
    permission_classes = [IsAuthenticatedOrReadOnly]
    search_fields = [
        "reference",
        "company__legal_name",
        "standard__short_name",
        "verifier_name",
        "notes",
    ]
    unfiltered_fields = {"version": "the optimistic-lock counter, sent back on updates"}
    ordering_fields = ["valid_from", "valid_until", "updated_at"]
    ordering = ("-valid_from", "pk")  # `?ordering=` picks another; the pk always ends it

    def get_queryset(self):
        return (
            Attestation.objects.visible_to(requester(self.request))
            .select_related("standard", "submitted_by", "reviewed_by")
            .prefetch_related(
                "minerals",
                "facilities",
                "shared_with",
                "evidence",
                Prefetch("status_changes", queryset=StatusChange.objects.select_related("by")),
            )
        )

    def get_serializer_class(self):
        if self.action in ("create", "update", "partial_update"):
            return s.AttestationWriteSerializer
        return s.AttestationSerializer

    def _read(self, attestation, code=status.HTTP_200_OK):
        fresh = self.get_queryset().get(pk=attestation.pk)
        return Response(
            s.AttestationSerializer(fresh, context={"request": self.request}).data, status=code
        )

    @extend_schema(request=s.AttestationWriteSerializer, responses={201: s.AttestationSerializer})
    def create(self, request, *args, **kwargs):
        serializer = s.AttestationWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.pop("version", None)
        owner = data.pop("owner", None)
        attestation = services.attestation_create(
            user=request.user,
            owner_id=owner.pk if owner else None,
            minerals=data.pop("minerals", []),
            facilities=data.pop("facilities", []),
            shared_with=data.pop("shared_with", []),
            **data,
        )
        return self._read(attestation, status.HTTP_201_CREATED)

    @extend_schema(request=s.AttestationWriteSerializer, responses=s.AttestationSerializer)
    def update(self, request, *args, **kwargs):
        attestation = self.get_object()
        serializer = s.AttestationWriteSerializer(
            attestation, data=request.data, partial=kwargs.get("partial", False)
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        version = preconditions.require_counter(request, data.pop("version", None))
        attestation = services.attestation_update(
            attestation=attestation, user=request.user, expected_version=version, **data
        )
        return self._read(attestation)

    @extend_schema(request=s.TransitionSerializer, responses=s.AttestationSerializer)
    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None):
        """Move to another status: submitted → under_review → verified | rejected;
        verified → suspended | revoked | expired; suspended → verified | revoked;
        rejected → submitted. Anything else is a 409."""
        attestation = self.get_object()
        serializer = s.TransitionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        attestation = services.attestation_transition(
            attestation=attestation,
            to_status=data["to"],
            user=request.user,
            reason=data["reason"],
            effective=data.get("effective"),
        )
        return self._read(attestation)

    @extend_schema(
        methods=["post"],
        request={"multipart/form-data": s.EvidenceUploadSerializer},
        responses={201: s.EvidenceSerializer},
    )
    @extend_schema(methods=["get"], responses=s.EvidenceSerializer(many=True))
    @action(
        detail=True,
        methods=["get", "post"],
        parser_classes=[parsers.MultiPartParser],
        filter_backends=[],
        pagination_class=None,
    )
    def evidence(self, request, pk=None):
        """List evidence, or upload a file (PDF, PNG, JPEG, XLSX, CSV, TXT; size limited).
        Its SHA-256, size and type are kept."""
        attestation = self.get_object()
        if request.method == "GET":
            return Response(
                s.EvidenceSerializer(
                    attestation.evidence.all(), many=True, context={"request": request}
                ).data
            )
        upload = s.EvidenceUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        evidence = services.evidence_add(
            attestation=attestation, user=request.user, upload=upload.validated_data["file"]
        )
        return Response(
            s.EvidenceSerializer(evidence, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        responses={
            (200, "application/octet-stream"): bytes,
            302: OpenApiResponse(description="Redirect to a short-lived presigned URL"),
        }
    )
    @action(
        detail=True,
        url_path=r"evidence/(?P<evidence_id>\d+)",
        filter_backends=[],
        pagination_class=None,
    )
    def download(self, request, pk=None, evidence_id=None):
        """Download one evidence file, if you may see its attestation: the file itself, or
        (object storage) a redirect to a URL valid for FILE_URL_EXPIRE_SECONDS. Without
        access it is a 404, as for an id that does not exist."""
        attestation = self.get_object()  # 404 unless the attestation is visible to you
        evidence = get_object_or_404(Evidence, pk=evidence_id, attestation=attestation)
        response = download_response(
            evidence.file, filename=evidence.filename, content_type=evidence.content_type
        )
        if response.status_code == status.HTTP_200_OK:  # the bytes themselves, not a 302
            response["Digest"] = f"sha-256={evidence.sha256}"
        return response

    @extend_schema(responses=s.AttestationHistorySerializer(many=True))
    @action(detail=True, filter_backends=[], pagination_class=None)
    def history(self, request, pk=None):
        """Every recorded version of the attestation, newest first, with who and when."""
        attestation = self.get_object()
        records = attestation.history.select_related("history_user").order_by("-history_id")
        return Response(
            [
                {
                    "version": record.version,
                    "status": record.status,
                    "visibility": record.visibility,
                    "valid_from": record.valid_from,
                    "valid_until": record.valid_until,
                    "changed_at": record.history_date,
                    "changed_by": record.history_user.username if record.history_user else None,
                    "change": record.get_history_type_display(),
                }
                for record in records
            ]
        )


@downloadable(
    get=Table(name="sector-gaps", rows=sector_lacking_rows, serializer=s.CompanyLackSerializer)
)
class SectorGapsView(APIView):
    @extend_schema(
        parameters=[s.SectorQuerySerializer],
        responses={200: s.SectorGapsSerializer, 202: KEPT_PENDING},
    )
    def get(self, request):
        """Which companies of a stage, mineral and country lack coverage of the cells
        (e.g. cobalt refiners without independently verified labour-rights coverage).
        The list uses only what you may see; figures that count private attestations come
        from the latest weekly snapshot on or before `as_of`, noised, for groups of at least
        5 companies, within a monthly budget per requester (README, "Privacy of private
        attestations in sector figures"). `lacking` is one page (`next`, `previous`); the
        figures of a large group come from a kept result (`computed_at`, `stale`), and the
        first time a 202 with Retry-After answers while it is computed."""
        params = s.SectorQuerySerializer(data=query_data(request, ("cells",)))
        data = params.initial_data
        if "cells" in data:
            data["cells"] = [c for v in data["cells"] for c in v.split(",") if c]
        params.is_valid(raise_exception=True)
        v = params.validated_data
        cells = [c.code for c in resolve_cells(v["cells"])]
        result = selectors.sector_gaps(
            cells=cells,
            requester=requester(request),
            stage=v.get("stage"),
            mineral=v["mineral"].code if v.get("mineral") else None,
            country=v.get("country") or None,
            as_of=v.get("as_of"),
            independent_only=v["independent"],
            page=v["page"],
            page_size=v["page_size"],
            keep=True,
        )
        return Response(s.SectorGapsSerializer(result, context={"request": request}).data)
