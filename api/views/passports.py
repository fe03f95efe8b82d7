from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import AllowAny, IsAuthenticatedOrReadOnly
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers import passports as s
from passports import access, selectors, services
from passports.access import Viewer
from passports.filters import PassportFilterSet
from passports.models import BatteryModel, PassportEvent
from registry.querysets import Requester


class JSONOnly(BaseContentNegotiation):
    """Passports are machine reads: JSON always, without parsing Accept on every call."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class PassportCursor(CursorPagination):
    ordering = "id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500


def _viewer(request) -> Viewer:
    if not hasattr(request, "_passport_viewer"):
        request._passport_viewer = Viewer.for_user(request.user)
    return request._passport_viewer


def row_summary(row: dict, request, roles) -> dict:
    """The same fields as `summary`, from a plain row (the hot read path)."""
    sees_status = access.can_see(11, roles)
    return {
        "url": request.build_absolute_uri(f"/api/passports/{row['internal_id']}/"),
        "internal_id": row["internal_id"],
        "batterypass_id": row["batterypass_id"],
        "uuid": str(row["uuid"]),
        "battery_identifier": row["battery_identifier"],
        "battery_model": row["battery_model__model_identifier"],
        "manufacturer": row["battery_model__manufacturer_id"],
        "economic_operator": row["economic_operator_id"],
        "category": row["battery_model__category"],
        "chemistry": row["battery_model__chemistry"],
        "lifecycle": row["lifecycle"],
        "battery_status": row["battery_status"] if sees_status else None,
        "version": row["version"],
        "updated_at": row["updated_at"],
        "predecessor": row["predecessor__internal_id"] if sees_status else None,
        "demo": row["demo"],
    }


def summary(passport, request, roles) -> dict:
    """`row_summary` for a model instance: one implementation of what each tier sees."""
    return row_summary(selectors.row_of(passport), request, roles)


class BatteryModelViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Battery models: the static attributes of every battery of a model, and its supply
    chain (relationships, mines, attestations). Written by the manufacturer."""

    queryset = BatteryModel.objects.prefetch_related(
        "supply_relationships", "mined_sources", "attestations"
    ).order_by("id")
    serializer_class = s.BatteryModelSerializer
    permission_classes = [IsAuthenticatedOrReadOnly]

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "viewer": _viewer(self.request)}

    filterset_fields = ["manufacturer", "category", "chemistry"]

    def perform_create(self, serializer):
        manufacturer = serializer.validated_data["manufacturer"]
        if not services.can_manage(self.request.user, manufacturer.pk):
            raise PermissionDenied("Only the manufacturer's people may add its battery models.")
        self._check_data(serializer.validated_data.get("data", {}))
        serializer.save()

    def perform_update(self, serializer):
        new = serializer.validated_data.get("manufacturer")
        if new is not None and new.pk != serializer.instance.manufacturer_id:
            raise ValidationError({"manufacturer": "A battery model keeps its manufacturer."})
        if not services.can_manage(self.request.user, serializer.instance.manufacturer_id):
            raise PermissionDenied("Only the manufacturer's people may change its battery models.")
        self._check_data(serializer.validated_data.get("data", {}))
        serializer.save()

    def _check_data(self, data):
        from passports.schemas import schema_errors

        errors = schema_errors(data, partial=True)
        if errors:
            raise ValidationError({"data": errors})

    @extend_schema(responses=s.ProvenanceSerializer)
    @action(detail=True, filter_backends=[], pagination_class=None)
    def provenance(self, request, pk=None):
        """Recycled content per mineral (pre/post-consumer), conflict-area share, concentration
        and due-diligence coverage derived from the supply chain, and the Art. 8 minimums."""
        model = self.get_object()
        result = selectors.provenance(model, Requester.for_user(request.user))
        return Response(s.ProvenanceSerializer(result).data)


