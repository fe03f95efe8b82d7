"""Credentials issued once and kept: the signed JWT and every disclosure, so that each
process answers every tier from the same signature (see services.py)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from passports.models import PassportVersion
from registry.models import Attestation


class IssuedCredential(models.Model):
    """One signed credential: a published passport version, or a verified attestation as it
    read when issued (`fingerprint`). Its id places it in the Bitstring Status Lists."""

    class Kind(models.TextChoices):
        PASSPORT = "passport", "Digital Product Passport (a passport version)"
        ATTESTATION = "attestation", "Digital Conformity Credential (an attestation)"

    kind = models.CharField(max_length=12, choices=Kind.choices)
    passport_version = models.OneToOneField(
        PassportVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    attestation = models.ForeignKey(
        Attestation, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    fingerprint = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of what an attestation's credential says"
    )
    key_id = models.CharField(max_length=200, help_text="The DID URL of the key that signed")
    jwt = models.TextField(help_text="The issuer-signed JWT (SD-JWT without disclosures)")
    # [{"d": disclosure, "tag": [access levels it needs], "parent": index or null}]
    disclosures = models.JSONField(default=list)
    issued_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["attestation", "fingerprint"],
                condition=Q(attestation__isnull=False),
                name="uniq_attestation_credential",
            ),
            models.CheckConstraint(
                condition=Q(
                    kind="passport", passport_version__isnull=False, attestation__isnull=True
                )
                | Q(kind="attestation", attestation__isnull=False, passport_version__isnull=True),
                name="credential_of_one_thing",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} credential {self.pk}"
