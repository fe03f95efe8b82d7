"""Celery tasks of passports: thin wrappers that call the services (see registry/tasks.py
for the delivery rules: each may run twice, so each is idempotent)."""

from celery import shared_task
from django.contrib.auth import get_user_model

from . import registry_record, services


@shared_task(name="passports.submit_dpp_registry")
def submit_dpp_registry_task() -> str:
    """Send every passport's registration record to the EU registry (off while
    DPP_REGISTRY_URL is empty); re-sending a record is harmless."""
    return registry_record.submit().message


@shared_task(name="passports.remerge_model_passports")
def remerge_model_passports_task(model_id: int, user_id: int | None = None) -> dict[str, int]:
    """Merge a battery model's changed data into its passports (services.model_changed
    enqueues it); a second run finds every document up to date and changes nothing."""
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    return services.remerge_model_passports(model_id, user=user)
