"""Celery tasks: thin wrappers that call the services."""

import datetime as dt

from celery import shared_task

from .services import expire_attestations


@shared_task(name="registry.expire_attestations")
def expire_attestations_task(today: str | None = None) -> int:
    """Mark verified attestations whose validity has ended as expired (runs daily)."""
    return expire_attestations(dt.date.fromisoformat(today) if today else None)
