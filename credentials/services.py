"""Issuing credentials and status lists (writes and signing).

What is followed, and where:
- W3C Verifiable Credentials Data Model 2.0: `@context`, `type`, `id`, `issuer`,
  `validFrom`/`validUntil`, `credentialSubject`, `credentialStatus`.
- W3C VC-JOSE-COSE (Recommendation 2025): secured as SD-JWT (`typ` vc+sd-jwt, `cty` vc) and
  the status list as a JWT (`typ` vc+jwt), ES256, `kid` the DID URL of the key.
- UN Transparency Protocol 0.6: a passport version is a `DigitalProductPassport` whose
  subject is a `ProductPassport` (the product's id, and the Battery Pass 1.2.0 document as
  `batteryPass`); a verified attestation is a `DigitalConformityCredential` whose subject is
  a `ConformityAttestation` (`assessorLevel`, `attestationType`, `issuedToParty`,
  `assessment[].referenceStandard`).
- W3C Bitstring Status List 1.0: `BitstringStatusListEntry` (`statusPurpose`,
  `statusListIndex`, `statusListCredential`) and a `BitstringStatusListCredential` whose
  `encodedList` is multibase (u) base64url of the GZIP-compressed bitstring, 131,072 entries,
  the first entry the most significant bit of the first byte.

A credential is signed once (per passport version; per attestation as it reads) and kept;
each tier's presentation drops the disclosures it may not see. Status is derived from the
registry when the list is asked for, never stored: a passport version is revoked once a
newer version is published, and every version once the passport has ceased (recycled); an
attestation's credential is revoked once the attestation is revoked, rejected, expired or
past its validity, or a newer credential replaced it, and is suspended while the
attestation is suspended.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from passports import access
from passports.catalogue import ATTRIBUTE_PATHS
from passports.models import Access, PassportVersion
from registry.models import Attestation

from . import keys, sdjwt
from .models import IssuedCredential

LIST_SIZE = 131_072  # the minimum (16 KiB) the Bitstring Status List asks for
REVOCATION = "revocation"
SUSPENSION = "suspension"
VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
DPP_CONTEXT = "https://test.uncefact.org/vocabulary/untp/dpp/0.6.0/"
DCC_CONTEXT = "https://test.uncefact.org/vocabulary/untp/dcc/0.6.0/"
ISSUER_NAME = "Battery Minerals Compliance Registry"
SUBJECT_DOCUMENT = ("credentialSubject", "batteryPass")


def _base() -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/")


def _instant(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _issuer() -> dict:
    return {"id": keys.issuer_did(), "type": ["CredentialIssuer"], "name": ISSUER_NAME}


# --- Status lists --------------------------------------------------------------------------


def status_list_url(number: int, purpose: str = REVOCATION) -> str:
    suffix = "" if purpose == REVOCATION else f"/{purpose}"
    return f"{_base()}/credentials/status/{number}{suffix}"


def status_place(credential_id: int) -> tuple[int, int]:
    """(list number, index in it): the credential's id, so allocation is the database's own
    (concurrency-safe) sequence."""
    number, index = divmod(credential_id - 1, LIST_SIZE)
    return number + 1, index


def status_entries(credential_id: int, purposes: tuple[str, ...]) -> list[dict]:
    number, index = status_place(credential_id)
    return [
        {
            "id": f"{status_list_url(number, purpose)}#{index}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": purpose,
            "statusListIndex": str(index),
            "statusListCredential": status_list_url(number, purpose),
        }
        for purpose in purposes
    ]


def flagged(purpose: str, today: dt.date | None = None):
    """The credentials whose bit is set for `purpose`, derived from the registry now."""
    if purpose == SUSPENSION:
        return IssuedCredential.objects.filter(attestation__status=Attestation.Status.SUSPENDED)
    today = today or dt.date.today()
    replaced = IssuedCredential.objects.filter(
        attestation_id=OuterRef("attestation_id"), pk__gt=OuterRef("pk")
    )
    ended = (Attestation.Status.REVOKED, Attestation.Status.EXPIRED, Attestation.Status.REJECTED)
    return IssuedCredential.objects.filter(
        Q(passport_version__number__lt=F("passport_version__passport__version"))
        # A ceased passport (recycled, Art. 77(6)): its latest version's credential too.
        | Q(passport_version__passport__ceased_at__isnull=False)
        | Q(attestation__status__in=ended)
        | Q(attestation__valid_until__lt=today)
        | Q(Exists(replaced), attestation__isnull=False)
    )


def encoded_list(indexes) -> str:
    bits = bytearray(LIST_SIZE // 8)
    for index in indexes:
        bits[index // 8] |= 0x80 >> (index % 8)
    return "u" + sdjwt.b64(gzip.compress(bytes(bits), mtime=0))


def status_list_exists(number: int) -> bool:
    if number < 1:
        return False
    return number == 1 or IssuedCredential.objects.filter(pk__gt=(number - 1) * LIST_SIZE).exists()


def status_list_credential(number: int, purpose: str = REVOCATION) -> str:
    """The signed status list (vc+jwt): one query for the set bits, then one signature."""
    ring = keys.key_ring()
    low = (number - 1) * LIST_SIZE + 1
    ids = flagged(purpose).filter(pk__gte=low, pk__lt=low + LIST_SIZE).values_list("pk", flat=True)
    url = status_list_url(number, purpose)
    payload = {
        "@context": [VC_CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": _issuer(),
        "validFrom": _instant(timezone.now()),
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": encoded_list(pk - low for pk in ids),
        },
    }
    return sdjwt.sign(payload, ring.signer, keys.method_id(ring.signer_kid), sdjwt.JWT_TYP)


# --- Passports -----------------------------------------------------------------------------


def restricted_paths() -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(path in the credential, the Art. 77(2) access levels it needs) for every document
    path a public reader may not see: each becomes a disclosure."""
    levels: dict[tuple[str, ...], set[str]] = {}
    by_number = access.access_by_number()
    for number, paths in ATTRIBUTE_PATHS.items():
        for path in paths:
            levels.setdefault(path, set()).add(by_number.get(number, Access.AUTHORITIES))
    return [
        ((*SUBJECT_DOCUMENT, *path), tuple(sorted(needs - {Access.PUBLIC})))
        for path, needs in levels.items()
        if needs - {Access.PUBLIC}
    ]


