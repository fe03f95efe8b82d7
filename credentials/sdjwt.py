"""SD-JWT (IETF draft-ietf-oauth-selective-disclosure-jwt) over a W3C VC 2.0 payload.

Followed: VC-JOSE-COSE (W3C Recommendation 2025-05-15) for the header (`typ` vc+sd-jwt,
`cty` vc, `alg` ES256, `kid` the DID URL of the key) and for the payload being the VC
itself; SD-JWT for disclosures ([salt, name, value], base64url of its JSON), their digests
(base64url SHA-256 of the disclosure's ASCII), `_sd` and `_sd_alg`, and the compact form
`<issuer-signed JWT>~<disclosure>~...~`. Only object properties are made disclosable (an
array the tiers hide whole is hidden by its key). No holder binding: a passport is read by
anyone of a tier, there is no holder key to bind to.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass, field

from jwcrypto import jwk, jws
from jwcrypto.common import JWException

SD_ALG = "sha-256"
SD_TYP = "vc+sd-jwt"
JWT_TYP = "vc+jwt"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def digest(disclosure: str) -> str:
    return b64(hashlib.sha256(disclosure.encode("ascii")).digest())


def _json(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


# --- Issuing -------------------------------------------------------------------------------


@dataclass
class Concealed:
    """A payload with some properties replaced by digests, and their disclosures."""

    payload: dict
    disclosures: list[dict] = field(default_factory=list)  # {"d", "tag", "parent"}


def conceal(payload: dict, paths: list[tuple[tuple[str, ...], tuple[str, ...]]]) -> Concealed:
    """Make each (path, tag) of `payload` a disclosure tagged `tag`. A path is keys from the
    payload's root; "*" is every item of an array; a path ending in "*" hides the array's key.
    Deeper paths are concealed first, so a disclosure may hold digests of others (its
    children: sent only with it)."""
    payload = json.loads(json.dumps(payload))  # a private copy
    out = Concealed(payload)
    for path, tag in sorted(paths, key=lambda item: -len(item[0])):
        _conceal(payload, path, tag, out)
    _fold(payload, out, {digest(item["d"]): item["tag"] for item in out.disclosures})
    by_digest = {digest(item["d"]): index for index, item in enumerate(out.disclosures)}
    for index, item in enumerate(out.disclosures):
        for child in _digests_in(json.loads(unb64(item["d"]))[2]):
            out.disclosures[by_digest[child]]["parent"] = index
    return out


def _conceal(node, path, tag, out: Concealed) -> None:
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(node, list):
            for item in node:
                _conceal(item, rest, tag, out)
        return
    if not isinstance(node, dict) or head not in node:
        return
    if rest and not (rest == ("*",) and isinstance(node[head], list)):
        _conceal(node[head], rest, tag, out)
        return
    disclosure = b64(_json([b64(secrets.token_bytes(16)), head, node.pop(head)]).encode())
    out.disclosures.append({"d": disclosure, "tag": list(tag), "parent": None})
    node.setdefault("_sd", []).append(digest(disclosure))


def _only_digests(value) -> list[str] | None:
    """The digests of an object, or of an array of objects, that holds nothing else."""
    if isinstance(value, dict) and set(value) == {"_sd"}:
        return value["_sd"]
    if (
        isinstance(value, list)
        and value
        and all(isinstance(item, dict) and set(item) == {"_sd"} for item in value)
    ):
        return [hashed for item in value for hashed in item["_sd"]]
    return None


def _fold(node, out: Concealed, tags: dict) -> None:
    """Conceal, bottom-up, each object or array left holding only digests: otherwise its key
    and its length (how many spare-part sources) would show to a tier that may see none of
    it. Its tag is {"any": [its children's tags]}: sent to a tier that may see one of them."""
    if isinstance(node, list):
        for item in node:
            _fold(item, out, tags)
        return
    if not isinstance(node, dict):
        return
    for key in [k for k in node if k != "_sd"]:
        _fold(node[key], out, tags)
        hidden = _only_digests(node[key])
        if hidden is None:
            continue
        tag = {"any": [tags[hashed] for hashed in hidden]}
        disclosure = b64(_json([b64(secrets.token_bytes(16)), key, node.pop(key)]).encode())
        out.disclosures.append({"d": disclosure, "tag": tag, "parent": None})
        tags[digest(disclosure)] = tag
        node.setdefault("_sd", []).append(digest(disclosure))


def _digests_in(value):
    if isinstance(value, dict):
        yield from value.get("_sd", [])
        for key, item in value.items():
            if key != "_sd":
                yield from _digests_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _digests_in(item)


def finish(payload: dict) -> dict:
    """Digests sorted (their order must not tell which property each stands for)."""
    if isinstance(payload, dict):
        out = {k: finish(v) for k, v in payload.items()}
        if "_sd" in out:
            out["_sd"] = sorted(out["_sd"])
        return out
    if isinstance(payload, list):
        return [finish(item) for item in payload]
    return payload


def sign(payload: dict, key: jwk.JWK, kid: str, typ: str = SD_TYP) -> str:
    header = {"alg": "ES256", "typ": typ, "cty": "vc", "kid": kid}
    token = jws.JWS(_json(payload).encode())
    token.add_signature(key, None, protected=_json(header))
    return token.serialize(compact=True)


def select(disclosures: list[dict], sees) -> list[str]:
    """The disclosures a tier receives: those whose tag it sees and whose parents it
    receives (a child without its parent could not be placed)."""
    decided: dict[int, bool] = {}  # parents come after their children: decided on demand

    def ok(index: int) -> bool:
        if index not in decided:
            item = disclosures[index]
            parent = item["parent"]
            decided[index] = sees(item["tag"]) and (parent is None or ok(parent))
        return decided[index]

    return [item["d"] for index, item in enumerate(disclosures) if ok(index)]


def compact(jwt: str, disclosures: list[str]) -> str:
    return "~".join([jwt, *disclosures]) + "~"


# --- Verifying (the verify_credential command; the tests use another implementation) ------


class Invalid(Exception):
    """The credential does not verify; the message says why."""


_GONE = object()


@dataclass
class Verified:
    header: dict
    payload: dict  # the issuer-signed payload, disclosures not applied
    claims: dict  # with the disclosures received applied; what was not disclosed is absent


def verify(presentation: str, keys: dict[str, jwk.JWK], typ: str = SD_TYP) -> Verified:
    """Check the signature against `keys` (kid -> public JWK) and apply the disclosures: each
    must be referenced by exactly one digest of the signed payload or of another disclosure."""
    parts = presentation.strip().split("~")
    if len(parts) < 2 or parts[-1] != "":
        if typ == SD_TYP:
            raise Invalid("Not an SD-JWT: expected <JWT>~<disclosure>~...~")
        parts = [parts[0], ""]
    jwt, disclosed = parts[0], parts[1:-1]
    try:
        token = jws.JWS()
        token.deserialize(jwt)
        header = token.jose_header
    except (JWException, ValueError) as error:
        raise Invalid(f"The JWT cannot be read: {error}") from None
    if header.get("alg") != "ES256":
        raise Invalid(f"Unexpected algorithm {header.get('alg')!r}; only ES256 is accepted.")
    if header.get("typ") != typ:
        raise Invalid(f"Unexpected typ {header.get('typ')!r}; expected {typ!r}.")
    key = keys.get(header.get("kid", ""))
    if key is None:
        raise Invalid(f"The signing key {header.get('kid')!r} is not in the DID document.")
    try:
        token.verify(key, alg="ES256")
    except JWException:
        raise Invalid("The signature does not verify with the issuer's key.") from None
    payload = json.loads(token.payload)
    if typ == SD_TYP and payload.get("_sd_alg", SD_ALG) != SD_ALG:
        raise Invalid(f"Unsupported _sd_alg {payload.get('_sd_alg')!r}.")
    by_digest: dict[str, list] = {}
    for disclosure in disclosed:
        try:
            salt, name, value = json.loads(unb64(disclosure))
        except ValueError:
            raise Invalid("A disclosure is not base64url JSON [salt, name, value].") from None
        if not isinstance(name, str) or name in ("_sd", "...", "_sd_alg"):
            raise Invalid(f"A disclosure names a reserved claim {name!r}.")
        if digest(disclosure) in by_digest:
            raise Invalid("A disclosure is sent twice.")
        by_digest[digest(disclosure)] = [name, value]
    used: set[str] = set()
    claims = _apply(payload, by_digest, used)
    claims.pop("_sd_alg", None)
    unused = set(by_digest) - used
    if unused:
        raise Invalid(
            f"{len(unused)} disclosure(s) match no digest of the credential: altered, or "
            "from another credential."
        )
    return Verified(header, payload, claims if claims is not _GONE else {})


def _apply(node, by_digest: dict, used: set):
    if isinstance(node, list):
        items = [_apply(item, by_digest, used) for item in node]
        kept = [item for item in items if item is not _GONE]
        return _GONE if node and not kept else kept
    if not isinstance(node, dict):
        return node
    out = {}
    touched = False
    for key, value in node.items():
        if key == "_sd":
            touched = True
            continue
        applied = _apply(value, by_digest, used)
        if applied is _GONE:
            touched = True
        else:
            out[key] = applied
    for hashed in node.get("_sd", []):
        if hashed in used:
            raise Invalid("A digest is referenced twice.")
        if hashed in by_digest:
            used.add(hashed)
            name, value = by_digest[hashed]
            if name in out:
                raise Invalid(f"A disclosure overwrites the claim {name!r}.")
            applied = _apply(value, by_digest, used)
            if applied is not _GONE:
                out[name] = applied
    return _GONE if touched and not out else out
