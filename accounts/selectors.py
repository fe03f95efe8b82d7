"""Reads on tokens and on the history of every tracked model (the audit page)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS
from django.db.models import CharField, Model, QuerySet, Value
from django.utils import timezone

from .models import ApiToken
from .services import digest_of

# The apps whose historical models the audit page lists.
AUDITED_APPS = ("registry", "taxonomy", "passports", "accounts")
CHANGE_TYPES = {"+": "created", "~": "changed", "-": "deleted"}


def tokens_of(user) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user)


def token_for(raw: str) -> ApiToken | None:
    """The token with this raw value, with its user; None when unknown.

    Read from the primary: a revocation counts at once, whatever a replica's lag. The
    user's membership and organisation come along: every API read names the requester's
    tier from them (Requester.for_user), two queries fewer per request."""
    return (
        ApiToken.objects.using(DEFAULT_DB_ALIAS)
        .select_related("user__membership__organisation")
        .filter(digest=digest_of(raw))
        .first()
    )


def token_refusal(token: ApiToken | None, now=None) -> str | None:
    """Why this token may not be used (None: it may)."""
    if token is None:
        return "Invalid token."
    if token.is_revoked:
        return "Token revoked."
    if token.is_expired(now or timezone.now()):
        return "Token expired."
    if not token.user.is_active:
        return "User inactive or deleted."
    return None


# --- Audit -----------------------------------------------------------------------------


def historical_models() -> dict[str, type[Model]]:
    """label ("registry.Company") -> its historical model, for the audited apps."""
    found = {}
    for model in apps.get_models():
        instance_type = getattr(model, "instance_type", None)
        if instance_type is None or model._meta.app_label not in AUDITED_APPS:
            continue
        if not model.__name__.startswith("Historical"):
            continue
        found[instance_type._meta.label] = model
    return dict(sorted(found.items()))


@dataclass
class AuditRow:
    model: str
    verbose_name: str
    object_id: int
    history_id: int
    when: object
    change: str
    reason: str | None
    user: object | None
    record: str


def audit_queryset(model_label: str | None = None, user_id: int | None = None):
    """One UNION over the historical tables: (model, history id, date) per record, newest
    first. The rows of one page are completed afterwards, one query per model."""
    parts = []
    for label, historical in historical_models().items():
        if model_label and label != model_label:
            continue
        # No Meta ordering: a UNION member may not have one.
        part = historical._default_manager.order_by()
        if user_id is not None:
            part = part.filter(history_user_id=user_id)
        parts.append(
            part.annotate(model=Value(label, output_field=CharField())).values_list(
                "model", "history_id", "history_date"
            )
        )
    if not parts:
        return None
    first, *rest = parts
    union = first.union(*rest, all=True) if rest else first
    return union.order_by("-history_date", "-history_id")


def audit_rows(keys) -> list[AuditRow]:
    """The page's (model, history id, date) keys as rows: one query per model on the
    page for the records, one for their users."""
    models_ = historical_models()
    wanted: dict[str, list[int]] = {}
    for label, history_id, _ in keys:
        wanted.setdefault(label, []).append(history_id)
    records: dict[tuple[str, int], Any] = {}  # historical models are built at run time
    for label, ids in wanted.items():
        for found in models_[label]._default_manager.filter(history_id__in=ids):
            records[(label, found.pk)] = found
    user_ids = {r.history_user_id for r in records.values() if r.history_user_id}
    users = get_user_model().objects.in_bulk(user_ids)
    rows = []
    for label, history_id, when in keys:
        record = records.get((label, history_id))
        if record is None:
            continue
        rows.append(
            AuditRow(
                model=label,
                verbose_name=str(record.instance_type._meta.verbose_name),
                object_id=record.id,
                history_id=history_id,
                when=when,
                change=CHANGE_TYPES.get(record.history_type, record.history_type),
                reason=record.history_change_reason,
                user=users.get(record.history_user_id),
                record=_describe(record),
            )
        )
    return rows


def _describe(record) -> str:
    """The record as it was; str() of models that follow relations would query per row,
    so those fall back to "<verbose name> #<id>"."""
    for field in ("name", "legal_name", "code", "internal_id", "title"):
        value = getattr(record, field, None)
        if isinstance(value, str) and value:
            return value
    return f"{record.instance_type._meta.verbose_name} #{record.id}"
