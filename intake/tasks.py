"""Celery tasks of the intake app: thin, they call intake.services.

A task may be delivered twice (acks late, redelivered when its worker dies): run_job is
idempotent (a finished job is left alone; a job whose worker died starts over)."""

from celery import shared_task

from .services import run_job


@shared_task(name="intake.run_import")
def run_import_task(job_id: int) -> str | None:
    job = run_job(job_id)
    return job.status if job is not None else None
