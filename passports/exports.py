"""The published exports, built from a document already projected for the requester."""

from __future__ import annotations

from .catalogue import ASPECTS
from .catenax import CatenaXContext, to_catenax


def to_batterypass(document: dict) -> dict:
    """Battery Pass 1.2.0: the seven aspects, in their order, as the tier may see them."""
    return {aspect: document[aspect] for aspect in ASPECTS if aspect in document}


def to_catenax_document(
    passport, document: dict, *, sees_status: bool = True, extra: dict | None = None
) -> dict:
    """`sees_status`: the predecessor link reveals the battery status (attribute 11).
    `extra`: the model's catenax_extra as the tier may see it (access.project_extra); the
    whole of it when not given."""

    operator = passport.economic_operator
    context = CatenaXContext(
        passport_uuid=str(passport.uuid),
        predecessor_uuid=(
            str(passport.predecessor.uuid) if sees_status and passport.predecessor_id else None
        ),
        version=str(max(passport.version, 1)),
        issue_date=(passport.published_at or passport.created_at).date(),
        last_modification=passport.updated_at.date(),
        economic_operator_id=operator.lei or f"registry:{operator.pk}",
        status=passport.lifecycle,
        extra=passport.battery_model.catenax_extra if extra is None else extra,
    )
    return to_catenax(document, context)
