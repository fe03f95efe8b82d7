from rest_framework import permissions

from registry.models import Company, Facility, MinedSource, SourceLink, SupplyRelationship
from registry.services import can_log_attestations


class DataKeeperOrReadOnly(permissions.BasePermission):
    """Anyone reads; staff and compliance officers write registry master data."""

    message = "Only staff and compliance officers may change registry data."

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return True
        return bool(request.user and request.user.is_authenticated) and (
            request.user.is_staff or can_log_attestations(request.user)
        )


def company_ids_of(obj) -> set[int]:
    """The companies a registry record belongs to (whose people may change it)."""

    if isinstance(obj, Company):
        return {obj.pk}
    if isinstance(obj, Facility):
        return {obj.company_id}
    if isinstance(obj, MinedSource):
        return {obj.operator_id, *obj.ownerships.values_list("company_id", flat=True)} - {None}
    if isinstance(obj, SupplyRelationship):
        return {obj.supplier_id, obj.buyer_id}
    if isinstance(obj, SourceLink):
        return {obj.facility.company_id}
    return set()


class RecordOwnerOrStaff(DataKeeperOrReadOnly):
    """Any compliance officer may add a record (they log their suppliers); changing one is
    for staff and the people of the companies it belongs to."""

    message = "Only staff or the company's own people may change this record."

    def has_object_permission(self, request, view, obj):
        if request.method in permissions.SAFE_METHODS or request.user.is_staff:
            return True
        membership = getattr(request.user, "membership", None)
        return bool(membership and membership.organisation.company_id in company_ids_of(obj))
