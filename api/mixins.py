"""What the registry's writable viewsets share: the allow rule holds before and after a
change, and an update names the state it changes (config.preconditions)."""

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from config import preconditions
from registry import permissions as registry_rules

IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    required=True,
    description="The ETag of the record as you read it; without it 428, stale 412.",
)

IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    str,
    OpenApiParameter.HEADER,
    description="The ETag you hold: 304 when the record has not changed since.",
)


class GuardedRecordMixin:
    """For ModelViewSets of registry records (companies, facilities, mines, flows)."""

    @extend_schema(parameters=[IF_NONE_MATCH])
    def retrieve(self, request, *args, **kwargs):
        """Conditional GET: If-None-Match with the ETag you hold gets 304 when unchanged."""
        record = self.get_object()
        tag = preconditions.record_etag(record)
        if request.headers.get("If-None-Match") == tag:
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": tag})
        return Response(self.get_serializer(record).data, headers={"ETag": tag})

    @extend_schema(parameters=[IF_MATCH])
    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        with transaction.atomic():
            record = self.get_object()  # the rule, as the record is before
            manager = type(record)._default_manager
            locked = manager.select_for_update().get(pk=record.pk)
            preconditions.require_etag(request, preconditions.record_etag(locked))
            serializer = self.get_serializer(record, data=request.data, partial=partial)
            serializer.is_valid(raise_exception=True)
            self.perform_update(serializer)  # and the rule as it is after
            record._prefetched_objects_cache = {}  # answer with the links just written
            # The ETag of what is stored (read back: values as the database keeps them).
            tag = preconditions.record_etag(manager.get(pk=record.pk))
        return Response(serializer.data, headers={"ETag": tag})

    @extend_schema(parameters=[IF_MATCH])
    def partial_update(self, request, *args, **kwargs):
        kwargs["partial"] = True
        return self.update(request, *args, **kwargs)

    def perform_update(self, serializer):
        record = serializer.save()
        registry_rules.authorize_record_change(self.request.user, record)  # and after
