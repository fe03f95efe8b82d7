"""Answers kept in the shared cache only to save work: when the cache is away (Redis
restarting), the answer is computed as if nothing were kept, never a 500."""

import logging

from django.core.cache import cache

log = logging.getLogger(__name__)


def kept(key: str):
    try:
        return cache.get(key)
    except Exception:  # noqa: BLE001 - any backend's failure: compute instead
        log.warning("cache unavailable: reading %s computed", key.split(":", 1)[0])
        return None


def keep(key: str, value, seconds: int) -> None:
    try:
        cache.set(key, value, seconds)
    except Exception:  # noqa: BLE001
        log.warning("cache unavailable: %s not kept", key.split(":", 1)[0])
