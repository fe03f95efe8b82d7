"""Reads of credentials, as the requester may see them: a passport's credential holds only
the disclosures of the requester's tier; an attestation's only if the requester may see it."""

from __future__ import annotations

from django.db.models import OuterRef, Prefetch, Subquery

from passports import access
from passports import selectors as passport_selectors
from passports.models import Lifecycle, PassportVersion
from registry.models import Attestation
from registry.querysets import Requester
from taxonomy.models import Mineral

from . import keys, presentations, sdjwt, services
from .models import IssuedCredential

FORMAT = "vc+sd-jwt"


def passport_credential(requester: Requester, identifier: str) -> dict | None:
    """The latest published version's credential as the requester's tier receives it; None
    when there is no published passport by that identifier the requester may see. Read by
    the detail route's own fast path (one query, and the requester's grants), then the
    tier's presentation from the cache (credentials/presentations.py)."""
    keys.key_ring()  # 503 before anything is read when no key is configured
    row = passport_selectors.passport_row(requester, identifier)
    if row is None or row["lifecycle"] != Lifecycle.PUBLISHED or row["version"] < 1:
        return None
    roles = passport_selectors.row_roles(requester, row)

    def load() -> IssuedCredential:
        credential = (
            IssuedCredential.objects.filter(
                passport_version__passport_id=row["id"], passport_version__number=row["version"]
            )
            .only("jwt", "disclosures")
            .first()
        )
        if credential is not None:
            return credential
        version = PassportVersion.objects.select_related("passport").get(
            passport_id=row["id"], number=row["version"]
        )
        return services.issue_passport_credential(version)

    return {
        "format": FORMAT,
        "version": row["version"],
        "tier": access.tier_label(roles),
        "credential": presentations.presentation(row["uuid"], row["version"], roles, load),
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


def passport_credential_statuses(
    passport_id: int, latest: int, *, ceased: bool = False, limit: int = 5
) -> list[dict]:
    """The newest published versions of a passport (at most `limit`), each with its
    credential's status as the status list tells it: "valid" for the latest version's,
    "superseded" (revoked) for an earlier one's, "revoked" for every one once the passport
    ceased, "not issued" before anyone asked for it. One query; the status is derived as
    services.flagged derives it, never stored."""
    credential = IssuedCredential.objects.filter(passport_version=OuterRef("pk"))
    rows = (
        PassportVersion.objects.filter(passport_id=passport_id, number__lte=latest)
        .order_by("-number")
        .annotate(
            credential_id=Subquery(credential.values("pk")[:1]),
            issued_at=Subquery(credential.values("issued_at")[:1]),
        )
        .values("number", "created_at", "credential_id", "issued_at")[:limit]
    )
    out = []
    for row in rows:
        if row["credential_id"] is None:
            status = "not issued"
        else:
            status = "superseded" if row["number"] < latest else "valid"
            if ceased:
                status = "revoked"
            list_number, index = services.status_place(row["credential_id"])
            row["status_list_url"] = services.status_list_url(list_number)
            row["status_index"] = index
        out.append({**row, "status": status})
    return out
