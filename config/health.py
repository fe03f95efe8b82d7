"""Operations endpoints: liveness, readiness and Prometheus metrics.

``/healthz``  the process answers: 200 ``{"status": "ok"}``, no I/O at all.
``/readyz``   every dependency answers: each database alias (``SELECT 1``), each cache
              (a random key written, read back, deleted), the Celery broker (unless
              ``memory://``) and the default file storage. The checks run side by side,
              each in its own thread with a deadline (``READYZ_TIMEOUT``, seconds), so a
              dependency that does not answer cannot hold the probe: 200 when all pass,
              else 503; the body is the same shape either way::

                  {"status": "unavailable", "failed": ["database:default"],
                   "checks": {"database:default": {"ok": false, "ms": 3.1,
                                                   "error": "OperationalError: ..."},
                              "cache:default": {"ok": true, "ms": 0.4}, ...}}

              Error texts name the class and message, with credentials masked.
``/metrics``  Prometheus text, only for staff users or ``Authorization: Bearer
              <METRICS_TOKEN>``; everyone else gets the same 404 as an unknown URL.

All three are never cached, need no login and read nothing from the request body.

Several gunicorn workers: Prometheus counters live in each process, so set
``PROMETHEUS_MULTIPROC_DIR`` to an empty directory (wiped at every start) in the
environment of the gunicorn master, before anything imports ``prometheus_client``;
``/metrics`` then aggregates all workers with a ``MultiProcessCollector``. Add to the
gunicorn config so the files of dead workers are merged away::

    from prometheus_client import multiprocess

    def child_exit(server, worker):
        multiprocess.mark_process_dead(worker.pid)
"""

from __future__ import annotations

import contextlib
import contextvars
import hmac
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import prometheus_client
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache
from django.core.files.storage import FileSystemStorage, storages
from django.db import connections
from django.http import Http404, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from kombu import Connection
from prometheus_client import multiprocess

DEFAULT_TIMEOUT = 2.0  # seconds per check; they run in parallel
MAX_ERROR_CHARS = 300


# --- liveness ----------------------------------------------------------------
@never_cache
@require_safe
def healthz(request):
    return JsonResponse({"status": "ok"})


# --- readiness ---------------------------------------------------------------
def _check_database(alias: str) -> None:
    # Runs in its own thread, so this is a connection of that thread alone: it is
    # closed (given back to the pool, where there is one) whatever happens.
    connection = connections[alias]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        # A broken connection may fail to close; it is dropped all the same.
        with contextlib.suppress(Exception):
            connection.close()


def _check_cache(cache) -> None:
    key = f"readyz-probe:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=30)
    try:
        if cache.get(key) != "1":
            raise RuntimeError("a value written to the cache was not read back")
    finally:
        cache.delete(key)


def _check_broker(url: str, timeout: float) -> None:

    options = dict(getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {})
    # Whatever the workers use, the probe gives up quickly.
    options.update({"socket_timeout": timeout, "socket_connect_timeout": timeout, "max_retries": 0})
    connection = Connection(
        url,
        connect_timeout=timeout,
        ssl=getattr(settings, "CELERY_BROKER_USE_SSL", None) or False,
        transport_options=options,
    )
    try:
        connection.ensure_connection(
            max_retries=1, interval_start=0, interval_step=0, interval_max=0, timeout=timeout
        )
    finally:
        connection.release()


def _check_storage(storage) -> None:
    if isinstance(storage, FileSystemStorage):
        # exists() of a missing root is just False: look at the root itself.
        root = Path(storage.location)
        if root.exists():
            if not root.is_dir():
                raise NotADirectoryError("the storage root is not a directory")
            if not os.access(root, os.R_OK | os.W_OK | os.X_OK):
                raise PermissionError("the storage root is not readable and writable")
        else:
            # Not made yet (it is on the first upload): its parent must allow that.
            parent = root.parent
            while not parent.exists() and parent != parent.parent:
                parent = parent.parent
            if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
                raise FileNotFoundError("the storage root is missing and cannot be made")
    storage.exists("readyz-probe")  # S3 and the like: a HEAD of one key, answered or refused


def _secrets() -> list[str]:
    """Credentials that must never appear in an answer, longest first."""
    found = set()
    for config in settings.DATABASES.values():
        found.add(config.get("PASSWORD") or "")
    urls = [getattr(settings, "CELERY_BROKER_URL", "") or ""]
    for cache in settings.CACHES.values():
        location = cache.get("LOCATION") or ""
        urls += location if isinstance(location, list | tuple) else [location]
    for url in urls:
        for part in str(url).replace(",", ";").split(";"):
            with contextlib.suppress(ValueError):  # not a URL
                found.add(urlsplit(part.strip()).password or "")
    for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "METRICS_TOKEN", "SECRET_KEY"):
        found.add(str(getattr(settings, name, "") or ""))
    return sorted((s for s in found if len(s) >= 3), key=len, reverse=True)


