"""Read-your-writes across requests and processes when reads go to replicas.

``ReplicaPinMiddleware`` (right after AuthenticationMiddleware) opens a fresh pin for each
request (``config.db_router.scope``). The request reads the primary when

- its method is unsafe (POST, PUT, PATCH, DELETE): it is about to write;
- or its requester wrote within the last REPLICA_PIN_SECONDS, in any process on any
  machine: the pin lives in the shared cache, keyed by the session, by a hash of the
  Authorization header (DRF token/Bearer clients, authenticated only inside the view) and
  by the user's id (the same person with another session or token);
- or, from its first write on, for the rest of the request (the router pins it).

A request that wrote (an unsafe method, or any write through the router) stores those pins
before its response leaves, so the requester's next request, wherever it lands, reads the
primary until the replicas have surely caught up. If the cache cannot be read the request
reads the primary (correct, only slower).

Without DATABASE_ROUTERS naming ``config.db_router.PrimaryReplicaRouter`` (no replicas
configured) the middleware removes itself.
"""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import MiddlewareNotUsed

from . import db_router

logger = logging.getLogger(__name__)

ROUTER = "config.db_router.PrimaryReplicaRouter"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
KEY_PREFIX = "replica-pin:"
# Caches that no other process sees: a pin there does not reach the requester's next request.
LOCAL_CACHES = frozenset({"LocMemCache", "DummyCache"})


def pin_key(kind: str, value) -> str:
    """A cache key for one requester; secrets (session keys, tokens) only as a hash."""
    digest = hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()[:40]
    return f"{KEY_PREFIX}{kind}:{digest}"


def _session_key(request) -> str | None:
    session = getattr(request, "session", None)
    return getattr(session, "session_key", None) if session is not None else None


def _credential_keys(request) -> list[str]:
    """Keys known without touching the database: the session and the Authorization header."""
    keys = []
    session_key = _session_key(request)
    if session_key:
        keys.append(pin_key("session", session_key))
    authorization = request.headers.get("Authorization")
    if authorization:
        keys.append(pin_key("auth", authorization))
    return keys


def _user_key(request) -> str | None:
    user = getattr(request, "user", None)  # resolving it may read the session and the user
    if user is not None and user.is_authenticated:
        return pin_key("user", user.pk)
    return None


_warned_local_cache = False


class ReplicaPinMiddleware:
    def __init__(self, get_response):
        global _warned_local_cache
        if ROUTER not in settings.DATABASE_ROUTERS:
            raise MiddlewareNotUsed
        self.get_response = get_response
        backend = settings.CACHES["default"]["BACKEND"]
        if backend.rsplit(".", 1)[-1] in LOCAL_CACHES and not _warned_local_cache:
            _warned_local_cache = True
            logger.warning(
                "read replicas with a %s cache: a write pins its requester in this process "
                "only; set CACHE_URL to a cache shared by every process",
                backend.rsplit(".", 1)[-1],
            )

    def __call__(self, request):
        unsafe = request.method not in SAFE_METHODS
        with db_router.scope(pinned=unsafe) as state:
            if not unsafe:
                state.pinned = self.wrote_lately(request)
            try:
                return self.get_response(request)
            finally:
                if unsafe or state.wrote:
                    self.remember_write(request)

    def wrote_lately(self, request) -> bool:
        """Whether this requester wrote within REPLICA_PIN_SECONDS (in any process)."""
        try:
            keys = _credential_keys(request)
            if keys and cache.get_many(keys):
                return True
            # Only now resolve the user: if the session was just written, the lookup above
            # pinned the request and the session is read from the primary.
            if _session_key(request):
                user_key = _user_key(request)
                if user_key and cache.get(user_key):
                    return True
            return False
        except Exception:
            logger.warning("replica pin unreadable; reading the primary", exc_info=True)
            return True

    def remember_write(self, request) -> None:
        """Pin this requester to the primary for REPLICA_PIN_SECONDS, for every process."""
        seconds = getattr(settings, "REPLICA_PIN_SECONDS", 5)
        if seconds <= 0:
            return
        try:
            keys = _credential_keys(request)
            user_key = _user_key(request)
            if user_key:
                keys.append(user_key)
            if keys:
                cache.set_many(dict.fromkeys(keys, 1), timeout=seconds)
        except Exception:
            logger.error("replica pin not stored; the next read may be stale", exc_info=True)
