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
    visible_numbers.cache_clear()
    hidden_paths.cache_clear()


def can_see(number: int, roles: frozenset[str]) -> bool:
    return bool(ROLES_FOR_ACCESS[access_by_number()[number]] & roles)


@lru_cache(maxsize=64)
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


# --- Every field beside the document, declared by the attributes it carries -------------
#
# A declaration is the attribute numbers a value carries (a tier sees the value only if it
# sees all of them; () carries none of attributes.csv: an id, a counter, a timestamp, a
# registry record), a mapping {key: declaration} for a JSON object whose keys carry different
# attributes (ANY_KEY: every key not named; a key nothing declares is the owner's only), or a
# function (value, roles) -> value for fields cut by their own rule. tests/test_passports_tiers.py
# checks that every field of every passport answer is declared here and that no answer holds
# a value of an attribute its tier may not see.
#
# What a tier may not see: a field of an answer is null (every answer keeps the keys its
# OpenAPI schema declares: one shape for every tier); inside a JSON object (the document,
# catenax_extra) the key is left out, as `project` leaves out document paths and Catena-X
# members (a null there would stand where the data model wants a value of its type).

STATUS_ATTRIBUTE = 11  # attributes.csv: Battery status
ANY_KEY = "<any other key>"


def _document(value, roles: frozenset[str]):
    return project(value, roles) if isinstance(value, dict) else value


def _attribute_numbers(value, roles: frozenset[str]):
    return visible_attributes(value, roles) if isinstance(value, list) else value


def _as_is(value, roles: frozenset[str]):
    """Cut where the rows are chosen (see the declaration's comment)."""
    return value


# The passport row (passports/selectors.py ROW_COLUMNS, by ORM lookup) and the answers' own
# fields. A predecessor says the battery was repurposed or remanufactured, which is its status
# (the Catena-X predecessor link too: `sees_status`).
PASSPORT_FIELDS: dict = {
    "id": (),
    "internal_id": (1,),
    "batterypass_id": (1,),
    "uuid": (1,),
    "url": (1,),  # from the internal id
    "public_page": (1,),
    "battery_identifier": (2,),
    "lifecycle": (),  # the passport's own state; drafts reach their owners only
    "battery_status": (STATUS_ATTRIBUTE,),
    "predecessor__internal_id": (STATUS_ATTRIBUTE,),
    # The passport ceased (Art. 77(6)): the passport's own state, public like its lifecycle.
    "ceased_at": (),
    "version": (),  # publications are public (Art. 77(5)); what changed is cut per version
    "revision": (),
    "updated_at": (),
    "economic_operator_id": (3,),
    "battery_model__model_identifier": (2,),
    "battery_model__category": (9,),
    "battery_model__chemistry": (31,),
    "battery_model__manufacturer_id": (4,),
    "demo": (),
    "tier": (),
    "document": _document,
}
# A version row; its note may name the status ("Repurposed: continued as ...").
VERSION_FIELDS: dict = {
    "number": (),
    "battery_status": (STATUS_ATTRIBUTE,),
    "note": (STATUS_ATTRIBUTE,),
    "created_at": (),
    "created_by__username": (),
    "changed_attributes": _attribute_numbers,
}


def event_kind(kind: str, roles: frozenset[str]) -> str:
    """A status change also published a version, which every tier sees: a tier that may not
    see the status reads it as one."""
    if kind == PassportEvent.Kind.STATUS and not sees_status(roles):
        return PassportEvent.Kind.VERSION
    return kind


EVENT_FIELDS: dict = {
    "id": (),
    "passport": (1,),
    "kind": event_kind,
    "version": (),
    "attributes": _attribute_numbers,
    "at": (),
}
# Readings of an attribute the tier may not see are left out whole (selectors.readings_as_seen).
READING_FIELDS: dict = {
    "id": (),
    "attribute.number": _as_is,
    "attribute.name": _as_is,
    "value": _as_is,
    "measured_at": (),
    "recorded_at": (),
}