_URL_USERINFO = re.compile(r"([a-z][a-z0-9+.-]*://)[^/@\s]*@", re.IGNORECASE)
_KEY_VALUE = re.compile(
    r"\b(password|passwd|pwd|secret|token|access_key|secret_key)(\s*[=:]\s*)('[^']*'|\"[^\"]*\"|\S+)",
    re.IGNORECASE,
)


def describe_error(exc: BaseException) -> str:
    """``Class: message`` on one line, credentials masked, cut to a sane length."""
    message = " ".join(str(exc).split())
    for secret in _secrets():
        message = message.replace(secret, "***")
    message = _URL_USERINFO.sub(r"\1***@", message)
    message = _KEY_VALUE.sub(r"\1\2***", message)
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text[:MAX_ERROR_CHARS]


def readiness_checks(timeout: float) -> list[tuple[str, Callable[[], object]]]:
    """(name, check) for every dependency this process needs, as configured now."""
    checks = []
    for alias in settings.DATABASES:
        checks.append((f"database:{alias}", lambda alias=alias: _check_database(alias)))
    for alias in settings.CACHES:
        cache = caches[alias]  # made here: cache objects are per thread
        if isinstance(cache, DummyCache):
            continue  # stores nothing, by design
        checks.append((f"cache:{alias}", lambda cache=cache: _check_cache(cache)))
    broker = getattr(settings, "CELERY_BROKER_URL", None) or "memory://"
    if not str(broker).startswith("memory://"):
        checks.append(("broker", lambda: _check_broker(broker, timeout)))
    storage = storages["default"]
    checks.append(("storage", lambda: _check_storage(storage)))
    return checks


# A check still running from an earlier probe is not started again (it is reported as
# failing), so a dependency that hangs holds at most one thread per check.
_running: dict[str, threading.Thread] = {}
_running_lock = threading.Lock()


def run_checks(checks, timeout: float) -> dict[str, dict]:
    started: dict[str, tuple[threading.Thread, dict, float]] = {}
    results: dict[str, dict] = {}
    for name, check in checks:
        outcome: dict = {}

        def probe(check=check, outcome=outcome):
            begin = time.perf_counter()
            try:
                check()
                outcome["ok"] = True
            except Exception as exc:
                outcome["ok"] = False
                outcome["error"] = describe_error(exc)
            outcome["ms"] = round((time.perf_counter() - begin) * 1000, 1)

        with _running_lock:
            earlier = _running.get(name)
            if earlier is not None and earlier.is_alive():
                results[name] = {
                    "ok": False,
                    "ms": 0.0,
                    "error": "TimeoutError: the previous probe has not returned yet",
                }
                continue
            context = contextvars.copy_context()  # log records keep the request id
            thread = threading.Thread(
                target=context.run, args=(probe,), name=f"readyz {name}", daemon=True
            )
            _running[name] = thread
        thread.start()
        started[name] = (thread, outcome, time.perf_counter())

    deadline = time.perf_counter() + timeout
    for name, (thread, outcome, begin) in started.items():
        thread.join(max(0.0, deadline - time.perf_counter()))
        if thread.is_alive() or "ms" not in outcome:
            results[name] = {
                "ok": False,
                "ms": round((time.perf_counter() - begin) * 1000, 1),
                "error": f"TimeoutError: no answer within {timeout:g}s",
            }
        else:
            results[name] = {
                "ok": outcome["ok"],
                "ms": outcome["ms"],
                **({"error": outcome["error"]} if "error" in outcome else {}),
            }
    return {name: results[name] for name, _ in checks}


@never_cache
@require_safe
def readyz(request):
    timeout = float(getattr(settings, "READYZ_TIMEOUT", DEFAULT_TIMEOUT))
    results = run_checks(readiness_checks(timeout), timeout)
    failed = [name for name, result in results.items() if not result["ok"]]
    if not _may_see_metrics(request):
        # What failed is for anyone (a load balancer); why, naming hosts and ports, is for
        # the operators (staff or the metrics token).
        for result in results.values():
            if "error" in result:
                result["error"] = result["error"].split(":", 1)[0]
    body = {"status": "unavailable" if failed else "ok", "failed": failed, "checks": results}
    return JsonResponse(body, status=503 if failed else 200)


# --- metrics -----------------------------------------------------------------
def _may_see_metrics(request) -> bool:
    token = getattr(settings, "METRICS_TOKEN", "") or ""
    header = request.headers.get("Authorization", "")
    scheme, _, offered = header.partition(" ")
    offered = offered.strip()
    if (
        token
        and scheme.lower() == "bearer"
        and offered
        and hmac.compare_digest(offered.encode(), token.encode())
    ):
        return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_staff)


@never_cache
def metrics(request):
    if not _may_see_metrics(request):
        raise Http404  # not exposed: indistinguishable from an unknown URL
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = prometheus_client.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = prometheus_client.REGISTRY
    response = HttpResponse(
        prometheus_client.generate_latest(registry),
        content_type=prometheus_client.CONTENT_TYPE_LATEST,
    )
    patch_vary_headers(response, ["Authorization", "Cookie"])
    return response
