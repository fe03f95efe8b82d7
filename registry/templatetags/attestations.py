"""`user|may_log_attestations`: whether to offer "Log an attestation" on a page (the
permission rule itself is registry.permissions')."""

from django import template

from registry.permissions import can_log_attestations

register = template.Library()


@register.filter
def may_log_attestations(user) -> bool:
    return can_log_attestations(user)