# A battery model's catenax_extra (catenax.EXTRA_FIELDS), by the attribute each fact states.
# Per-material facts: a location, mass or concentration of a battery material is attribute
# 33; those of Cd, Hg and Pb are hazardous-substance facts (34); a key that is a CAS number
# names which material is in the battery, the material identifier of attribute 33.
_MATERIAL_FACTS: dict = {
    "documentation": (33,),
    "renewable": (48,),
    "recycled": (40, 41, 42, 43, 44, 45, 46, 47),
    "critical": (32,),
    "impactOfSubstances": (35,),
    "concentration": (33,),
    "materialUnit": (33,),
    "location": (33,),
}
_HEAVY_METAL_FACTS: dict = {**_MATERIAL_FACTS, "concentration": (34,), "materialUnit": (34,)}
_HEAVY_METAL_FACTS["location"] = (34,)
_ELEMENTS = {"nickel": "7440-02-0", "lithium": "7439-93-2", "cobalt": "7440-48-4"}
_HEAVY_METALS = {"lead": "7439-92-1", "cadmium": "7440-43-9", "mercury": "7439-97-6"}
CATENAX_EXTRA: dict = {
    "manufacturer_part_id": (2,),
    "name_at_manufacturer": (2,),
    "codes": (2,),
    "data_carrier": (1,),
    "classification": (9,),
    "manufacturer_bpnl": (4,),
    "manufacturing_facility_bpnas": (5,),
    "economic_operator_bpnl": (3,),
    "warranty": (8,),
    "physical_dimensions": (10,),
    "carbon_footprint_rulebook": (19,),
    "materials": {
        "*": _MATERIAL_FACTS,  # the table's own "*": facts of every material
        **{key: _MATERIAL_FACTS for pair in _ELEMENTS.items() for key in pair},
        **{key: _HEAVY_METAL_FACTS for pair in _HEAVY_METALS.items() for key in pair},
        ANY_KEY: (33,),
    },
    "cycle_life_test": (79, 67),
    "idle_temperature_range": (85, 86),
    "fire_class": (15,),
    "spare_part_producer_bpnls": (38,),  # keyed by the suppliers' names
    "purpose": (9,),
    "expiration_date": (1,),
    "backup_reference": (1,),
    "registration_identifier": (1,),
    "declaration_of_conformity_id": (17,),
}
MODEL_FIELDS: dict = {
    "id": (),
    "manufacturer": (4,),
    "model_identifier": (2,),
    "name": (2,),
    "category": (9,),
    "chemistry": (31,),
    "gtin": (2,),  # the trade item's number, printed with the model's identifier
    "data": _document,
    "catenax_extra": CATENAX_EXTRA,
    # Registry records: each answers at /api/registry/ under its own visibility.
    "supply_relationships": (),
    "mined_sources": (),
    "attestations": (),
    "created_at": (),
    "updated_at": (),
    "demo": (),
}
# A model's provenance is derived from the registry's supply chain as the requester may see
# it there (recycled shares are the public attributes 40-47).
PROVENANCE_FIELDS: dict = {
    "minerals": (),
    "manufacturer_grade": (),
    "manufacturer_gaps": (),
    "attestations": (),
    "rule": (),
    "mineral": (),
    "traced": (),
    "recycled_pre_pct": (40, 41, 42, 43),
    "recycled_post_pct": (44, 45, 46, 47),
    "cahra_pct": (),
    "untraced_pct": (),
    "mine_country_hhi": (),
    "mine_country_band": (),
    "processing_country_hhi": (),
    "lacking_coverage_pct": (),
    "minimums": (),
}


def _sees_all(numbers: tuple[int, ...], roles: frozenset[str]) -> bool:
    return visible_numbers(roles).issuperset(numbers)


def shown(value, declaration, roles: frozenset[str]):
    """`value` as `roles` may see it by its declaration; _GONE when hidden whole."""
    if isinstance(declaration, tuple):
        return value if _sees_all(declaration, roles) else _GONE
    if callable(declaration):
        return declaration(value, roles)
    if not isinstance(value, dict):  # not the object declared: the owner's only
        return value if "owner" in roles else _GONE
    out = {}
    for key, item in value.items():
        inner = declaration.get(key, declaration.get(ANY_KEY))
        item = _GONE if inner is None and "owner" not in roles else shown(item, inner or (), roles)
        if item is not _GONE:
            out[key] = item
    return out


def cut(fields: dict, roles: frozenset[str], declared: dict = PASSPORT_FIELDS) -> dict:
    """`fields` (a row, an answer) as `roles` may see them: a field hidden whole is None, the
    inside of a declared object is projected; an undeclared field is the owner's only. The
    same dict when the tier sees everything."""
    if "owner" in roles:
        return fields
    out = {}
    for key, value in fields.items():
        seen = shown(value, declared.get(key), roles) if key in declared else _GONE
        out[key] = None if seen is _GONE else seen
    return out


def project_extra(extra: dict, roles: frozenset[str]) -> dict:
    """A battery model's catenax_extra as `roles` may see it."""
    return extra if "owner" in roles else shown(extra, CATENAX_EXTRA, roles)


def sees_status(roles: frozenset[str]) -> bool:
    """The battery status, and what reveals it (the predecessor link), follow attribute 11."""
    return can_see(STATUS_ATTRIBUTE, roles)


def visible_attributes(numbers, roles: frozenset[str]) -> list[int]:
    """The attribute numbers of a change (a version, an event) that `roles` may see."""
    visible = visible_numbers(roles)
    return [n for n in numbers if n in visible]


def event_attributes(kind: str, numbers, roles: frozenset[str]) -> list[int] | None:
    """What a change-feed event shows `roles`; None: the event is not shown at all (a reading
    of an attribute the tier may not see)."""
    shown_ = visible_attributes(numbers, roles)
    return None if kind == PassportEvent.Kind.READING and not shown_ else shown_


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
