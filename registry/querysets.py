"""Query building blocks for attestations: who may see them, and their status on a date.

What counts as coverage is decided from these in `registry.coverage`. The queryset names
no model (it reaches its own through `self.model`), so models.py imports it without a cycle.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import models
from django.db.models import OuterRef, Q, Subquery


@dataclass(frozen=True)
class Requester:
    """Who is asking: the one description of a requester for every app. Visibility of
    attestations is decided from it here; passport tiers from it in `passports.access`
    (which fills `grants` with the requester's access grants)."""

    user_id: int | None = None
    organisation_id: int | None = None
    company_id: int | None = None  # the company the requester's organisation is
    sees_everything: bool = False  # staff who keep the data
    grants: tuple[tuple[str, int | None], ...] = ()  # (tier, manufacturer id or None)

    @classmethod
    def anonymous(cls) -> Requester:
        return cls()

    @classmethod
    def everyone(cls) -> Requester:
        """Only for the sector snapshots (registry.privacy) and staff tools: never for an
        answer to someone who may not see everything."""
        return cls(sees_everything=True)

    @classmethod
    def for_user(cls, user) -> Requester:
        if user is None or not user.is_authenticated:
            return cls.anonymous()
        membership = getattr(user, "membership", None)
        return cls(
            user_id=user.pk,
            organisation_id=membership.organisation_id if membership else None,
            company_id=membership.organisation.company_id if membership else None,
            sees_everything=user.is_staff,
        )


class AttestationQuerySet(models.QuerySet):
    def visible_to(self, requester: Requester) -> AttestationQuerySet:
        if requester.sees_everything:
            return self
        visible = Q(visibility="public")
        if requester.organisation_id:
            # A subquery rather than a join keeps one row per attestation.
            shared = self.model.shared_with.through.objects.filter(
                organisation_id=requester.organisation_id
            ).values("attestation_id")
            # The verifier named on an attestation sees it: it has to review it.
            visible |= (
                Q(owner_id=requester.organisation_id)
                | Q(verifier_id=requester.organisation_id)
                | Q(visibility="shared", pk__in=shared)
            )
        return self.filter(visible)

    def with_status_on(self, day: dt.date) -> AttestationQuerySet:
        """Annotate `status_on`: the status in force on `day` (None before submission)."""
        status_changes = self.model._meta.get_field("status_changes").related_model
        latest = status_changes.objects.filter(
            attestation=OuterRef("pk"), effective__lte=day
        ).order_by("-effective", "-id")
        return self.annotate(status_on=Subquery(latest.values("to_status")[:1]))

    def valid_on(self, day: dt.date) -> AttestationQuerySet:
        return self.filter(
            Q(valid_from__lte=day) & (Q(valid_until__isnull=True) | Q(valid_until__gte=day))
        )
