"""An independent verifier for the registry's credentials: joserfc for JOSE (the registry
signs with jwcrypto), and the SD-JWT disclosure digests and the Bitstring Status List
decoded here, from the specifications, without the registry's own code."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json

from joserfc import jws
from joserfc.errors import BadSignatureError
from joserfc.jwk import ECKey


class Rejected(Exception):
    pass


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def keys_from(did_document: dict) -> dict[str, ECKey]:
    return {
        method["id"]: ECKey.import_key(method["publicKeyJwk"])
        for method in did_document["verificationMethod"]
    }


def verify_jwt(token: str, did_document: dict, typ: str) -> tuple[dict, dict]:
    """(header, payload) of a JWS signed by a key of the DID document."""
    header = json.loads(_unb64(token.split(".")[0]))
    if header.get("typ") != typ or header.get("alg") != "ES256":
        raise Rejected(f"header {header}")
    key = keys_from(did_document).get(header.get("kid"))
    if key is None:
        raise Rejected(f"unknown key {header.get('kid')}")
    try:
        signed = jws.deserialize_compact(token, key, algorithms=["ES256"])
    except BadSignatureError:
        raise Rejected("bad signature") from None
    return header, json.loads(signed.payload)


_DROP = object()


def _expand(node, disclosed: dict, used: set):
    if isinstance(node, list):
        out = [_expand(item, disclosed, used) for item in node]
        out = [item for item in out if item is not _DROP]
        return _DROP if node and not out else out
    if not isinstance(node, dict):
        return node
    shrunk = "_sd" in node
    out = {}
    for key, value in node.items():
        if key == "_sd":
            continue
        value = _expand(value, disclosed, used)
        if value is _DROP:
            shrunk = True
        else:
            out[key] = value
    for hashed in node.get("_sd", []):
        if hashed in disclosed:
            if hashed in used:
                raise Rejected("digest used twice")
            used.add(hashed)
            name, value = disclosed[hashed]
            value = _expand(value, disclosed, used)
            if value is not _DROP:
                out[name] = value
    return _DROP if shrunk and not out else out


def verify_sd_jwt(presentation: str, did_document: dict) -> tuple[dict, dict]:
    """(header, claims with the disclosures applied) or Rejected."""
    token, *disclosures, end = presentation.split("~")
    if end != "":
        raise Rejected("not an SD-JWT")
    header, payload = verify_jwt(token, did_document, "vc+sd-jwt")
    if payload.get("_sd_alg") != "sha-256":
        raise Rejected("_sd_alg")
    disclosed = {}
    for disclosure in disclosures:
        hashed = base64.urlsafe_b64encode(hashlib.sha256(disclosure.encode()).digest())
        _salt, name, value = json.loads(_unb64(disclosure))
        disclosed[hashed.rstrip(b"=").decode()] = (name, value)
    used: set[str] = set()
    claims = _expand(payload, disclosed, used)
    if set(disclosed) - used:
        raise Rejected("a disclosure matches no digest")
    claims.pop("_sd_alg")
    return header, claims


def status_bit(status_list_jwt: str, did_document: dict, entry: dict) -> bool:
    """The bit a credentialStatus entry points at, in a status list signed by the issuer."""
    _header, listed = verify_jwt(status_list_jwt, did_document, "vc+jwt")
    subject = listed["credentialSubject"]
    assert listed["id"] == entry["statusListCredential"]
    assert subject["statusPurpose"] == entry["statusPurpose"]
    assert subject["encodedList"][0] == "u"  # multibase base64url
    bits = gzip.decompress(_unb64(subject["encodedList"][1:]))
    assert len(bits) * 8 >= 131_072
    index = int(entry["statusListIndex"])
    return bool(bits[index // 8] >> (7 - index % 8) & 1)
