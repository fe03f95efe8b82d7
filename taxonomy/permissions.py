"""Who may change the reference taxonomy: every allow rule of curation, in one place.

A change to reference data is a proposal (taxonomy.services.propose) and applies only
once a second person approves it. Each function answers yes only for what it names;
anything else is refused. Reading is open to all.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from registry.models import Membership
from registry.permissions import is_staff, membership_of

from .models import ReferenceProposal

Role = Membership.Role

PROPOSE_REFUSED = "Only compliance officers, reviewers and staff may propose changes."
REVIEW_REFUSED = "Only staff and reviewers review changes to reference data."
OWN_PROPOSAL_REFUSED = "A proposal is decided by a second person, not by its proposer."


def can_propose(user) -> bool:
    """Staff, and compliance officers or reviewers of any organisation (not viewers)."""
    membership = membership_of(user)
    return is_staff(user) or bool(
        membership and membership.role in (Role.COMPLIANCE_OFFICER, Role.REVIEWER)
    )


def can_review_proposals(user) -> bool:
    """Staff, and reviewers of any organisation: who sees the review page at all."""
    membership = membership_of(user)
    return is_staff(user) or bool(membership and membership.role == Role.REVIEWER)


def can_decide(user, proposal: ReferenceProposal) -> bool:
    """A reviewer who is not the proposer (four eyes)."""
    return can_review_proposals(user) and proposal.proposed_by_id != user.pk


def authorize_propose(user) -> None:
    if not can_propose(user):
        raise PermissionDenied(PROPOSE_REFUSED)


def authorize_decision(user, proposal: ReferenceProposal) -> None:
    if not can_review_proposals(user):
        raise PermissionDenied(REVIEW_REFUSED)
    if not can_decide(user, proposal):
        raise PermissionDenied(OWN_PROPOSAL_REFUSED)
