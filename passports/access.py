"""Who sees which attributes of a passport (Art. 77(2), the `access` column).

Roles: everyone is `public`; organisations hold grants for `legitimate_interest`
(recyclers, repairers, second-life operators), `commission` or `authority`
(notified bodies and market-surveillance authorities); the manufacturer and the
economic operator are `owner` of their passports and see everything.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from functools import lru_cache

from django.db.models import Q

from registry.querysets import Requester

from .catalogue import ATTRIBUTE_PATHS
from .models import Access, AccessGrant, PassportAttribute, PassportEvent

ROLES_FOR_ACCESS: dict[str, frozenset[str]] = {
    Access.PUBLIC: frozenset({"public", "legitimate_interest", "commission", "authority", "owner"}),
    Access.LEGITIMATE_INTEREST: frozenset({"legitimate_interest", "commission", "owner"}),
    Access.LEGITIMATE_INTEREST_COMMISSION: frozenset(
        {"legitimate_interest", "commission", "owner"}
    ),
    Access.AUTHORITIES: frozenset({"authority", "commission", "owner"}),
}
ALL_ROLES = frozenset({"public", "legitimate_interest", "commission", "authority", "owner"})
PUBLIC = frozenset({"public"})

# Reference data: read once per process. The loader clears it (see reference.py).
_access: dict[int, str] | None = None


def access_by_number() -> dict[int, str]:
    global _access
    if _access is None:
        _access = dict(PassportAttribute.objects.values_list("number", "access"))
    return _access


def clear_cache() -> None:
    global _access
    _access = None
    hidden_paths.cache_clear()


def can_see(number: int, roles: frozenset[str]) -> bool:
    return bool(ROLES_FOR_ACCESS[access_by_number()[number]] & roles)


def visible_numbers(roles: frozenset[str]) -> frozenset[int]:
    return frozenset(
        n for n, access in access_by_number().items() if ROLES_FOR_ACCESS[access] & roles
    )


@lru_cache(maxsize=64)
def hidden_paths(roles: frozenset[str]) -> tuple[tuple[str, ...], ...]:
    visible = visible_numbers(roles)
    return tuple(
        path for number, paths in ATTRIBUTE_PATHS.items() if number not in visible for path in paths
    )


def _without(node, path: tuple[str, ...]):
    """A copy of `node` without `path`; only the containers on the way are copied."""
    if not path:
        return _GONE
    head, rest = path[0], path[1:]
    if head == "*":
        if not isinstance(node, list):
            return node
        items = [_without(item, rest) for item in node]
        items = [i for i in items if i is not _GONE and i != {}]
        return items if items else _GONE
    if not isinstance(node, dict) or head not in node:
        return node
    child = _without(node[head], rest)
    out = dict(node)
    if child is _GONE or child == {} or child == []:
        del out[head]
    else:
        out[head] = child
    return out


_GONE = object()


def project(document: dict, roles: frozenset[str]) -> dict:
    """The document as `roles` may see it."""
    paths = hidden_paths(roles)
    if not paths:
        return document
    out = document
    for path in paths:
        out = _without(out, path)
        if out is _GONE:
            return {}
    return {aspect: payload for aspect, payload in out.items() if payload}


# --- What a tier sees of a passport beyond its document ----------------------------

STATUS_ATTRIBUTE = 11  # attributes.csv: Battery status

# Facts kept beside the document that reveal an attribute, by the key they are read under
# (the passport row of passports/selectors.py, a version row): a tier that may not see the
# attribute gets None. A predecessor says the battery was repurposed or remanufactured,
# which is its status (the Catena-X export's predecessor link too: `sees_status`); a
# version's note may name the status.
PASSPORT_FACTS: dict[str, int] = {
    "battery_status": STATUS_ATTRIBUTE,
    "predecessor__internal_id": STATUS_ATTRIBUTE,
}
VERSION_FACTS: dict[str, int] = {"battery_status": STATUS_ATTRIBUTE, "note": STATUS_ATTRIBUTE}


def sees_status(roles: frozenset[str]) -> bool:
    """The battery status, and what reveals it (the predecessor link), follow attribute 11."""
    return can_see(STATUS_ATTRIBUTE, roles)


def cut(facts: dict, roles: frozenset[str], revealing: dict[str, int] = PASSPORT_FACTS) -> dict:
    """`facts` as `roles` may see them: each revealing key present is None unless the tier
    sees its attribute. The same dict when nothing is hidden, else a copy."""
    hidden = [k for k, number in revealing.items() if k in facts and not can_see(number, roles)]
    return {**facts, **dict.fromkeys(hidden)} if hidden else facts


def visible_attributes(numbers, roles: frozenset[str]) -> list[int]:
    """The attribute numbers of a change (a version, an event) that `roles` may see."""
    visible = visible_numbers(roles)
    return [n for n in numbers if n in visible]


def event_attributes(kind: str, numbers, roles: frozenset[str]) -> list[int] | None:
    """What a change-feed event shows `roles`; None: the event is not shown at all (a reading
    of an attribute the tier may not see)."""
    shown = visible_attributes(numbers, roles)
    return None if kind == PassportEvent.Kind.READING and not shown else shown


# The tiers answers name, the widest first.
TIERS = ("owner", "commission", "authority", "legitimate_interest", "public")


def tier_label(roles: frozenset[str]) -> str:
    """The tier a set of roles reads at, as answers name it: the widest it holds."""
    return next(tier for tier in TIERS if tier in roles or tier == "public")


def requester_for(user, today: dt.date | None = None) -> Requester:
    """The requester with its access grants in force on `today` (one query)."""
    requester = Requester.for_user(user)
    if requester.organisation_id is None:
        return requester
    today = today or dt.date.today()
    grants = tuple(
        AccessGrant.objects.filter(
            organisation_id=requester.organisation_id, revoked=False, valid_from__lte=today
        )
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=today))
        .values_list("tier", "manufacturer_id")
    )
    return replace(requester, grants=grants)


def is_public(requester: Requester) -> bool:
    """No grant, no passports of its own, not staff: sees the public part only."""
    return not (requester.sees_everything or requester.company_id or requester.grants)


def roles_for(
    requester: Requester, manufacturer_id: int, operator_id: int | None = None
) -> frozenset[str]:
    """The roles a requester holds on one manufacturer's (and operator's) passport."""
    own = requester.company_id and requester.company_id in (manufacturer_id, operator_id)
    if requester.sees_everything or own:
        return ALL_ROLES
    roles = {"public"}
    for tier, limited_to in requester.grants:
        if limited_to is None or limited_to == manufacturer_id:
            roles.add(tier)
    return frozenset(roles)


def manufacturers_seeing(requester: Requester, number: int) -> tuple[bool, set[int]]:
    """(all manufacturers?, else which) whose passports show this attribute to the
    requester: what a filter on that attribute may reveal."""
    if requester.sees_everything:
        return True, set()
    allowed = ROLES_FOR_ACCESS[access_by_number()[number]]
    if "public" in allowed:
        return True, set()
    if any(tier in allowed and m is None for tier, m in requester.grants):
        return True, set()
    return False, {m for tier, m in requester.grants if tier in allowed and m is not None}
