"""Enqueue background jobs only once the data they work on is committed.

A task sent from inside a transaction can start on a worker before that transaction
commits (it would not see the new rows) or after it rolls back (it would act on rows that
never existed). Code that enqueues a job therefore calls `enqueue`, never `task.delay`:

    from config.jobs import enqueue
    from registry.tasks import expire_attestations_task

    with transaction.atomic():
        ...
        enqueue(expire_attestations_task, "2026-01-02")

Outside a transaction (autocommit) the job is sent at once. With no broker configured
(`make run`, the tests) Celery runs it eagerly, still only after the commit.
"""

from __future__ import annotations

from functools import partial

from django.db import transaction


def enqueue(task, *args, **kwargs) -> None:
    """Send `task(*args, **kwargs)` to the broker when the current transaction commits.

    If the transaction rolls back the job is never sent. Arguments must be JSON-serialisable
    (ids, ISO dates), never model instances: the worker reads the rows itself.
    """
    transaction.on_commit(partial(task.delay, *args, **kwargs))
