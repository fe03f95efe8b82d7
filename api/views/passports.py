"""The passport API: declarations (queryset, serializers, filters, permission) and thin
actions. What a tier may see is read by passports/selectors.py and cut by
passports/access.py; who may do what is decided by passports/services.py; every answer is
an output serializer of api/serializers/passports.py, which is also its OpenAPI schema."""

from django.db import transaction
from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny, IsAuthenticatedOrReadOnly
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from api.downloads import downloadable
from api.mixins import GuardedRecordMixin
from api.negotiation import Negotiation
from api.pagination import Pagination
from api.permissions import PassportPermission
from api.serializers import passport_aas as aas_s
from api.serializers import passport_life as life_s
from api.serializers import passports as s
from config import preconditions
from config.kept_cache import keep, kept
from passports import access, gtin, registry_record, selectors, services
from passports import chain as life_chain
from passports import permissions as rules
from passports.filters import PassportFilterSet
from passports.models import BatteryModel
from registry.querysets import Requester

# What each kind of operation may answer besides its result, in the OpenAPI schema.
NOT_FOUND = {404: OpenApiResponse(s.ErrorSerializer, description="No such passport you may see")}
REFUSED = {403: OpenApiResponse(s.ErrorSerializer, description="Not yours to do")}
CONFLICT = {409: OpenApiResponse(s.ErrorSerializer, description="Stale or not in that state")}
INVALID = {400: OpenApiResponse(s.VALIDATION_ERRORS, description="Refused as asked")}
UNAVAILABLE = {
    503: OpenApiResponse(s.ErrorSerializer, description="Reference data missing (load_reference)")
}
WRITE = {**INVALID, **REFUSED}
WRITE_ON_ONE = {**WRITE, **NOT_FOUND, **CONFLICT}

ETAG = OpenApiParameter(
    "ETag",
    str,
    OpenApiParameter.HEADER,
    response=[200, 304],
    description="The revision of the passport as your tier sees it",
)
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    str,
    OpenApiParameter.HEADER,
    description="The ETag you hold: 304 while nothing you may see has changed",
)


class JSONOnly(BaseContentNegotiation):
    """Passports are machine reads: JSON always, without parsing Accept on every call;
    the list also downloads with ?format=csv / xlsx (api.downloads)."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        if request.query_params.get("format"):
            return Negotiation().select_renderer(request, renderers, format_suffix)
        return renderers[0], renderers[0].media_type


class PassportCursor(Pagination):
    """The API's keyset pages (api.pagination), on the id, 100 to a page."""

    page_size = 100


# A passport's detail answer is the same bytes for the same ETag (uuid, revision: bumped by
# every change; the roles the tier was cut for) and host (its links are absolute): kept in
# the shared cache, a read skips the cut, the serializer and the renderer.
DETAIL_SECONDS = 10 * 60
DETAIL_KEY_VERSION = 1  # raise when the detail answer changes shape


def _detail_key(request, tag: str) -> str:
    origin = f"{request.scheme}://{request.get_host()}"
    return f"passport-detail:{DETAIL_KEY_VERSION}:{tag}:{origin}"


def _requester(request) -> Requester:
    """The requester's tier, read once per request (the status filter reads it too)."""
    if not hasattr(request, "_passport_requester"):
        request._passport_requester = access.requester_for(request.user)
    return request._passport_requester


def _body(serializer_class, request) -> dict:
    body = serializer_class(data=request.data)
    body.is_valid(raise_exception=True)
    return body.validated_data


def _detail(request, passport, code=status.HTTP_200_OK) -> Response:
    """The answer to a write: the passport as the writer now sees it."""
    requester = _requester(request)
    row = selectors.row_of(passport, documents=True)
    roles = selectors.row_roles(requester, row)
    seen = selectors.as_seen(requester, row, roles=roles)
    data = s.PassportDetailSerializer(seen, context={"request": request}).data
    return Response(data, status=code, headers={"ETag": selectors.row_etag(row, roles)})