class PassportViewSet(viewsets.GenericViewSet):
    """Battery passports. Every answer holds only what your access tier may see."""

    lookup_field = "identifier"
    lookup_value_regex = r"[^/]+"
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONOnly
    filterset_class = PassportFilterSet
    pagination_class = PassportCursor
    permission_classes = [IsAuthenticatedOrReadOnly]
    serializer_class = s.PassportSummarySerializer

    def get_queryset(self):
        viewer = _viewer(self.request)
        queryset = selectors.visible_passports(viewer)
        if self.action == "list":
            # Summaries only: none of the large JSON columns.
            return selectors.for_reading(queryset, viewer, documents=False).order_by("id")
        return queryset.select_related("predecessor").order_by("id")

    def get_object(self):
        identifier = self.kwargs["identifier"]
        passport = self.get_queryset().filter(selectors.identifier_q(identifier)).first()
        if passport is None:
            raise NotFound(f"No passport {identifier!r} that you may see.")
        return passport

    def _manage(self, passport):
        if not services.can_manage(
            self.request.user, passport.battery_model.manufacturer_id, passport.economic_operator_id
        ):
            raise PermissionDenied("Only the manufacturer or economic operator may change it.")

    def _detail(self, passport, code=status.HTTP_200_OK):
        roles, document = selectors.passport_view(_viewer(self.request), passport)
        data = summary(passport, self.request, roles)
        data["tier"] = Viewer().tier_label(roles)
        data["public_page"] = self.request.build_absolute_uri(f"/p/{passport.internal_id}/")
        data["document"] = document
        return Response(data, status=code, headers={"ETag": selectors.etag(passport, roles)})

    @extend_schema(responses=s.PassportSummarySerializer(many=True))
    def list(self, request):
        """Passports with filters; cursor-paginated (follow `next`)."""
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        viewer = _viewer(request)
        return self.get_paginated_response(
            [summary(p, request, selectors.roles_for(viewer, p)) for p in page]
        )

    @extend_schema(responses=s.PassportDetailSerializer)
    def retrieve(self, request, identifier=None):
        """One passport by any of its identifiers. Conditional GET: send If-None-Match
        with the ETag you hold and get 304 when nothing you may see has changed."""
        viewer = _viewer(request)
        row = selectors.passport_row(viewer, identifier)
        if row is None:
            raise NotFound(f"No passport {identifier!r} that you may see.")
        roles, document = selectors.row_view(viewer, row)
        tag = selectors.row_etag(row, roles)
        if request.headers.get("If-None-Match") == tag:
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": tag})
        data = row_summary(row, request, roles)
        data["tier"] = Viewer().tier_label(roles)
        data["public_page"] = request.build_absolute_uri(f"/p/{row['internal_id']}/")
        data["document"] = document
        return Response(data, headers={"ETag": tag})

    @extend_schema(request=s.PassportCreateSerializer, responses={201: s.PassportDetailSerializer})
    def create(self, request):
        """A draft passport for one battery."""
        body = s.PassportCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if not services.can_manage(request.user, data["battery_model"].manufacturer_id):
            raise PermissionDenied("Only the manufacturer or economic operator may create it.")
        passport = services.passport_create(user=request.user, **data)
        return self._detail(passport, status.HTTP_201_CREATED)

    @extend_schema(request=s.PassportDraftSerializer, responses=s.PassportDetailSerializer)
    def partial_update(self, request, identifier=None):
        """Edit a draft's data (published passports are revised into new versions)."""
        passport = self.get_object()
        self._manage(passport)
        body = s.PassportDraftSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if_match = request.headers.get("If-Match", "").strip('"W/')
        passport = services.passport_update_draft(
            passport=passport,
            user=request.user,
            data=body.validated_data["data"],
            expected_revision=body.validated_data.get(
                "revision", int(if_match) if if_match.isdigit() else None
            ),
        )
        return self._detail(passport)

    @extend_schema(request=s.PublishSerializer, responses=s.PassportDetailSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request, identifier=None):
        """Publish a draft: refused (400) while an attribute mandatory for its category is
        missing or the document does not meet the Battery Pass schemas."""
        passport = self.get_object()
        self._manage(passport)
        body = s.PublishSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        passport = services.passport_publish(
            passport=passport, user=request.user, note=body.validated_data["note"]
        )
        return self._detail(passport)

    @extend_schema(request=s.ReviseSerializer, responses=s.PassportDetailSerializer)
    @action(detail=True, methods=["post"])
    def revise(self, request, identifier=None):
        """Publish a change as a new version (earlier versions stay readable)."""
        passport = self.get_object()
        self._manage(passport)
        body = s.ReviseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        passport = services.passport_revise(
            passport=passport,
            data=v["data"],
            user=request.user,
            note=v["note"],
            expected_version=v.get("version"),
            battery_status=v.get("battery_status"),
        )
        return self._detail(passport)

    @extend_schema(request=s.RepurposeSerializer, responses={201: s.PassportDetailSerializer})
    @action(detail=True, methods=["post"])
    def repurpose(self, request, identifier=None):
        """A new passport for the repurposed or remanufactured battery, linked to this one."""
        passport = self.get_object()
        body = s.RepurposeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        if not services.can_repurpose(request.user, passport, v["economic_operator"].pk):
            raise PermissionDenied("Only the new economic operator (or staff) may repurpose it.")
        model = v.get("battery_model")
        if model is not None and not services.can_manage(request.user, model.manufacturer_id):
            raise PermissionDenied("Name a battery model of your own company.")
        if model is None and not services.can_manage(
            request.user, passport.battery_model.manufacturer_id, passport.economic_operator_id
        ):
            raise ValidationError(
                {
                    "battery_model": "A second-life operator names its own battery model "
                    "(the original's stays with its manufacturer)."
                }
            )
        successor = services.passport_repurpose(
            passport=passport,
            new_status=v["battery_status"],
            battery_identifier=v["battery_identifier"],
            economic_operator=v["economic_operator"],
            battery_model=v.get("battery_model"),
            data=v["data"],
            user=request.user,
        )
        return self._detail(successor, status.HTTP_201_CREATED)

    @extend_schema(methods=["get"], responses=s.ReadingSerializer(many=True))
    @extend_schema(
        methods=["post"], request=s.ReadingInputSerializer, responses={201: s.ReadingSerializer}
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[], pagination_class=None)
    def readings(self, request, identifier=None):
        """Dynamic data as a time series: append a reading, or read those you may see."""
        passport = self.get_object()
        if request.method == "POST":
            self._manage(passport)
            body = s.ReadingInputSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            v = body.validated_data
            reading = services.append_reading(
                passport=passport,
                number=v["attribute"],
                value=v["value"],
                measured_at=v["measured_at"],
                user=request.user,
            )
            return Response(s.ReadingSerializer(reading).data, status=status.HTTP_201_CREATED)
        visible = access.visible_numbers(selectors.roles_for(_viewer(request), passport))
        readings = passport.readings.select_related("attribute").filter(
            attribute__number__in=visible
        )
        return Response(s.ReadingSerializer(readings, many=True).data)

    @extend_schema(responses=s.VersionSummarySerializer(many=True))
    @action(detail=True, filter_backends=[], pagination_class=None)
    def versions(self, request, identifier=None):
        """Every published version, newest last."""
        passport = self.get_object()
        visible = access.visible_numbers(selectors.roles_for(_viewer(request), passport))
        return Response(
            s.VersionSummarySerializer(
                passport.versions.select_related("created_by"),
                many=True,
                context={"visible": visible},
            ).data
        )

    @extend_schema(responses=s.PassportDetailSerializer)
    @action(
        detail=True, url_path=r"versions/(?P<number>\d+)", filter_backends=[], pagination_class=None
    )
    def version(self, request, identifier=None, number=None):
        """One earlier version, as your tier may see it."""
        passport = self.get_object()
        version = get_object_or_404(passport.versions, number=int(number))
        roles = selectors.roles_for(_viewer(request), passport)
        data = summary(passport, request, roles)
        data.update(
            version=version.number,
            battery_status=version.battery_status if access.can_see(11, roles) else None,
            tier=Viewer().tier_label(roles),
            document=access.project(version.document, roles),
        )
        return Response(data)

    @extend_schema(
        parameters=[OpenApiParameter("format", enum=["batterypass", "catenax"], location="path")]
    )
    @action(
        detail=True,
        url_path=r"export/(?P<export_format>batterypass|catenax)",
        filter_backends=[],
        pagination_class=None,
    )
    def export(self, request, identifier=None, export_format=None):
        """The passport in a published format: Battery Pass 1.2.0 (the seven aspects) or
        Catena-X BatteryPass 6.1.0, holding only what your tier may see."""
        from passports.exports import to_batterypass, to_catenax_document

        passport = self.get_object()
        roles, document = selectors.passport_view(_viewer(request), passport)
        if export_format == "batterypass":
            return Response(to_batterypass(document))
        return Response(
            to_catenax_document(passport, document, sees_status=access.can_see(11, roles))
        )


