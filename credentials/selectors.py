"""Reads of credentials, as the requester may see them: a passport's credential holds only
the disclosures of the requester's tier; an attestation's only if the requester may see it."""

from __future__ import annotations

from django.db.models import Prefetch

from passports import access
from passports import selectors as passport_selectors
from passports.models import Lifecycle, PassportVersion
from registry.models import Attestation
from registry.querysets import Requester
from taxonomy.models import Mineral

from . import keys, sdjwt, services
from .models import IssuedCredential

FORMAT = "vc+sd-jwt"


def passport_credential(requester: Requester, identifier: str) -> dict | None:
    """The latest published version's credential as the requester's tier receives it; None
    when there is no published passport by that identifier the requester may see. Three
    queries once issued (the requester's grants, the passport, its credential)."""
    keys.key_ring()  # 503 before anything is read when no key is configured
    row = (
        passport_selectors.visible_passports(requester)
        .filter(passport_selectors.identifier_q(identifier), lifecycle=Lifecycle.PUBLISHED)
        .values("id", "version", "battery_model__manufacturer_id", "economic_operator_id")
        .first()
    )
    if row is None or row["version"] < 1:
        return None
    roles = access.roles_for(
        requester, row["battery_model__manufacturer_id"], row["economic_operator_id"]
    )
    credential = (
        IssuedCredential.objects.filter(
            passport_version__passport_id=row["id"], passport_version__number=row["version"]
        )
        .only("jwt", "disclosures")
        .first()
    )
    if credential is None:
        version = PassportVersion.objects.select_related("passport").get(
            passport_id=row["id"], number=row["version"]
        )
        credential = services.issue_passport_credential(version)
    chosen = sdjwt.select(credential.disclosures, lambda tag: services.sees(tag, roles))
    return {
        "format": FORMAT,
        "version": row["version"],
        "tier": access.tier_label(roles),
        "credential": sdjwt.compact(credential.jwt, chosen),
    }


def attestation_credential(requester: Requester, pk: int) -> dict | None:
    """A verified attestation's credential; None when there is none the requester may see."""
    keys.key_ring()
    attestation = (
        Attestation.objects.visible_to(requester)
        .filter(pk=pk, status=Attestation.Status.VERIFIED)
        .select_related("company", "standard", "verifier")
        .prefetch_related(Prefetch("minerals", queryset=Mineral.objects.only("code")))
        .first()
    )
    if attestation is None:
        return None
    claims = services.attestation_claims(attestation)
    credential = (
        IssuedCredential.objects.filter(
            attestation=attestation, fingerprint=services.fingerprint(claims)
        )
        .only("jwt")
        .first()
    ) or services.issue_attestation_credential(attestation, claims)
    return {"format": FORMAT, "credential": sdjwt.compact(credential.jwt, [])}