@extend_schema_view(
    list=extend_schema(responses={200: s.BatteryModelSerializer(many=True), **INVALID}),
    retrieve=extend_schema(responses={200: s.BatteryModelSerializer, **NOT_FOUND}),
    create=extend_schema(responses={201: s.BatteryModelSerializer, **WRITE}),
    update=extend_schema(responses={200: s.BatteryModelSerializer, **WRITE, **NOT_FOUND}),
    partial_update=extend_schema(responses={200: s.BatteryModelSerializer, **WRITE, **NOT_FOUND}),
)
@downloadable("battery-models")
class BatteryModelViewSet(
    GuardedRecordMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Battery models: the static attributes of every battery of a model, and its supply
    chain (relationships, mines, attestations). Written by the manufacturer."""

    # The links are answered as ids: their rows' other columns cost per row for nothing.
    queryset = BatteryModel.objects.prefetch_related(
        *(
            Prefetch(
                name, queryset=BatteryModel._meta.get_field(name).related_model.objects.only("pk")
            )
            for name in ("supply_relationships", "mined_sources", "attestations")
        )
    ).order_by("id")
    serializer_class = s.BatteryModelSerializer
    permission_classes = [IsAuthenticatedOrReadOnly]
    filterset_fields = {
        "manufacturer": ["exact"],
        "category": ["exact"],
        "chemistry": ["exact"],
        "model_identifier": ["exact"],
        "gtin": ["exact"],
        "supply_relationships": ["exact"],
        "mined_sources": ["exact"],
        "attestations": ["exact"],
        "created_at": ["gte"],
        "updated_at": ["gte"],
        "demo": ["exact"],
    }
    search_fields = ["name", "model_identifier"]
    unfiltered_fields = dict.fromkeys(
        ("data", "catenax_extra"),
        "passport attribute data, cut per tier: a filter on it would reveal what a tier may "
        "not see",
    )

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "requester": _requester(self.request)}

    def perform_create(self, serializer):
        data = serializer.validated_data
        rules.authorize_model_create(self.request.user, data["manufacturer"])
        services.check_model_data(data.get("data", {}))
        with gtin.claiming(data.get("gtin", "")):
            serializer.save()

    def perform_update(self, serializer):
        rules.authorize_model_change(
            self.request.user, serializer.instance, serializer.validated_data.get("manufacturer")
        )
        services.check_model_data(serializer.validated_data.get("data", {}))
        before = services.document_facts(serializer.instance)
        with transaction.atomic():
            with gtin.claiming(serializer.validated_data.get("gtin", ""), serializer.instance):
                model = serializer.save()
            services.model_changed(
                model,
                remerge=services.document_facts(model) != before,
                user=self.request.user,
            )

    @extend_schema(responses={200: s.ProvenanceSerializer, **NOT_FOUND, **UNAVAILABLE})
    @action(detail=True, filter_backends=[], pagination_class=None)
    def provenance(self, request, pk=None):
        """Recycled content per mineral (pre/post-consumer), conflict-area share, concentration
        and due-diligence coverage derived from the supply chain, and the Art. 8 minimums."""
        result = selectors.provenance(self.get_object(), Requester.for_user(request.user))
        return Response(s.ProvenanceSerializer(result).data)


def _passport_rows(view, chunk) -> list[dict]:
    """A chunk of the list as the JSON has it: each passport cut to the requester's tier."""
    requester = _requester(view.request)
    seen = [selectors.as_seen(requester, row, document=False) for row in chunk]
    return view.get_serializer(seen, many=True).data


@downloadable("passports", serialize=_passport_rows)
class PassportViewSet(viewsets.GenericViewSet):
    """Battery passports. Every answer holds only what your access tier may see."""

    lookup_field = "identifier"
    lookup_value_regex = r"[^/]+"
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONOnly
    filterset_class = PassportFilterSet
    pagination_class = PassportCursor
    unfiltered_fields = {
        **dict.fromkeys(
            ("internal_id", "batterypass_id", "uuid", "battery_identifier"),
            "an identifier: look the passport up at /api/passports/<identifier>/ or /bulk/",
        ),
        **dict.fromkeys(
            ("data", "document", "public_document"),
            "passport attribute data, cut per tier: a filter on it would reveal what a tier "
            "may not see",
        ),
        "predecessor": "follows attribute 11's tier, like ?status=",
        "created_by": "who keyed the draft in: not for other requesters",
        "created_at": "a draft's creation; select by ?updated_since= or ?published_since=",
        "version": "a counter, read from each answer",
        "revision": "a counter, read from each answer (and its ETag)",
        "ceased_at": "select by ?ceased=true",
        **dict.fromkeys(
            ("recycled_on", "recycler"),
            "who recycled the battery and when follow attribute 11's tier: a filter would "
            "reveal them",
        ),
    }
    permission_classes = [PassportPermission]
    serializer_class = s.PassportSummarySerializer

    def get_queryset(self):
        requester = _requester(self.request)
        if self.action == "list":
            return selectors.summary_rows(requester).order_by("id")  # rows, no documents
        return selectors.visible_passports(requester).select_related("predecessor").order_by("id")

    def get_object(self):
        identifier = self.kwargs["identifier"]
        passport = self.get_queryset().filter(selectors.identifier_q(identifier)).first()
        if passport is None:
            raise NotFound(f"No passport {identifier!r} that you may see.")
        self.check_object_permissions(self.request, passport)
        return passport

    def read_row(self, requester: Requester, identifier: str) -> dict | None:
        """The detail read: the fast path (`make bench-passport` compares the ORM read)."""
        return selectors.passport_row(requester, identifier)

    @extend_schema(responses={200: s.PassportSummarySerializer(many=True), **INVALID})
    def list(self, request):
        """Passports with filters; cursor-paginated (follow `next`)."""
        requester = _requester(request)
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        seen = [selectors.as_seen(requester, row, document=False) for row in page]
        return self.get_paginated_response(self.get_serializer(seen, many=True).data)

    @extend_schema(
        parameters=[IF_NONE_MATCH, ETAG],
        responses={
            200: s.PassportDetailSerializer,
            304: OpenApiResponse(description="Not modified: the ETag you sent is current"),
            **NOT_FOUND,
        },
    )
    def retrieve(self, request, identifier=None):
        """One passport by any of its identifiers. Conditional GET: send If-None-Match
        with the ETag you hold and get 304 when nothing you may see has changed."""
        requester = _requester(request)
        row = self.read_row(requester, identifier)
        if row is None:
            raise NotFound(f"No passport {identifier!r} that you may see.")
        roles = selectors.row_roles(requester, row)
        tag = selectors.row_etag(row, roles)
        if request.headers.get("If-None-Match") == tag:
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": tag})
        key = _detail_key(request, tag)
        body = kept(key)
        if body is None:
            seen = selectors.as_seen(requester, row, roles=roles)
            data = s.PassportDetailSerializer(seen, context={"request": request}).data
            body = JSONRenderer().render(data)
            keep(key, body, DETAIL_SECONDS)
        return HttpResponse(body, content_type="application/json", headers={"ETag": tag})

    @extend_schema(
        request=s.PassportCreateSerializer,
        responses={201: s.PassportDetailSerializer, **WRITE},
    )
    def create(self, request):
        """A draft passport for one battery."""
        body = _body(s.PassportCreateSerializer, request)
        rules.authorize_create(request.user, body["battery_model"])
        passport = services.passport_create(user=request.user, **body)
        return _detail(request, passport, status.HTTP_201_CREATED)

    @extend_schema(
        request=s.PassportDraftSerializer,
        responses={200: s.PassportDetailSerializer, **WRITE_ON_ONE},
    )
    def partial_update(self, request, identifier=None):
        """Edit a draft's data (published passports are revised into new versions)."""
        passport = self.get_object()
        body = _body(s.PassportDraftSerializer, request)
        passport = services.passport_update_draft(
            passport=passport,
            user=request.user,
            data=body["data"],
            expected_revision=preconditions.require_counter(
                request, body.get("revision"), name="revision"
            ),
        )
        return _detail(request, passport)

    @extend_schema(
        request=s.PublishSerializer, responses={200: s.PassportDetailSerializer, **WRITE_ON_ONE}
    )
    @action(detail=True, methods=["post"])
    def publish(self, request, identifier=None):
        """Publish a draft: refused (400) while an attribute mandatory for its category is
        missing or the document does not meet the Battery Pass schemas."""
        passport = self.get_object()
        body = _body(s.PublishSerializer, request)
        passport = services.passport_publish(passport=passport, user=request.user, **body)
        return _detail(request, passport)

    @extend_schema(
        request=s.ReviseSerializer, responses={200: s.PassportDetailSerializer, **WRITE_ON_ONE}
    )
    @action(detail=True, methods=["post"])
    def revise(self, request, identifier=None):
        """Publish a change as a new version (earlier versions stay readable)."""
        passport = self.get_object()
        body = _body(s.ReviseSerializer, request)
        passport = services.passport_revise(
            passport=passport,
            data=body["data"],
            user=request.user,
            note=body["note"],
            expected_version=preconditions.require_counter(request, body.get("version")),
            battery_status=body.get("battery_status"),
        )
        return _detail(request, passport)

    @extend_schema(
        request=s.RepurposeSerializer, responses={201: s.PassportDetailSerializer, **WRITE_ON_ONE}
    )
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticatedOrReadOnly])
    def repurpose(self, request, identifier=None):
        """A new passport for the repurposed or remanufactured battery, linked to this one."""
        passport = self.get_object()
        body = _body(s.RepurposeSerializer, request)
        rules.authorize_repurpose(
            request.user,
            passport,
            economic_operator=body["economic_operator"],
            battery_model=body.get("battery_model"),
        )
        successor = services.passport_repurpose(
            passport=passport,
            new_status=body["battery_status"],
            battery_identifier=body["battery_identifier"],
            economic_operator=body["economic_operator"],
            battery_model=body.get("battery_model"),
            data=body["data"],
            user=request.user,
        )
        return _detail(request, successor, status.HTTP_201_CREATED)

    @extend_schema(
        request=life_s.RecycleSerializer,
        responses={200: s.PassportDetailSerializer, **WRITE_ON_ONE},
    )
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticatedOrReadOnly])
    def recycle(self, request, identifier=None):
        """The battery was recycled: its passport ceases (Art. 77(6)); its versions stay
        readable. Its status must be waste first (revise with battery_status "waste");
        twice is refused (409). The manufacturer's or operator's people, staff, or a
        recycler holding a recycler's grant for the manufacturer."""
        passport = self.get_object()
        body = _body(life_s.RecycleSerializer, request)
        recycler = rules.authorize_recycle(request.user, passport, body.get("recycler"))
        passport = services.passport_recycle(
            passport=passport, recycled_on=body["recycled_on"], recycler=recycler, user=request.user
        )
        return _detail(request, passport)

    @extend_schema(responses={200: life_s.ChainSerializer, **NOT_FOUND})
    @action(detail=True, filter_backends=[], pagination_class=None)
    def chain(self, request, identifier=None):
        """The battery's passports before and after this one (repurposing, remanufacturing),
        each as your tier may see it."""
        result = life_chain.chain(_requester(request), self.get_object())
        return Response(life_s.ChainSerializer(result).data)

    @extend_schema(responses={200: life_s.RegistrationRecordSerializer, **NOT_FOUND})
    @action(detail=True, filter_backends=[], pagination_class=None)
    def registration(self, request, identifier=None):
        """The passport's record for the EU digital product passport registry (public values
        only; a draft has none)."""
        record = registry_record.record_for(self.get_object())
        if record is None:
            raise NotFound(f"No passport {identifier!r} that you may see.")
        return Response(life_s.RegistrationRecordSerializer(record).data)

    @extend_schema(methods=["get"], responses={200: s.ReadingSerializer(many=True), **NOT_FOUND})
    @extend_schema(
        methods=["post"],
        request=s.ReadingInputSerializer,
        responses={201: s.ReadingSerializer, **WRITE_ON_ONE},
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[], pagination_class=None)
    def readings(self, request, identifier=None):
        """Dynamic data as a time series: append a reading, or read those you may see."""
        passport = self.get_object()
        if request.method == "POST":
            body = _body(s.ReadingInputSerializer, request)
            reading = services.append_reading(
                passport=passport,
                number=body["attribute"],
                value=body["value"],
                measured_at=body["measured_at"],
                user=request.user,
            )
            return Response(s.ReadingSerializer(reading).data, status=status.HTTP_201_CREATED)
        readings = selectors.readings_as_seen(_requester(request), passport)
        return Response(s.ReadingSerializer(readings, many=True).data)

    @extend_schema(responses={200: s.VersionSummarySerializer(many=True), **NOT_FOUND})
    @action(detail=True, filter_backends=[], pagination_class=None)
    def versions(self, request, identifier=None):
        """Every published version, newest last."""
        versions = selectors.versions_as_seen(_requester(request), self.get_object())
        return Response(s.VersionSummarySerializer(versions, many=True).data)

    @extend_schema(responses={200: s.PassportDocumentSerializer, **NOT_FOUND})
    @action(
        detail=True, url_path=r"versions/(?P<number>\d+)", filter_backends=[], pagination_class=None
    )
    def version(self, request, identifier=None, number=None):
        """One earlier version, as your tier may see it."""
        passport = self.get_object()
        version = get_object_or_404(passport.versions, number=int(number))
        seen = selectors.version_as_seen(_requester(request), passport, version)
        return Response(s.PassportDocumentSerializer(seen, context={"request": request}).data)

    @extend_schema(responses={200: s.BatteryPassExportSerializer, **NOT_FOUND})
    @action(detail=True, url_path="export/batterypass", filter_backends=[], pagination_class=None)
    def export_batterypass(self, request, identifier=None):
        """The passport as a Battery Pass 1.2.0 document (the seven aspects), holding only
        what your tier may see."""
        document = selectors.batterypass_export(_requester(request), self.get_object())
        return Response(s.BatteryPassExportSerializer(document).data)

    @extend_schema(responses={200: s.CatenaXExportSerializer, **NOT_FOUND})
    @action(detail=True, url_path="export/catenax", filter_backends=[], pagination_class=None)
    def export_catenax(self, request, identifier=None):
        """The passport as a Catena-X BatteryPass 6.1.0 object, holding only what your tier
        may see."""
        document = selectors.catenax_export(_requester(request), self.get_object())
        return Response(s.CatenaXExportSerializer(document).data)

    @extend_schema(responses={200: aas_s.AasEnvironmentSerializer, **NOT_FOUND})
    @action(detail=True, url_path="export/aas", filter_backends=[], pagination_class=None)
    def export_aas(self, request, identifier=None):
        """The passport as an Asset Administration Shell (AAS v3.0 environment, IDTA-02035
        style submodels), holding only what your tier may see."""
        environment = selectors.aas_export(_requester(request), self.get_object())
        return Response(aas_s.AasEnvironmentSerializer(environment).data)


