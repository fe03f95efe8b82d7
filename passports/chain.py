"""The whole life of a battery: its passports from the first to the latest, walked both ways.

Repurposing or remanufacturing gives the battery a new passport linked to the original
(Regulation (EU) 2023/1542 Art. 77(7)); recycling ends it (Art. 77(6)). A link reveals the
battery status of both passports it joins (attribute 11, legitimate interest): the walk
goes on only while the requester may see the status of both ends, and never through a
passport it may not see (another company's draft).
"""

from __future__ import annotations

from django.db import connections, router

from registry.querysets import Requester

from . import access, selectors
from .models import BatteryPassport

MAX_DEPTH = 20  # passports each way; a battery has a handful of lives

CHAIN_COLUMNS = (
    "id",
    "internal_id",
    "batterypass_id",
    "uuid",
    "lifecycle",
    "battery_status",
    "version",
    "economic_operator_id",
    "ceased_at",
    "recycled_on",
    "recycler__name",
    "predecessor_id",
    "battery_model__manufacturer_id",
)
# What each entry carries, by the attributes it reveals (access.py's declarations): the
# recycling record tells the battery's status, so it follows attribute 11.
CHAIN_FIELDS: dict = {
    "internal_id": (1,),
    "batterypass_id": (1,),
    "uuid": (1,),
    "lifecycle": (),
    "battery_status": (access.STATUS_ATTRIBUTE,),
    "version": (),
    "economic_operator_id": (3,),
    "ceased_at": (),
    "recycled_on": (access.STATUS_ATTRIBUTE,),
    "recycler__name": (access.STATUS_ATTRIBUTE,),
}


def _linked_ids(passport_id: int) -> dict[int, int]:
    """{passport id: signed distance} of the passports before (< 0) and after (> 0) it, up to
    MAX_DEPTH each way: one recursive query. Each walk carries the ids it passed (",1,2,")
    and stops at one it has seen: a cycle in the data (written around the admin's check)
    ends the walk instead of coming back to the start."""
    table = BatteryPassport._meta.db_table
    alias = router.db_for_read(BatteryPassport)
    connection = connections[alias]
    t = connection.ops.quote_name(table)
    sql = f"""
        WITH RECURSIVE back(id, pred, depth, path) AS (
            SELECT id, predecessor_id, 0, ',' || CAST(id AS TEXT) || ','
            FROM {t} WHERE id = %s
            UNION ALL
            SELECT p.id, p.predecessor_id, b.depth + 1, b.path || CAST(p.id AS TEXT) || ','
            FROM {t} p JOIN back b ON p.id = b.pred
            WHERE b.depth < %s AND b.path NOT LIKE '%%,' || CAST(p.id AS TEXT) || ',%%'
        ),
        fwd(id, depth, path) AS (
            SELECT id, 0, ',' || CAST(id AS TEXT) || ',' FROM {t} WHERE id = %s
            UNION ALL
            SELECT p.id, f.depth + 1, f.path || CAST(p.id AS TEXT) || ','
            FROM {t} p JOIN fwd f ON p.predecessor_id = f.id
            WHERE f.depth < %s AND f.path NOT LIKE '%%,' || CAST(p.id AS TEXT) || ',%%'
        )
        SELECT id, 0 - depth FROM back WHERE depth > 0
        UNION ALL
        SELECT id, depth FROM fwd WHERE depth > 0
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [passport_id, MAX_DEPTH, passport_id, MAX_DEPTH])
        # On a cycle a passport is both before and after: it is listed once.
        distances: dict[int, int] = {}
        for pk, distance in cursor.fetchall():
            distances.setdefault(pk, distance)
        return distances


def _roles(requester: Requester, row: dict) -> frozenset[str]:
    return access.roles_for(
        requester, row["battery_model__manufacturer_id"], row["economic_operator_id"]
    )


def _entry(row: dict, roles: frozenset[str]) -> dict:
    return access.cut({key: row[key] for key in CHAIN_FIELDS}, roles, CHAIN_FIELDS)


def chain(requester: Requester, passport: BatteryPassport) -> dict:
    """The passport, its predecessors (oldest first) and successors (nearest first), each as
    the requester may see it. Two queries whatever the length: the walk, then the rows."""
    distances = _linked_ids(passport.pk)
    rows = {
        row["id"]: row
        for row in selectors.visible_passports(requester)
        .filter(pk__in=[passport.pk, *distances])
        .values(*CHAIN_COLUMNS)
    }
    by_distance = {distances.get(pk, 0): row for pk, row in rows.items()}
    here = by_distance[0]
    here_roles = _roles(requester, here)
    out = {"passport": _entry(here, here_roles), "predecessors": [], "successors": []}
    if not access.sees_status(here_roles):
        return out  # a link would tell this passport's status
    for step, key in ((-1, "predecessors"), (1, "successors")):
        distance = step
        while distance in by_distance:
            row = by_distance[distance]
            roles = _roles(requester, row)
            if not access.sees_status(roles):
                break
            out[key].append(_entry(row, roles))
            distance += step
    out["predecessors"].reverse()  # oldest first
    return out
