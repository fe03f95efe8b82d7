"""Offline verification of a credential against a DID document (and a status list): what
`manage.py verify_credential` runs. Pure functions over the files; no database."""

from __future__ import annotations

import datetime as dt
import gzip
import json

from jwcrypto import jwk

from . import sdjwt


def keys_of(did_document: dict) -> dict[str, jwk.JWK]:
    """kid (the verification method's DID URL) -> its public key."""
    found = {}
    for method in did_document.get("verificationMethod", []):
        public = method.get("publicKeyJwk")
        if not isinstance(public, dict) or "d" in public:
            raise sdjwt.Invalid(f"Verification method {method.get('id')!r} has no public JWK.")
        found[method["id"]] = jwk.JWK(**public)
    if not found:
        raise sdjwt.Invalid("The DID document lists no verification method.")
    return found


def read_credential(text: str) -> str:
    """A file holding the compact SD-JWT, or the API's JSON answer {"credential": ...}."""
    text = text.strip()
    if text.startswith("{"):
        try:
            return json.loads(text)["credential"]
        except (ValueError, KeyError, TypeError):
            raise sdjwt.Invalid('The JSON file holds no "credential".') from None
    return text


def bit(encoded: str, index: int) -> bool:
    if not encoded.startswith("u"):
        raise sdjwt.Invalid("encodedList is not multibase base64url (u...).")
    bits = gzip.decompress(sdjwt.unb64(encoded[1:]))
    if index >= len(bits) * 8:
        raise sdjwt.Invalid(f"Status index {index} lies outside the list.")
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


def check_status(claims: dict, status_list_jwt: str, keys: dict[str, jwk.JWK]) -> list[str]:
    """The purposes (revocation, suspension) whose bit is set for this credential, read from
    a status list credential the same issuer signed; Invalid if it does not verify."""
    listed = sdjwt.verify(status_list_jwt, keys, typ=sdjwt.JWT_TYP).claims
    if listed.get("issuer", {}).get("id") != claims.get("issuer", {}).get("id"):
        raise sdjwt.Invalid("The status list was issued by another issuer.")
    subject = listed.get("credentialSubject", {})
    entries = claims.get("credentialStatus", [])
    entries = entries if isinstance(entries, list) else [entries]
    matching = [e for e in entries if e.get("statusListCredential") == listed.get("id")]
    if not matching:
        raise sdjwt.Invalid("The status list given is not the one the credential names.")
    return [
        entry["statusPurpose"]
        for entry in matching
        if entry.get("statusPurpose") == subject.get("statusPurpose")
        and bit(subject["encodedList"], int(entry["statusListIndex"]))
    ]


def verify_offline(
    credential: str,
    did_document: dict,
    status_list_jwt: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[dict, list[str]]:
    """(the disclosed claims, notes) when the credential verifies; raises Invalid."""
    keys = keys_of(did_document)
    verified = sdjwt.verify(credential, keys)
    claims = verified.claims
    issuer = claims.get("issuer", {})
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
    if issuer_id != did_document.get("id"):
        raise sdjwt.Invalid(f"Issued by {issuer_id!r}, not by {did_document.get('id')!r}.")
    now = now or dt.datetime.now(dt.UTC)
    for name, late in (("validFrom", False), ("validUntil", True)):
        if name in claims:
            at = dt.datetime.fromisoformat(claims[name].replace("Z", "+00:00"))
            if (now > at) if late else (now < at):
                raise sdjwt.Invalid(f"Not valid now: {name} is {claims[name]}.")
    notes = [f"signed by {verified.header['kid']}"]
    if status_list_jwt is not None:
        flagged = check_status(claims, status_list_jwt, keys)
        if flagged:
            raise sdjwt.Invalid(f"The credential's status is {', '.join(flagged)}: its bit is set.")
        notes.append("status: not revoked or suspended in the list given")
    return claims, notes
