"""Celery tasks: thin wrappers that call the services.

Every task here may be delivered twice (acks late, requeued when its worker dies) and may
run on two workers at once, so the service it calls must be idempotent. Code enqueues them
with `config.jobs.enqueue` (after the commit), never with `.delay` inside a transaction.
"""

import datetime as dt

from celery import shared_task

from . import kept
from .privacy import build_snapshot, forget_old_budgets
from .services import expire_attestations


@shared_task(name="registry.expire_attestations")
def expire_attestations_task(today: str | None = None) -> int:
    """Mark verified attestations whose validity has ended as expired (runs daily)."""
    return expire_attestations(dt.date.fromisoformat(today) if today else None)


@shared_task(name="registry.take_sector_snapshot")
def take_sector_snapshot_task(on: str | None = None) -> int:
    """Freeze coverage for the sector figures that count private data (runs weekly), and
    drop spent budgets; idempotent: one snapshot per date."""
    snapshot, _ = build_snapshot(dt.date.fromisoformat(on) if on else None)
    forget_old_budgets()
    return snapshot.pk


@shared_task(name="registry.refresh_kept_result")
def refresh_kept_result_task(kind: str, params: dict, scope: str) -> int:
    """Compute one population answer into its kept result (registry.kept); idempotent:
    it never replaces an answer computed from later inputs."""
    return kept.refresh(kind, params, scope)