class PassportBulkView(APIView):
    permission_classes = [AllowAny]  # a read: each passport is filtered by tier

    @extend_schema(request=s.BulkSerializer, responses=s.BulkResultSerializer)
    def post(self, request):
        """Up to 500 passports by identifier in one call; unknown ones are listed."""
        body = s.BulkSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        identifiers = body.validated_data["identifiers"]
        viewer = _viewer(request)
        query = Q()
        for identifier in identifiers:
            query |= selectors.identifier_q(identifier)
        results, matched = [], set()
        for row in selectors.passport_rows(viewer, query):
            roles, document = selectors.row_view(viewer, row)
            matched |= {row["internal_id"], row["batterypass_id"], row["uuid"]}
            item = row_summary(row, request, roles)
            item.update(tier=Viewer().tier_label(roles), document=document)
            results.append(item)
        # Identifiers are matched in the form they were asked for (a UUID in any case).
        missing = [i for i in identifiers if selectors.identifier_value(i) not in matched]
        return Response({"results": results, "not_found": missing})


class ChangeFeedView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("since", int), OpenApiParameter("limit", int)],
        responses=s.ChangeFeedSerializer,
    )
    def get(self, request):
        """What changed since a cursor: each event names the passport, the version and the
        attributes that changed (those you may see). Pass `next_cursor` back as `since`."""
        try:
            since = int(request.query_params.get("since", 0))
            limit = min(max(int(request.query_params.get("limit", 100)), 1), 1000)
        except ValueError as exc:
            raise ValidationError({"since": "since and limit are integers"}) from exc
        viewer = _viewer(request)
        visible_ids = selectors.visible_passports(viewer).values("id")
        events = list(
            PassportEvent.objects.filter(id__gt=since, passport_id__in=visible_ids)
            .select_related("passport__battery_model")
            .order_by("id")[:limit]
        )
        rows = []
        for event in events:
            passport = event.passport
            visible = access.visible_numbers(selectors.roles_for(viewer, passport))
            attributes = [n for n in event.attributes if n in visible]
            if event.kind == PassportEvent.Kind.READING and not attributes:
                continue  # a reading of an attribute this requester may not see
            rows.append(
                {
                    "id": event.id,
                    "passport": passport.internal_id,
                    "kind": event.kind,
                    "version": event.version,
                    "attributes": attributes,
                    "at": event.at,
                }
            )
        next_cursor = events[-1].id if events else since
        return Response({"events": rows, "next_cursor": next_cursor, "more": len(events) == limit})


class PassportImportView(APIView):
    @extend_schema(request=s.ImportSerializer, responses={201: s.PassportDetailSerializer})
    def post(self, request):
        """Import a Battery Pass 1.2.0 document as a draft passport; an invalid document is
        rejected with every schema error listed."""
        body = s.ImportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        if not services.can_manage(request.user, v["battery_model"].manufacturer_id):
            raise PermissionDenied("Only the manufacturer or economic operator may import it.")
        predecessor = None
        if v.get("predecessor"):
            viewer = _viewer(request)
            predecessor = (
                selectors.visible_passports(viewer)
                .filter(selectors.identifier_q(v["predecessor"]))
                .first()
            )
            if predecessor is not None and not access.can_see(
                11, selectors.roles_for(viewer, predecessor)
            ):
                predecessor = None
            if predecessor is None:
                raise ValidationError({"predecessor": f"No passport {v['predecessor']!r}."})
        passport = services.passport_import(
            document=v["document"],
            battery_model=v["battery_model"],
            economic_operator=v["economic_operator"],
            user=request.user,
            predecessor=predecessor,
        )
        view = PassportViewSet()
        view.request = request
        return view._detail(passport, status.HTTP_201_CREATED)
