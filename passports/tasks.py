"""Celery tasks of passports: thin wrappers that call the services (see registry/tasks.py
for the delivery rules: each may run twice, so each is idempotent)."""

from celery import shared_task

from . import registry_record


@shared_task(name="passports.submit_dpp_registry")
def submit_dpp_registry_task() -> str:
    """Send every passport's registration record to the EU registry (off while
    DPP_REGISTRY_URL is empty); re-sending a record is harmless."""
    return registry_record.submit().message
