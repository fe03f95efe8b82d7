"""Site search over battery passports, only those the requester may see."""

from django.db.models import Q

from registry.querysets import Requester

from .selectors import visible_passports

# Attributes 1 (identifiers) and 2 (model) are public: matching on them reveals nothing a
# tier may not see. Drafts reach their owners only (visible_passports).
SEARCHED = (
    "internal_id",
    "batterypass_id",
    "battery_model__model_identifier",
    "battery_model__name",
)


def passports_matching(requester: Requester, text: str):
    """The passports `requester` may see whose identifier or model holds `text`."""
    query = Q()
    for column in SEARCHED:
        query |= Q(**{f"{column}__icontains": text})
    return (
        visible_passports(requester)
        .filter(query)
        .select_related("battery_model__manufacturer")
        .order_by("internal_id", "pk")
    )
