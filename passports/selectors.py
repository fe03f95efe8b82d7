"""Reads of passports, always through the requester's access tier."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid as uuidlib
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from registry.querysets import Requester
from registry.selectors import company_coverage
from registry.supply import supply_chain
from taxonomy.models import Mineral

from . import access
from .access import Viewer
from .models import BatteryModel, BatteryPassport, Lifecycle


def identifier_q(identifier: str) -> Q:
    """Any of a passport's identifiers: internal id, Battery Pass urn, UUID or urn:uuid.
    The form decides the column, so the lookup is one unique index."""
    raw = identifier.removeprefix("urn:uuid:")
    with contextlib.suppress(ValueError):
        return Q(uuid=uuidlib.UUID(raw))
    if identifier.startswith("urn:"):
        return Q(batterypass_id=identifier)
    return Q(internal_id=identifier)


# What a summary needs; the big JSON columns are loaded only when the tier needs them.
SUMMARY_FIELDS = (
    "id",
    "internal_id",
    "batterypass_id",
    "uuid",
    "battery_identifier",
    "lifecycle",
    "battery_status",
    "version",
    "revision",
    "updated_at",
    "published_at",
    "created_at",
    "economic_operator_id",
    "predecessor_id",
    "battery_model_id",
    "battery_model__model_identifier",
    "battery_model__category",
    "battery_model__chemistry",
    "battery_model__manufacturer_id",
    "predecessor__internal_id",
    "demo",
)


ROW_FIELDS = (
    "id",
    "internal_id",
    "batterypass_id",
    "uuid",
    "battery_identifier",
    "lifecycle",
    "battery_status",
    "version",
    "revision",
    "updated_at",
    "economic_operator_id",
    "battery_model__model_identifier",
    "battery_model__category",
    "battery_model__chemistry",
    "battery_model__manufacturer_id",
    "predecessor__internal_id",
    "demo",
)


def passport_rows(viewer: Viewer, query: Q, limit: int | None = None) -> list[dict]:
    """Passports as plain rows: one query, no model instances, and only the document
    column the viewer's tier needs. (`passport_row` is the same for one identifier.)"""
    documents = ("public_document",) if viewer.is_public() else ("public_document", "document")
    rows = visible_passports(viewer).filter(query).values(*ROW_FIELDS, *documents)
    return list(rows[:limit] if limit else rows)


def _identifier_column(identifier: str) -> tuple[str, object]:
    raw = identifier.removeprefix("urn:uuid:")
    with contextlib.suppress(ValueError):
        return "uuid", uuidlib.UUID(raw)
    return ("batterypass_id" if identifier.startswith("urn:") else "internal_id"), identifier


def identifier_value(identifier: str):
    """The value an identifier is looked up by (a UUID for any UUID spelling)."""
    return _identifier_column(identifier)[1]


_ROW_SQL = """
    SELECT p.id, p.internal_id, p.batterypass_id, p.uuid, p.battery_identifier, p.lifecycle,
           p.battery_status, p.version, p.revision, p.updated_at, p.economic_operator_id,
           m.model_identifier, m.category, m.chemistry, m.manufacturer_id, pred.internal_id,
           p.demo,
           p.public_document{document}
    FROM passports_batterypassport p
    JOIN passports_batterymodel m ON m.id = p.battery_model_id
    LEFT JOIN passports_batterypassport pred ON pred.id = p.predecessor_id
    WHERE p.{column} = %s{visibility}
"""


