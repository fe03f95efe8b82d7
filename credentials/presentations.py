"""Each tier's presentation of a passport version's credential (the issuer-signed JWT and
the disclosures the tier may see), kept in Django's cache (CACHE_URL: shared by every
process) so that a read neither loads every disclosure nor selects among them again.

Invalidated by construction: a published version is immutable, its credential is signed
once (one per version) and never changed, and its status lives in the status lists, not
in the presentation. The key names the version by its passport's UUID (unique across
databases, unlike an id) and number, and the roles the presentation was cut for: a tier
only ever receives what was cut for its own roles.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from config.kept_cache import keep, kept

from . import sdjwt, services

PRESENTATION_SECONDS = 24 * 60 * 60  # never stale: the timeout only bounds the cache's size
KEY_VERSION = 1  # raise when what a presentation holds changes shape


class Signed(Protocol):
    jwt: str
    disclosures: list[dict]


def cache_key(passport_uuid, version: int, roles: frozenset[str]) -> str:
    return (
        f"credential-presentation:{KEY_VERSION}:{passport_uuid}:{version}:{'+'.join(sorted(roles))}"
    )


def cut(credential: Signed, roles: frozenset[str]) -> str:
    """The compact SD-JWT with the disclosures `roles` may see, and no other."""
    chosen = sdjwt.select(credential.disclosures, lambda tag: services.sees(tag, roles))
    return sdjwt.compact(credential.jwt, chosen)


def presentation(
    passport_uuid, version: int, roles: frozenset[str], load: Callable[[], Signed]
) -> str:
    """Version `version`'s presentation for `roles`; on a miss `load()` gives the version's
    credential (issued if need be) and its cut is kept."""
    key = cache_key(passport_uuid, version, roles)
    found = kept(key)
    if found is None:
        found = cut(load(), roles)
        keep(key, found, PRESENTATION_SECONDS)
    return found
