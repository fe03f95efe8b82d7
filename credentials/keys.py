"""The issuer's signing keys: a JWK set from the environment, never from the repository.

CREDENTIAL_SIGNING_KEYS holds the set as JSON ({"keys": [...]}), or CREDENTIAL_SIGNING_KEYS_FILE
names a file holding it. Every key is an EC P-256 JWK (ES256). The last key with its private
part signs new credentials; every key stays in the DID document, so credentials signed by a
key that was rotated out (kept public-only, or still private) keep verifying.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from jwcrypto import jwk


class CredentialsUnavailable(ImproperlyConfigured):
    """No usable signing key is configured: the credential routes answer 503 with this."""


@dataclass(frozen=True)
class KeyRing:
    keys: tuple[jwk.JWK, ...]  # in the order of the set, oldest first
    signer: jwk.JWK

    @property
    def signer_kid(self) -> str:
        return self.signer["kid"]


def issuer_did() -> str:
    """did:web of PUBLIC_BASE_URL's host (a port is percent-encoded, as did:web says)."""
    host = urlsplit(settings.PUBLIC_BASE_URL).netloc
    return "did:web:" + host.replace(":", "%3A")


def method_id(kid: str) -> str:
    return f"{issuer_did()}#{kid}"


def _raw_keys() -> str:
    raw = (getattr(settings, "CREDENTIAL_SIGNING_KEYS", "") or "").strip()
    if raw:
        return raw
    path = (getattr(settings, "CREDENTIAL_SIGNING_KEYS_FILE", "") or "").strip()
    if not path:
        raise CredentialsUnavailable(
            "No credential signing key is configured: set CREDENTIAL_SIGNING_KEYS (a JWK set "
            "as JSON) or CREDENTIAL_SIGNING_KEYS_FILE (a path to one)."
        )
    try:
        return Path(path).read_text()
    except OSError as error:
        raise CredentialsUnavailable(
            f"CREDENTIAL_SIGNING_KEYS_FILE={path!r} cannot be read: {error.strerror}."
        ) from None


@lru_cache(maxsize=4)
def _parse(raw: str) -> KeyRing:
    try:
        document = json.loads(raw)
        entries = document["keys"] if isinstance(document, dict) else None
        if not isinstance(entries, list) or not entries:
            raise ValueError('expected {"keys": [...]} with at least one key')
        keys = []
        for entry in entries:
            key = jwk.JWK(**entry)
            if key.get("kty") != "EC" or key.get("crv") != "P-256":
                raise ValueError("every key must be an EC P-256 JWK (ES256)")
            if not key.get("kid"):
                key = jwk.JWK(**{**entry, "kid": key.thumbprint()})
            keys.append(key)
    except (ValueError, KeyError, TypeError, jwk.InvalidJWKValue) as error:
        raise CredentialsUnavailable(
            f"The credential signing key set is invalid: {error}."
        ) from None
    private = [key for key in keys if key.has_private]
    if not private:
        raise CredentialsUnavailable("The credential signing key set holds no private key.")
    if len({key["kid"] for key in keys}) != len(keys):
        raise CredentialsUnavailable("Two keys of the credential signing key set share a kid.")
    return KeyRing(tuple(keys), private[-1])


def key_ring() -> KeyRing:
    """The configured keys (parsed once per distinct value); CredentialsUnavailable if none."""
    return _parse(_raw_keys())


def public_jwk(key: jwk.JWK) -> dict:
    return {**key.export_public(as_dict=True), "alg": "ES256", "use": "sig"}


def did_document() -> dict:
    """The issuer's DID document: every key of the set, public parts only."""
    did = issuer_did()
    methods = [
        {
            "id": method_id(key["kid"]),
            "type": "JsonWebKey",
            "controller": did,
            "publicKeyJwk": public_jwk(key),
        }
        for key in key_ring().keys
    ]
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://www.w3.org/ns/cid/v1"],
        "id": did,
        "verificationMethod": methods,
        "assertionMethod": [method["id"] for method in methods],
    }


def new_key_set(existing: dict | None = None) -> dict:
    """A JWK set with one new P-256 key appended (rotation: the new key signs from now on)."""
    key = jwk.JWK.generate(kty="EC", crv="P-256")
    entry = {**key.export_private(as_dict=True), "kid": key.thumbprint(), "alg": "ES256"}
    return {"keys": [*(existing or {}).get("keys", []), entry]}
