from rest_framework import permissions

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
