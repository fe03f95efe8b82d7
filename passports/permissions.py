"""Who may write what in passports: every allow rule of the app, in one place.

Each function answers yes only for what it names. A passport or battery model is managed by
the people of the company it belongs to (its manufacturer, or its economic operator),
named by their organisation being that company: an organisation that is no company (an
NGO, an auditor, a grantee, an authority) manages none. Reading is decided by
passports/access.py.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q

from registry import permissions as registry_rules
from registry.models import Membership
from registry.permissions import company_of, is_staff

from . import access
from .models import AccessGrant, BatteryModel, BatteryPassport

MANAGING_ROLES = (Membership.Role.COMPLIANCE_OFFICER, Membership.Role.REVIEWER)

CHANGE_REFUSED = "Only the manufacturer or economic operator may change it."


def can_manage(user, manufacturer_id: int, operator_id: int | None = None) -> bool:
    """Staff, or a compliance officer / reviewer of the manufacturer or economic operator."""
    if is_staff(user):
        return True
    membership = registry_rules.membership_of(user)
    company = company_of(user)
    # `company` is None for an organisation that is no company; a None operator must
    # never match it (the defect: `None in (id, None)`).
    owners = {manufacturer_id, operator_id} - {None}
    return bool(
        membership
        and membership.role in MANAGING_ROLES
        and company is not None
        and company in owners
    )


def can_change(user, passport: BatteryPassport) -> bool:
    """Edit, publish, revise a passport and record its readings: its manufacturer's or
    economic operator's people, and staff."""
    return can_manage(user, passport.battery_model.manufacturer_id, passport.economic_operator_id)


def can_repurpose(user, passport: BatteryPassport, new_operator_id: int) -> bool:
    """Staff; the passport's own manufacturer or operator; or a second-life operator
    (a legitimate-interest grant for the manufacturer) acting as the new economic operator."""
    if can_change(user, passport):
        return True
    company = company_of(user)
    if company is None or company != new_operator_id:
        return False
    requester = access.requester_for(user)
    return "legitimate_interest" in access.roles_for(
        requester, passport.battery_model.manufacturer_id
    )


def is_recycler_for(user, manufacturer_id: int) -> bool:
    """A compliance officer or reviewer of an organisation holding a recycler's access grant
    in force for the manufacturer's passports (any manufacturer when the grant names none)."""
    membership = registry_rules.membership_of(user)
    if membership is None or membership.role not in MANAGING_ROLES:
        return False
    today = dt.date.today()
    return (
        AccessGrant.objects.filter(
            organisation_id=membership.organisation_id,
            purpose=AccessGrant.Purpose.RECYCLER,
            revoked=False,
            valid_from__lte=today,
        )
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=today))
        .filter(Q(manufacturer__isnull=True) | Q(manufacturer_id=manufacturer_id))
        .exists()
    )


def authorize_recycle(user, passport: BatteryPassport, recycler):
    """Who records that the battery was recycled (its passport ceases): its manufacturer's
    or economic operator's people and staff, naming the recycler (or none); or the recycler
    itself (a recycler's grant for the manufacturer), which records its own organisation.
    Returns the recycler to record."""
    if can_change(user, passport):
        return recycler
    if not is_recycler_for(user, passport.battery_model.manufacturer_id):
        raise PermissionDenied(
            "Only the manufacturer, the economic operator, a recycler with an access grant "
            "for its passports, or staff may record that the battery was recycled."
        )
    own = registry_rules.membership_of(user).organisation
    if recycler is not None and recycler.pk != own.pk:
        raise ValidationError({"recycler": "A recycler records its own recycling only."})
    return own


def authorize_change(user, passport: BatteryPassport) -> None:
    if not can_change(user, passport):
        raise PermissionDenied(CHANGE_REFUSED)


def authorize_create(user, battery_model: BatteryModel) -> None:
    """A passport of a battery model: the model's manufacturer's people, and staff."""
    if not can_manage(user, battery_model.manufacturer_id):
        raise PermissionDenied("Only the manufacturer or economic operator may create it.")


def authorize_import(user, battery_model: BatteryModel) -> None:
    """An imported passport is a new passport of the model: as `authorize_create`."""
    if not can_manage(user, battery_model.manufacturer_id):
        raise PermissionDenied("Only the manufacturer or economic operator may import it.")


def authorize_repurpose(
    user, passport: BatteryPassport, *, economic_operator, battery_model: BatteryModel | None
) -> None:
    """Who may start a successor passport, and with which battery model: the successor's
    model is the repurposer's own; only the original's owners may keep the original's."""
    if not can_repurpose(user, passport, economic_operator.pk):
        raise PermissionDenied("Only the new economic operator (or staff) may repurpose it.")
    if battery_model is not None and not can_manage(user, battery_model.manufacturer_id):
        raise PermissionDenied("Name a battery model of your own company.")
    if battery_model is None and not can_change(user, passport):
        raise ValidationError(
            {
                "battery_model": "A second-life operator names its own battery model "
                "(the original's stays with its manufacturer)."
            }
        )


def authorize_model_create(user, manufacturer) -> None:
    if not can_manage(user, manufacturer.pk):
        raise PermissionDenied("Only the manufacturer's people may add its battery models.")


def authorize_model_change(user, battery_model: BatteryModel, manufacturer=None) -> None:
    """A battery model keeps its manufacturer, whose people (and staff) change it."""
    if manufacturer is not None and manufacturer.pk != battery_model.manufacturer_id:
        raise ValidationError({"manufacturer": "A battery model keeps its manufacturer."})
    if not can_manage(user, battery_model.manufacturer_id):
        raise PermissionDenied("Only the manufacturer's people may change its battery models.")
