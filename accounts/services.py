"""Writes on API tokens: issue, revoke, record use."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import Q
from django.utils import timezone

from .models import ApiToken

DEFAULT_DAYS = 90
MAX_DAYS = 365
# Recognisable in logs and by secret scanners; the rest is 256 bits from the OS.
RAW_PREFIX = "bmr_"
PREFIX_LENGTH = len(RAW_PREFIX) + 8
# last_used_at is rewritten only when older than this: no write per request.
USE_RECORD_INTERVAL = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    raw: str  # shown to the user once, never stored


def digest_of(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def validate_days(days: int) -> int:
    if not 1 <= days <= MAX_DAYS:
        raise ValidationError(f"A token lives 1 to {MAX_DAYS} days, not {days}.")
    return days


def issue_token(user, name: str, days: int = DEFAULT_DAYS) -> IssuedToken:
    name = (name or "").strip()
    if not name:
        raise ValidationError("A token needs a name (what it is for).")
    validate_days(days)
    raw = RAW_PREFIX + secrets.token_urlsafe(32)
    now = timezone.now()
    token = ApiToken(
        user=user,
        name=name[:100],
        prefix=raw[:PREFIX_LENGTH],
        digest=digest_of(raw),
        created_at=now,
        expires_at=now + dt.timedelta(days=days),
    )
    token._change_reason = "issued"  # type: ignore[attr-defined]  # read by simple_history
    token.save()
    return IssuedToken(token=token, raw=raw)


@transaction.atomic
def revoke_token(user, token_id: int) -> ApiToken:
    """A user revokes one of their own tokens (staff revoke others' in the admin).
    Idempotent."""
    token = ApiToken.objects.select_for_update().get(pk=token_id, user=user)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token._change_reason = "revoked"  # type: ignore[attr-defined]
        token.save(update_fields=["revoked_at"])
    return token


def record_use(token: ApiToken, now: dt.datetime | None = None) -> None:
    """Note the token was used, at most once per USE_RECORD_INTERVAL.

    A conditional UPDATE on the primary, named explicitly: it neither creates a history row
    nor pins the requester's reads to the primary (the router pins on routed writes)."""
    now = now or timezone.now()
    stale_before = now - USE_RECORD_INTERVAL
    if token.last_used_at is not None and token.last_used_at > stale_before:
        return
    ApiToken.objects.using(DEFAULT_DB_ALIAS).filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale_before)
    ).update(last_used_at=now)
    token.last_used_at = now
