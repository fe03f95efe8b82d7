"""Reads on tokens and on the history of every tracked model (the audit page)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import DEFAULT_DB_ALIAS
from django.db.models import CharField, F, Model, QuerySet, Value
from django.db.models.functions import Cast
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
    username: str | None
    record: str


# The fields that name a record, the first a model has; others read "<name> #<id>".
NAMING_FIELDS = ("name", "legal_name", "code", "internal_id", "title")
AUDIT_COLUMNS = (
    "a_model",
    "history_id",
    "history_date",
    "a_object",
    "a_change",
    "a_reason",
    "a_username",
    "a_name",
)


def _naming(historical) -> Any:
    names = {f.name for f in historical._meta.concrete_fields}
    field = next((f for f in NAMING_FIELDS if f in names), None)
    return Cast(field, CharField()) if field else Value("", output_field=CharField())


def audit_queryset(model_label: str | None = None, user_id: int | None = None):
    """One UNION over the historical tables, newest first: each record with what its row on
    the page shows (its name, its user's username), so a page is one query whatever models
    it holds."""
    parts = []
    for label, historical in historical_models().items():
        if model_label and label != model_label:
            continue
        # No Meta ordering: a UNION member may not have one.
        part = historical._default_manager.order_by()
        if user_id is not None:
            part = part.filter(history_user_id=user_id)
        # Every column an annotation, in one order: the members' columns line up.
        parts.append(
            part.annotate(
                a_model=Value(label, output_field=CharField()),
                a_object=F("id"),
                a_change=F("history_type"),
                a_reason=F("history_change_reason"),
                a_username=F("history_user__username"),
                a_name=_naming(historical),
            ).values_list(*AUDIT_COLUMNS)
        )
    if not parts:
        return None
    first, *rest = parts
    union = first.union(*rest, all=True) if rest else first
    return union.order_by("-history_date", "-history_id")


def audit_rows(page) -> list[AuditRow]:
    """The page's rows, as read by audit_queryset: no query of their own."""
    names = {label: str(apps.get_model(label)._meta.verbose_name) for label in historical_models()}
    rows = []
    for label, history_id, when, object_id, change, reason, username, name in page:
        verbose_name = names[label]
        rows.append(
            AuditRow(
                model=label,
                verbose_name=verbose_name,
                object_id=object_id,
                history_id=history_id,
                when=when,
                change=CHANGE_TYPES.get(change, change),
                reason=reason,
                username=username,
                record=name or f"{verbose_name} #{object_id}",
            )
        )
    return rows
