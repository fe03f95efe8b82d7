"""A request id on every request, every log record and every response; JSON logs.

``RequestIdMiddleware`` takes the caller's ``X-Request-ID`` when it is a sane token
(at most 128 characters of ``A-Z a-z 0-9 . _ -``) and otherwise makes one (uuid4 hex),
keeps it in a context variable for the length of the request, returns it in the
``X-Request-ID`` response header and writes one access line per request to the
``access`` logger. ``RequestIdFilter`` puts ``request_id`` on every log record ("-"
outside a request); ``JsonFormatter`` writes one JSON object per line. settings.LOGGING
wires them up; ``LOG_FORMAT`` (json/text) picks the formatter.

Celery: a task run by a worker logs with its task id as request id; a task run eagerly
inside a request keeps the request's id. (The worker must not hijack the root logger,
``CELERY_WORKER_HIJACK_ROOT_LOGGER = False``, for its records to reach our handler.)
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from contextvars import ContextVar

from django.core.signals import request_finished
from django.utils.functional import SimpleLazyObject, empty
from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

HEADER = "X-Request-ID"
NO_REQUEST = "-"
_SANE = re.compile(r"[A-Za-z0-9._-]{1,128}")

request_id_var: ContextVar[str] = ContextVar("request_id", default=NO_REQUEST)

access_logger = logging.getLogger("access")

# Probes and scrapes come every few seconds; their access lines go out at DEBUG.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def get_request_id() -> str:
    """The current request's (or task's) id, "-" outside of one."""
    return request_id_var.get()


def sane_request_id(value: str | None) -> str | None:
    """The caller's id if it is a token safe to log and echo, else None."""
    if value and _SANE.fullmatch(value):
        return value
    return None


def new_request_id() -> str:
    return uuid.uuid4().hex


def _user_id(request):
    """The user's id if authentication already ran; never triggers a session lookup."""
    user = getattr(request, "user", None)
    if user is None:
        return None
    if isinstance(user, SimpleLazyObject) and user._wrapped is empty:
        return None
    if getattr(user, "is_authenticated", False):
        return user.pk
    return None


class RequestIdMiddleware:
    """Outermost but for Prometheus: every response, even an error page, carries the id."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = sane_request_id(request.headers.get(HEADER)) or new_request_id()
        request.request_id = request_id
        # Not reset on the way out: Django logs 4xx/5xx ("Not Found: ...") after the
        # middleware has returned; request_finished puts "-" back (see below).
        request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        try:
            response = self.get_response(request)
            status = response.status_code
            response[HEADER] = request_id
            return response
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            level = logging.DEBUG if request.path in QUIET_PATHS else logging.INFO
            # The path without its query string: queries may carry what should not be logged.
            access_logger.log(
                level,
                "%s %s %s %.1fms",
                request.method,
                request.path,
                status,
                duration_ms,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": status,
                    "duration_ms": duration_ms,
                    "user_id": _user_id(request),
                },
            )


def _request_finished(**kwargs):
    request_id_var.set(NO_REQUEST)


request_finished.connect(_request_finished, dispatch_uid="config.request_id.finished")


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record that passes (never filters one out)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(_BaseJsonFormatter):
    """One JSON object per line: time, level, logger, message, request_id, then extras."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("fmt", ["asctime", "levelname", "name", "message", "request_id"])
        kwargs.setdefault(
            "rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"}
        )
        super().__init__(*args, **kwargs)

    def formatTime(self, record, datefmt=None):  # noqa: N802 (logging API)
        if datefmt:
            return super().formatTime(record, datefmt)
        seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{seconds}.{int(record.msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        if not getattr(record, "request_id", None):
            record.request_id = request_id_var.get()
        return super().format(record)


# --- Celery: the task id is the request id of a task run by a worker ------------
_task_tokens: dict[str, object] = {}


def _task_prerun(task_id=None, task=None, **kwargs):
    if task_id and request_id_var.get() == NO_REQUEST:
        _task_tokens[task_id] = request_id_var.set(task_id)


def _task_postrun(task_id=None, **kwargs):
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        try:
            request_id_var.reset(token)
        except ValueError:  # set in another context (another thread or greenlet)
            request_id_var.set(NO_REQUEST)


try:
    from celery.signals import task_postrun, task_prerun
except ImportError:  # pragma: no cover - celery is a runtime dependency
    pass
else:
    task_prerun.connect(_task_prerun, weak=False, dispatch_uid="config.request_id.prerun")
    task_postrun.connect(_task_postrun, weak=False, dispatch_uid="config.request_id.postrun")
