"""The API's permission classes: thin adapters of each app's allow rules
(registry/permissions.py, passports/permissions.py) to DRF."""

from rest_framework import permissions

from passports import permissions as passport_rules
from registry import permissions as registry_rules


class RecordOwnerOrStaff(permissions.BasePermission):
    """Anyone reads; staff and compliance officers add records (they log their suppliers);
    changing one is for staff and the people of the companies it belongs to, before the
    change and after it (the viewsets ask again once the change is made)."""

    message = registry_rules.RECORD_REFUSED

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return True
        return registry_rules.can_add_records(request.user)

    def has_object_permission(self, request, view, obj):
        if request.method in permissions.SAFE_METHODS:
            return True
        return registry_rules.can_change_record(request.user, obj)


class PassportPermission(permissions.IsAuthenticatedOrReadOnly):
    """Anyone reads (every answer is cut to the tier); a passport is changed by its
    manufacturer's or economic operator's people (passports.permissions.can_change)."""

    message = passport_rules.CHANGE_REFUSED

    def has_object_permission(self, request, view, obj):
        return request.method in permissions.SAFE_METHODS or passport_rules.can_change(
            request.user, obj
        )