def sees(tag, roles: frozenset[str]) -> bool:
    """A tag is the access levels a disclosure needs (all of them), or {"any": [tags]} for
    an object or array that only holds disclosures (one of them)."""
    if isinstance(tag, dict):
        return any(sees(inner, roles) for inner in tag["any"])
    return all(access.ROLES_FOR_ACCESS[level] & roles for level in tag)


def passport_payload(version: PassportVersion, credential_id: int) -> dict:
    passport = version.passport
    url = f"{_base()}/api/passports/{passport.internal_id}/versions/{version.number}/"
    document = {aspect: payload for aspect, payload in version.document.items() if payload}
    return {
        "@context": [VC_CONTEXT, DPP_CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", "DigitalProductPassport"],
        "name": f"Battery passport {passport.internal_id}, version {version.number}",
        "issuer": _issuer(),
        "validFrom": _instant(version.created_at),
        "credentialSubject": {
            "type": ["ProductPassport"],
            "id": f"urn:uuid:{passport.uuid}",
            "version": version.number,
            "batteryPass": document,
        },
        "credentialStatus": status_entries(credential_id, (REVOCATION,)),
    }


def _issue(credential: IssuedCredential, payload: dict, paths) -> IssuedCredential:
    ring = keys.key_ring()
    concealed = sdjwt.conceal(payload, paths)
    signed = sdjwt.finish({**concealed.payload, "_sd_alg": sdjwt.SD_ALG})
    credential.key_id = keys.method_id(ring.signer_kid)
    credential.jwt = sdjwt.sign(signed, ring.signer, credential.key_id)
    credential.disclosures = concealed.disclosures
    credential.save(update_fields=["key_id", "jwt", "disclosures"])
    return credential


def issue_passport_credential(version: PassportVersion) -> IssuedCredential:
    """The version's credential, signed now unless another process already did."""
    keys.key_ring()  # fail before writing when no key is configured
    try:
        with transaction.atomic():
            credential = IssuedCredential.objects.create(
                kind=IssuedCredential.Kind.PASSPORT, passport_version=version
            )
            return _issue(credential, passport_payload(version, credential.pk), restricted_paths())
    except IntegrityError:  # issued meanwhile by another request
        return IssuedCredential.objects.get(passport_version=version)


# --- Attestations ----------------------------------------------------------------------------

ASSESSOR_LEVEL = {
    Attestation.Type.SELF_DECLARATION: "Self",
    Attestation.Type.MEMBERSHIP: "Membership",
    Attestation.Type.THIRD_PARTY_AUDIT: "3rdParty",
    Attestation.Type.CERTIFICATION: "3rdParty",
    Attestation.Type.REGULATORY_FILING: "Unspecified",
}
ATTESTATION_TYPE = {
    Attestation.Type.SELF_DECLARATION: "declaration",
    Attestation.Type.MEMBERSHIP: "declaration",
    Attestation.Type.THIRD_PARTY_AUDIT: "verification",
    Attestation.Type.CERTIFICATION: "certification",
    Attestation.Type.REGULATORY_FILING: "declaration",
}


def attestation_claims(attestation: Attestation) -> dict:
    """What the credential says of the attestation (without status or signature): the
    fingerprint is taken over it, so a credential is reissued only when this changes."""
    base = _base()
    url = f"{base}/api/registry/attestations/{attestation.pk}/"
    company, standard = attestation.company, attestation.standard
    claims = {
        "@context": [VC_CONTEXT, DCC_CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", "DigitalConformityCredential"],
        "name": f"{standard.short_name} attestation of {company.legal_name}",
        "issuer": _issuer(),
        "validFrom": f"{attestation.valid_from.isoformat()}T00:00:00Z",
        "credentialSubject": {
            "type": ["ConformityAttestation", "Attestation"],
            "id": url,
            "assessorLevel": ASSESSOR_LEVEL[attestation.type],
            "attestationType": ATTESTATION_TYPE[attestation.type],
            "issuedToParty": {
                "id": f"{base}/api/registry/companies/{company.pk}/",
                "name": company.legal_name,
                **({"registeredId": company.lei, "idScheme": "LEI"} if company.lei else {}),
            },
            "assessment": [
                {
                    "type": ["ConformityAssessment"],
                    "referenceStandard": {
                        "id": standard.url or f"{base}/api/taxonomy/standards/{standard.code}/",
                        "name": standard.name,
                        "code": standard.code,
                    },
                    "assessedMaterials": sorted(m.code for m in attestation.minerals.all()),
                    "conformance": True,
                }
            ],
            "verifier": attestation.verifier_name
            or (attestation.verifier.name if attestation.verifier else ""),
            "reference": attestation.reference,
        },
    }
    if attestation.valid_until:
        claims["validUntil"] = f"{attestation.valid_until.isoformat()}T23:59:59Z"
    return claims


def fingerprint(claims: dict) -> str:
    return hashlib.sha256(sdjwt._json(claims).encode()).hexdigest()


def issue_attestation_credential(attestation: Attestation, claims: dict) -> IssuedCredential:
    keys.key_ring()
    mark = fingerprint(claims)
    try:
        with transaction.atomic():
            credential = IssuedCredential.objects.create(
                kind=IssuedCredential.Kind.ATTESTATION, attestation=attestation, fingerprint=mark
            )
            statuses = (REVOCATION, SUSPENSION)
            payload = {**claims, "credentialStatus": status_entries(credential.pk, statuses)}
            return _issue(credential, payload, [])
    except IntegrityError:
        return IssuedCredential.objects.get(attestation=attestation, fingerprint=mark)
