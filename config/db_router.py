"""Reads from a replica, writes to the primary, and a writer reads its own writes.

``PrimaryReplicaRouter`` (settings.DATABASE_ROUTERS when DATABASE_REPLICA_URLS is set):

- writes, locking reads (``select_for_update`` queries are routed as writes by Django) and
  migrations go to ``default``, the primary;
- a read goes to ``default`` when the current context is pinned, when the default
  connection is inside a transaction (``atomic``: a transaction reads its own uncommitted
  rows, and reads that decide a write belong with it), or when it follows a relation of
  an object read from ``default``; otherwise to a replica, chosen at random;
- every write pins the current context, so whatever runs after it reads the primary.

"The current context" is one request (``config.middleware.ReplicaPinMiddleware`` opens a
fresh one per request, pinned for unsafe methods and for requesters that wrote within
REPLICA_PIN_SECONDS, a pin shared by all processes through the cache), one Celery task run
by a worker, or else the thread (a management command, a shell): there a write pins the
rest of the command. A task sent from a pinned context carries the pin in a message header,
so a job enqueued right after a write reads the primary on whatever worker takes it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from celery import current_task
from celery.signals import before_task_publish
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

PRIMARY = DEFAULT_DB_ALIAS
REPLICA_PREFIX = "replica"
# Message header (and so attribute of the task request on the worker) carrying the pin.
TASK_HEADER = "replica_pin"


@dataclass
class PinState:
    """The pin of one context. Mutable on purpose: a copy of the context (a sync view
    run in a thread under ASGI) shares it, so a write there pins the whole request."""

    pinned: bool = False
    wrote: bool = False


_state: ContextVar[PinState | None] = ContextVar("replica_pin", default=None)


def replica_aliases() -> list[str]:
    """The configured replica aliases: replica1, replica2, ..."""
    return [alias for alias in settings.DATABASES if alias.startswith(REPLICA_PREFIX)]


def _task_request():
    """The request of the Celery task a worker is running here, else None.

    A task run eagerly or called directly runs in its caller's context and shares its pin.
    """
    if not current_task:
        return None
    request = current_task.request
    if request is None or request.called_directly or request.is_eager:
        return None
    return request


def is_pinned() -> bool:
    """Whether reads in the current context go to the primary."""
    state = _state.get()
    if state is not None and state.pinned:
        return True
    request = _task_request()
    return bool(request is not None and getattr(request, TASK_HEADER, False))


def pin() -> None:
    """Pin the current context to the primary (every write does it)."""
    request = _task_request()
    if request is not None:
        # Kept on the task's request: it ends with the task, the next task starts unpinned.
        setattr(request, TASK_HEADER, True)
        return
    state = _state.get()
    if state is None:
        state = PinState()
        _state.set(state)
    state.pinned = state.wrote = True


@contextmanager
def scope(pinned: bool = False) -> Iterator[PinState]:
    """A fresh pin for a unit of work (a request); the previous one is restored after."""
    state = PinState(pinned=pinned)
    token = _state.set(state)
    try:
        yield state
    finally:
        _state.reset(token)


class PrimaryReplicaRouter:
    def __init__(self, replicas: list[str] | None = None):
        self.replicas = replica_aliases() if replicas is None else list(replicas)

    def db_for_read(self, model, **hints):
        if not self.replicas or is_pinned() or connections[PRIMARY].in_atomic_block:
            return PRIMARY
        instance = hints.get("instance")
        if instance is not None and instance._state.db == PRIMARY:
            return PRIMARY  # related rows of an object read from the primary: from there too
        return random.choice(self.replicas)

    def db_for_write(self, model, **hints):
        pin()
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the replicas hold the same data as the primary

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == PRIMARY


# --- Celery: a job sent from a pinned context reads the primary on its worker ---------------


def _mark_pinned_task(headers=None, **kwargs):
    if headers is not None and is_pinned():
        headers[TASK_HEADER] = True


before_task_publish.connect(
    _mark_pinned_task, weak=False, dispatch_uid="config.db_router.pin_header"
)