class PassportBulkView(APIView):
    permission_classes = [AllowAny]  # a read: each passport is cut to the tier

    @extend_schema(request=s.BulkSerializer, responses={200: s.BulkResultSerializer, **INVALID})
    def post(self, request):
        """Up to 500 passports by identifier in one call; unknown ones are listed."""
        identifiers = _body(s.BulkSerializer, request)["identifiers"]
        requester = _requester(request)
        rows, missing = selectors.passports_named(requester, identifiers)
        results = [selectors.as_seen(requester, row) for row in rows]
        return Response(
            s.BulkResultSerializer(
                {"results": results, "not_found": missing}, context={"request": request}
            ).data
        )


class ChangeFeedView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("since", int, description="The cursor: events after it"),
            OpenApiParameter("limit", int, description="At most this many events (1-1000)"),
        ],
        responses={200: s.ChangeFeedSerializer, **INVALID},
    )
    def get(self, request):
        """What changed since a cursor: each event names the passport, the version and the
        attributes that changed (those you may see). Pass `next_cursor` back as `since`."""
        try:
            since = int(request.query_params.get("since", 0))
            limit = min(max(int(request.query_params.get("limit", 100)), 1), 1000)
        except ValueError as exc:
            raise ValidationError({"since": "since and limit are integers"}) from exc
        feed = selectors.change_feed(_requester(request), since, limit)
        return Response(s.ChangeFeedSerializer(feed).data)


class PassportImportView(APIView):
    @extend_schema(request=s.ImportSerializer, responses={201: s.PassportDetailSerializer, **WRITE})
    def post(self, request):
        """Import a Battery Pass 1.2.0 document as a draft passport; an invalid document is
        rejected with every schema error listed."""
        body = _body(s.ImportSerializer, request)
        rules.authorize_import(request.user, body["battery_model"])
        predecessor = None
        if body.get("predecessor"):
            predecessor = services.predecessor_for(_requester(request), body["predecessor"])
        passport = services.passport_import(
            document=body["document"],
            battery_model=body["battery_model"],
            economic_operator=body["economic_operator"],
            user=request.user,
            predecessor=predecessor,
        )
        return _detail(request, passport, status.HTTP_201_CREATED)
