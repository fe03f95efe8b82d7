"""Optimistic concurrency for updates over HTTP: an update says which state it changes
(If-Match with the ETag it read, or the record's `version`), or it is refused with 428;
a stale one is refused with 412 (ETag) or 409 (version), so no change is lost silently."""

from __future__ import annotations

import hashlib
import json

from django.db import models

from .errors import PreconditionFailed, PreconditionRequired

MISSING = (
    "Send If-Match with the ETag you read (or the `version` you read), so that a change made "
    "since is not overwritten."
)


def record_etag(record: models.Model) -> str:
    """A strong ETag of a record's stored state: its own fields and many-to-many links."""
    meta = record._meta
    state: dict[str, object] = {f.attname: getattr(record, f.attname) for f in meta.concrete_fields}
    for field in meta.many_to_many:
        # .all() so that a prefetched list is used rather than a query per field
        state[field.name] = sorted(linked.pk for linked in getattr(record, field.name).all())
    digest = hashlib.sha256(json.dumps(state, default=str, sort_keys=True).encode())
    return f'"{digest.hexdigest()[:32]}"'


def if_match(request) -> str | None:
    value = request.headers.get("If-Match", "").strip()
    return value or None


def if_match_number(request) -> int | None:
    """A counter sent as If-Match ("3", W/"3"), as the version-kept records take it."""
    value = (if_match(request) or "").removeprefix("W/").strip('"')
    return int(value) if value.isdigit() else None


def require_etag(request, current: str) -> None:
    sent = if_match(request)
    if sent is None:
        raise PreconditionRequired(MISSING)
    if sent != "*" and current not in {tag.strip() for tag in sent.split(",")}:
        raise PreconditionFailed(
            "The record changed since you read it (its ETag is now "
            f"{current}); read it again and retry."
        )


def require_counter(request, sent: int | None, *, name: str = "version") -> int:
    """The counter an update names, from the body or If-Match; 428 without one."""
    sent = sent if sent is not None else if_match_number(request)
    if sent is None:
        raise PreconditionRequired(
            f"Send the `{name}` you read (or If-Match with it), so that a change made since "
            "is not overwritten."
        )
    return sent