def passport_row(viewer: Viewer, identifier: str) -> dict | None:
    """The hot read path (passport detail): the same row as `passport_rows`, by one
    hand-written statement, because building it through the ORM cost more than running
    it. Kept equal to the ORM version by tests/test_passport_reads.py."""
    from django.db import connection

    from .models import BatteryPassport

    column, value = _identifier_column(identifier)
    public = viewer.is_public()
    params: list = [value.hex if column == "uuid" and connection.vendor == "sqlite" else value]
    if viewer.is_staff:
        visibility = ""
    elif viewer.company_id:
        visibility = (
            " AND (p.lifecycle = 'published' OR m.manufacturer_id = %s"
            " OR p.economic_operator_id = %s)"
        )
        params += [viewer.company_id, viewer.company_id]
    else:
        visibility = " AND p.lifecycle = 'published'"
    sql = _ROW_SQL.format(
        document="" if public else ", p.document", column=column, visibility=visibility
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchone()
    if found is None:
        return None
    keys = [*ROW_FIELDS, "public_document"] + ([] if public else ["document"])
    row = dict(zip(keys, found, strict=True))
    # Column types as the ORM would give them (SQLite returns text for these).
    fields = {f.name: f for f in BatteryPassport._meta.concrete_fields}
    for name in ("uuid", "updated_at", "public_document", "document"):
        if name in row:
            row[name] = (
                fields[name].from_db_value(row[name], None, connection)
                if hasattr(fields[name], "from_db_value")
                else fields[name].to_python(row[name])
            )
    row["demo"] = bool(row["demo"])  # SQLite returns 0/1
    if not isinstance(row["uuid"], uuidlib.UUID):
        row["uuid"] = uuidlib.UUID(str(row["uuid"]))
    if timezone.is_naive(row["updated_at"]):  # SQLite stores UTC without the zone
        row["updated_at"] = timezone.make_aware(row["updated_at"], dt.UTC)
    return row


def row_of(passport: BatteryPassport) -> dict:
    """A passport instance as the plain row the read path uses."""
    model = passport.battery_model
    return {
        "id": passport.pk,
        "internal_id": passport.internal_id,
        "batterypass_id": passport.batterypass_id,
        "uuid": passport.uuid,
        "battery_identifier": passport.battery_identifier,
        "lifecycle": passport.lifecycle,
        "battery_status": passport.battery_status,
        "version": passport.version,
        "revision": passport.revision,
        "updated_at": passport.updated_at,
        "economic_operator_id": passport.economic_operator_id,
        "battery_model__model_identifier": model.model_identifier,
        "battery_model__category": model.category,
        "battery_model__chemistry": model.chemistry,
        "battery_model__manufacturer_id": model.manufacturer_id,
        "predecessor__internal_id": (
            passport.predecessor.internal_id if passport.predecessor_id else None
        ),
        "demo": passport.demo,
    }


def row_roles(viewer: Viewer, row: dict) -> frozenset[str]:
    return viewer.roles_for(row["battery_model__manufacturer_id"], row["economic_operator_id"])


def row_view(viewer: Viewer, row: dict) -> tuple[frozenset[str], dict]:
    roles = row_roles(viewer, row)
    if roles == access.PUBLIC:
        return roles, row["public_document"]
    return roles, access.project(row["document"], roles)


def row_etag(row: dict, roles: frozenset[str]) -> str:
    return f'"{row["uuid"].hex}-{row["revision"]}-{"+".join(sorted(roles))}"'


def for_reading(queryset, viewer: Viewer, documents: bool = True):
    """Only the columns a read needs: no documents for a summary; the public projection
    for the public; the whole document for anyone who may see more."""
    queryset = queryset.select_related("battery_model", "predecessor")
    if not documents:
        return queryset.only(*SUMMARY_FIELDS)
    wanted = ("public_document",) if viewer.is_public() else ("public_document", "document")
    return queryset.only(*SUMMARY_FIELDS, *wanted)


def visible_passports(viewer: Viewer):
    """Published passports for everyone; drafts only for their owners (and staff)."""
    qs = BatteryPassport.objects.select_related("battery_model")
    if viewer.is_staff:
        return qs
    own = Q()
    if viewer.company_id:
        own = Q(battery_model__manufacturer_id=viewer.company_id) | Q(
            economic_operator_id=viewer.company_id
        )
        return qs.filter(Q(lifecycle=Lifecycle.PUBLISHED) | own)
    return qs.filter(lifecycle=Lifecycle.PUBLISHED)


def roles_for(viewer: Viewer, passport: BatteryPassport) -> frozenset[str]:
    return viewer.roles_for(passport.battery_model.manufacturer_id, passport.economic_operator_id)


def passport_view(viewer: Viewer, passport: BatteryPassport) -> tuple[frozenset[str], dict]:
    roles = roles_for(viewer, passport)
    if roles == access.PUBLIC:
        return roles, passport.public_document
    return roles, access.project(passport.document, roles)


def etag(passport: BatteryPassport, roles: frozenset[str]) -> str:
    return row_etag({"uuid": passport.uuid, "revision": passport.revision}, roles)


# --- Supply chain behind a battery model ------------------------------------------

RECYCLED_MINERALS = ("cobalt", "lithium", "nickel", "lead")
DUE_DILIGENCE_CELLS = (
    "content.human_rights",
    "content.labor_rights",
    "implementation.industry.third_party_reporting",
)


@dataclass
class MineralProvenance:
    mineral: str
    traced: bool
    recycled_pre_pct: float
    recycled_post_pct: float
    cahra_pct: float
    untraced_pct: float
    mine_country_hhi: float
    mine_country_band: str
    processing_country_hhi: float
    lacking_coverage_pct: dict[str, float]
    minimums: dict[str, dict]


@dataclass
class Provenance:
    battery_model: BatteryModel
    minerals: list[MineralProvenance]
    manufacturer_grade: str
    manufacturer_gaps: int
    attestations: list[str]
    rule: str


def provenance(battery_model: BatteryModel, requester: Requester) -> Provenance:
    """Recycled content, CAHRA share, concentration and due-diligence coverage, derived
    from the supply chain behind the model: for each mineral, its linked first-tier
    relationships when any are linked (else all of the maker's), and everything upstream."""
    from registry.models import Rule

    minimums_rule = Rule.objects.filter(kind="recycled_content").first()
    linked: dict[str, set[int]] = {}
    for pk, mineral_code in battery_model.supply_relationships.values_list("id", "mineral__code"):
        linked.setdefault(mineral_code, set()).add(pk)
    out = []
    for code in RECYCLED_MINERALS:
        mineral = Mineral.objects.get(code=code)
        chain = supply_chain(
            battery_model.manufacturer,
            mineral,
            requester=requester,
            cells=list(DUE_DILIGENCE_CELLS),
            # Minerals with no linked relationship follow all of the maker's supply.
            first_tier=linked.get(code),
        )
        trace = chain.trace
        traced = trace.edge_count > 0 or bool(trace.mine_country.shares)
        recycled = trace.predicate_pct.get("recycled", 0.0)
        pre = min(trace.predicate_pct.get("recycled_pre", 0.0), recycled)
        minimums = {}
        if minimums_rule:
            for since, table in sorted(minimums_rule.params.items()):
                if code in table:
                    minimums[since] = {
                        "required_pct": table[code],
                        "met": traced and recycled >= table[code],
                    }
        out.append(
            MineralProvenance(
                mineral=code,
                traced=traced,
                recycled_pre_pct=pre,
                recycled_post_pct=round(recycled - pre, 4),
                cahra_pct=trace.cahra_pct,
                untraced_pct=trace.untraced_pct if traced else 100.0,
                mine_country_hhi=trace.mine_country.hhi,
                mine_country_band=trace.mine_country.band.label,
                processing_country_hhi=trace.processing_country.hhi,
                lacking_coverage_pct=trace.lacking_coverage_pct,
                minimums=minimums,
            )
        )
    coverage = company_coverage(battery_model.manufacturer, requester)
    return Provenance(
        battery_model=battery_model,
        minerals=out,
        manufacturer_grade=coverage.grade.level,
        manufacturer_gaps=len(coverage.gaps),
        attestations=[
            f"{a.standard.short_name} ({a.get_type_display()})" for a in coverage.attestations
        ],
        rule=(minimums_rule.source if minimums_rule else "")
        + " Recycled shares are of the traced supply of the battery model's manufacturer.",
    )
