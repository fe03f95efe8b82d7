"""Who may write what in the registry: every allow rule of the app, in one place.

Each function answers yes only for what it names; anything else is refused. The API, the
admin, the pages and the services ask these, and a change is allowed only when the rule
holds for the record before it and after it (so nobody hands a record to someone else).
Reading is decided by the querysets (`visible_to`), not here.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Q

from .models import (
    Attestation,
    Company,
    Facility,
    Membership,
    MinedSource,
    SourceLink,
    SupplyRelationship,
)

Role = Membership.Role

RECORD_REFUSED = "Only staff or the company's own people may change this record."


def membership_of(user) -> Membership | None:
    return getattr(user, "membership", None) if user and user.is_authenticated else None


def is_staff(user) -> bool:
    return bool(user and user.is_authenticated and user.is_staff)


def company_of(user) -> int | None:
    """The company the user's organisation is, if it is one (NGOs, auditors are not)."""
    membership = membership_of(user)
    return membership.organisation.company_id if membership else None


# --- Attestations -----------------------------------------------------------------------


def can_log_attestations(user) -> bool:
    """Staff, and compliance officers of any organisation (they log their suppliers')."""
    membership = membership_of(user)
    return is_staff(user) or bool(membership and membership.role == Role.COMPLIANCE_OFFICER)


def can_edit(user, attestation: Attestation) -> bool:
    """Staff, and the compliance officers of the organisation that logged it."""
    membership = membership_of(user)
    return is_staff(user) or bool(
        membership
        and membership.organisation_id == attestation.owner_id
        and membership.role == Role.COMPLIANCE_OFFICER
    )


def can_review(user, attestation: Attestation) -> bool:
    """Staff, a reviewer of the logging organisation, or a member of the verifier."""
    membership = membership_of(user)
    if is_staff(user):
        return True
    if membership is None:
        return False
    if membership.organisation_id == attestation.verifier_id:
        return membership.role in (Role.REVIEWER, Role.COMPLIANCE_OFFICER)
    return membership.organisation_id == attestation.owner_id and membership.role == Role.REVIEWER


def reviewable_by(user) -> Q | None:
    """`can_review` as a filter on attestations (kept beside it: the same rule): staff
    all; a verifier's reviewers and officers what names it as verifier; a logging
    organisation's reviewers what it logged. None: nothing."""
    if is_staff(user):
        return Q()
    membership = membership_of(user)
    if membership is None:
        return None
    role, org = membership.role, membership.organisation_id
    allowed = Q(pk__in=[])
    if role in (Role.REVIEWER, Role.COMPLIANCE_OFFICER):
        allowed |= Q(verifier_id=org)
    if role == Role.REVIEWER:
        allowed |= Q(owner_id=org)
    return allowed


def can_add_evidence(user, attestation: Attestation) -> bool:
    return can_edit(user, attestation) or can_review(user, attestation)


# --- Registry records (companies, facilities, mines, flows) -----------------------------


def can_add_records(user) -> bool:
    """Staff and compliance officers: an officer records its suppliers and their sites."""
    return can_log_attestations(user)


def record_companies(record) -> set[int]:
    """The companies a registry record belongs to: whose people may change it."""
    if isinstance(record, Company):
        return {record.pk}
    if isinstance(record, Facility):
        return {record.company_id}
    if isinstance(record, MinedSource):
        owners = record.ownerships.values_list("company_id", flat=True)
        return {record.operator_id, *owners} - {None}
    if isinstance(record, SupplyRelationship):
        return {record.supplier_id, record.buyer_id}
    if isinstance(record, SourceLink):
        return {record.facility.company_id}
    raise TypeError(f"No write rule for {type(record).__name__}")


def can_change_record(user, record) -> bool:
    """Staff, or an officer of one of the companies the record belongs to."""
    if is_staff(user):
        return True
    company = company_of(user)
    return can_add_records(user) and company is not None and company in record_companies(record)


def authorize_record_change(user, record) -> None:
    """Asked of the record as it is before a change and again as it would be after."""
    if not can_change_record(user, record):
        raise PermissionDenied(RECORD_REFUSED)
