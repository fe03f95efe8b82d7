"""Reads of passports, always through the requester's access tier."""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import uuid as uuidlib
from dataclasses import dataclass
from typing import cast

from django.db import connections, router
from django.db.models import Exists, Field, OuterRef, Q

from registry.models import Rule
from registry.querysets import Requester
from registry.selectors import company_coverage
from registry.supply import supply_chain
from taxonomy.models import Mineral

from . import aas, access, exports
from .models import BatteryModel, BatteryPassport, Lifecycle, PassportEvent

# --- Identifiers ----------------------------------------------------------------------


def identifier_column(identifier: str) -> tuple[str, object]:
    """Where a passport identifier is looked up, and by what value: a UUID in any spelling
    (or urn:uuid:) in `uuid`, another urn in `batterypass_id`, anything else in
    `internal_id`. The form decides the column, so the lookup is one unique index."""
    raw = identifier.removeprefix("urn:uuid:")
    with contextlib.suppress(ValueError):
        return "uuid", uuidlib.UUID(raw)
    return ("batterypass_id" if identifier.startswith("urn:") else "internal_id"), identifier


def identifier_q(identifier: str) -> Q:
    """Any of a passport's identifiers: internal id, Battery Pass urn, UUID or urn:uuid."""
    column, value = identifier_column(identifier)
    return Q(**{column: value})


def identifier_value(identifier: str):
    """The value an identifier is looked up by (a UUID for any UUID spelling)."""
    return identifier_column(identifier)[1]


# --- The passport row, declared once ------------------------------------------------------

# What every read of a passport carries (list, detail, bulk, the answer to a write), as
# the ORM lookups it is read by; they are the row's keys. The ORM reads them with
# `.values(*ROW_COLUMNS)`, the hot path replays the ORM's own statement (`passport_row`),
# `row_of` reads them off an instance, and the API's serializers name them as sources.
ROW_COLUMNS: tuple[str, ...] = (
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
    "ceased_at",
    "demo",
)
# The big JSON columns, read only where an answer carries the document.
DOCUMENT_COLUMNS: tuple[str, ...] = ("public_document", "document")


def document_columns(requester: Requester) -> tuple[str, ...]:
    """The public reads the public projection (computed on each change); any other tier
    reads the whole document, cut to the tier when answered (`row_document`)."""
    return DOCUMENT_COLUMNS[:1] if access.is_public(requester) else DOCUMENT_COLUMNS


def _value_at(obj, lookup: str):
    *relations, name = lookup.split("__")
    for relation in relations:
        if getattr(obj, obj._meta.get_field(relation).attname) is None:
            return None  # no related row: None, as the ORM's outer join gives
        obj = getattr(obj, relation)
    return getattr(obj, name)


def row_of(passport: BatteryPassport, documents: bool = False) -> dict:
    """A passport instance as the row the reads use (with both documents if asked)."""
    row = {lookup: _value_at(passport, lookup) for lookup in ROW_COLUMNS}
    if documents:
        row.update(public_document=passport.public_document, document=passport.document)
    return row


def visible_passports(requester: Requester):
    """Published passports for everyone; drafts only for their owners (and staff)."""
    qs = BatteryPassport.objects.select_related("battery_model")
    if requester.sees_everything:
        return qs
    if requester.company_id:
        own = Q(battery_model__manufacturer_id=requester.company_id) | Q(
            economic_operator_id=requester.company_id
        )
        return qs.filter(Q(lifecycle=Lifecycle.PUBLISHED) | own)
    return qs.filter(lifecycle=Lifecycle.PUBLISHED)


def summary_rows(requester: Requester):
    """The passports a requester may see as rows without documents: the list's queryset."""
    return visible_passports(requester).values(*ROW_COLUMNS)


def passport_rows(requester: Requester, query: Q, limit: int | None = None) -> list[dict]:
    """Passports as plain rows: one query, no model instances, and only the document
    columns the requester's tier needs."""
    rows = (
        visible_passports(requester)
        .filter(query)
        .values(*ROW_COLUMNS, *document_columns(requester))
    )
    return list(rows[:limit] if limit else rows)


def passports_named(requester: Requester, identifiers: list[str]) -> tuple[list[dict], list[str]]:
    """The rows of the passports named by any of their identifiers, and the identifiers
    that named none the requester may see (matched in the form asked: a UUID in any case)."""
    query = Q()
    for identifier in identifiers:
        query |= identifier_q(identifier)
    rows = passport_rows(requester, query)
    matched = {row[column] for row in rows for column in ("internal_id", "batterypass_id", "uuid")}
    return rows, [i for i in identifiers if identifier_value(i) not in matched]


def passport_row_orm(requester: Requester, identifier: str) -> dict | None:
    """One passport's row through the ORM: what `passport_row` must equal."""
    rows = passport_rows(requester, identifier_q(identifier), 1)
    return rows[0] if rows else None


# --- The hot read path: the ORM's statement, compiled once ------------------------------
#
# Building a query through the ORM costs several times more than running it (about 1 ms
# of CPU against 0.2 ms; `make bench-passport` shows the detail endpoint through the ORM
# read well under the fast path). The statement only depends on the shape of the requester
# (staff, company, public)
# and on the identifier's column, so it is compiled once per shape with stand-in values
# and replayed with the request's own; the ORM's converters turn the columns into what
# `passport_rows` gives. No SQL is written here.

_STAND_IN_COMPANY = -0x5EED  # no company has it: marks the requester's company among parameters
_STAND_IN_IDENTIFIER = {
    "internal_id": "\x00identifier\x00",
    "batterypass_id": "urn:\x00identifier\x00",
    "uuid": uuidlib.UUID(int=0x5EED),
}


@dataclass(frozen=True)
class _Statement:
    sql: str
    slots: tuple  # per parameter: "identifier", "company", or ("value", the constant)
    names: tuple[str, ...]
    converters: tuple  # (column index, converters, expression)

    def run(self, connection, identifier, company_id) -> dict | None:
        fill = {"identifier": identifier, "company": company_id}
        params = [fill[slot] if isinstance(slot, str) else slot[1] for slot in self.slots]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            found = cursor.fetchone()
        if found is None:
            return None
        values = list(found)
        for index, converters, expression in self.converters:
            for converter in converters:
                values[index] = converter(values[index], expression, connection)
        return dict(zip(self.names, values, strict=True))


_statements: dict[tuple, _Statement] = {}


def _db_value(column: str, value, connection):
    field = cast(Field, BatteryPassport._meta.get_field(column))
    return field.get_db_prep_value(field.get_prep_value(value), connection, prepared=True)


def _statement(requester: Requester, column: str, alias: str) -> _Statement:
    shape = (
        alias,
        requester.sees_everything,
        bool(requester.company_id),
        access.is_public(requester),
        column,
    )
    statement = _statements.get(shape)
    if statement is not None:
        return statement
    connection = connections[alias]
    stand_in = dataclasses.replace(
        requester, company_id=_STAND_IN_COMPANY if requester.company_id else None
    )
    names = (*ROW_COLUMNS, *document_columns(requester))
    query = (
        visible_passports(stand_in)
        .filter(**{column: _STAND_IN_IDENTIFIER[column]})
        .order_by()  # one row by a unique column
        .values(*names)[:1]
        .query
    )
    compiler = query.get_compiler(using=alias)
    sql, params = compiler.as_sql()
    identifier = _db_value(column, _STAND_IN_IDENTIFIER[column], connection)
    slots = tuple(
        "identifier"
        if param == identifier
        else "company"
        if param == _STAND_IN_COMPANY
        else ("value", param.value if isinstance(param, enum.Enum) else param)
        for param in params  # (a choice as its plain value: psycopg adapts it faster)
    )
    if slots.count("identifier") != 1 or tuple(query.values_select) != names:
        raise RuntimeError(f"The passport read no longer compiles as expected: {sql}")
    expressions = [col for col, _, _ in compiler.select[: compiler.col_count]]
    converters = tuple(
        (index, tuple(found), expression)
        for index, (found, expression) in compiler.get_converters(expressions).items()
    )
    statement = _Statement(sql, slots, names, converters)
    _statements[shape] = statement
    return statement


def passport_row(requester: Requester, identifier: str) -> dict | None:
    """The hot read path (passport detail): `passport_row_orm` without building the query.
    Kept equal to it by tests/test_passports_selectors.py."""
    column, value = identifier_column(identifier)
    alias = router.db_for_read(BatteryPassport)
    connection = connections[alias]
    statement = _statement(requester, column, alias)
    return statement.run(connection, _db_value(column, value, connection), requester.company_id)


# --- Rows as a tier sees them -------------------------------------------------------------


def row_roles(requester: Requester, row: dict) -> frozenset[str]:
    return access.roles_for(
        requester, row["battery_model__manufacturer_id"], row["economic_operator_id"]
    )


def row_document(row: dict, roles: frozenset[str]) -> dict:
    """The row's document cut to `roles` (the public one is cut in advance)."""
    if roles == access.PUBLIC:
        return row["public_document"]
    return access.project(row["document"], roles)


def row_etag(row: dict, roles: frozenset[str]) -> str:
    return f'"{row["uuid"].hex}-{row["revision"]}-{"+".join(sorted(roles))}"'


def as_seen(
    requester: Requester, row: dict, *, roles: frozenset[str] | None = None, document: bool = True
) -> dict:
    """A passport row as the requester's tier may see it, what the API's serializers answer
    with: the row's columns, with None for facts that reveal an attribute the tier may not
    see (access.PASSPORT_FIELDS); `tier`; and, when asked, `document` cut to the tier. The
    documents the row carries are never passed on as they are."""
    roles = row_roles(requester, row) if roles is None else roles
    seen = access.cut({lookup: row[lookup] for lookup in ROW_COLUMNS}, roles)
    seen["tier"] = access.tier_label(roles)
    if document:
        seen["document"] = row_document(row, roles)
    return seen


def roles_for(requester: Requester, passport: BatteryPassport) -> frozenset[str]:
    return access.roles_for(
        requester, passport.battery_model.manufacturer_id, passport.economic_operator_id
    )


def passport_view(requester: Requester, passport: BatteryPassport) -> tuple[frozenset[str], dict]:
    roles = roles_for(requester, passport)
    if roles == access.PUBLIC:
        return roles, passport.public_document
    return roles, access.project(passport.document, roles)


def version_as_seen(requester: Requester, passport: BatteryPassport, version) -> dict:
    """An earlier version as the tier may see it: the passport's row with the version's
    number, status and document."""
    row = {**row_of(passport), "version": version.number, "battery_status": version.battery_status}
    roles = row_roles(requester, row)
    seen = as_seen(requester, row, roles=roles, document=False)
    seen["document"] = access.project(version.document, roles)
    return seen


VERSION_COLUMNS = (
    "number",
    "battery_status",
    "note",
    "created_at",
    "created_by__username",
    "changed_attributes",
)


def versions_as_seen(requester: Requester, passport: BatteryPassport) -> list[dict]:
    """Every published version, oldest first, as the tier may see it."""
    roles = roles_for(requester, passport)
    return [
        access.cut(row, roles, access.VERSION_FIELDS)
        for row in passport.versions.order_by("number").values(*VERSION_COLUMNS)
    ]


def readings_as_seen(requester: Requester, passport: BatteryPassport):
    """The passport's readings of attributes the tier may see."""
    visible = access.visible_numbers(roles_for(requester, passport))
    return passport.readings.select_related("attribute").filter(attribute__number__in=visible)


@dataclass
class ChangeFeed:
    events: list[dict]
    next_cursor: int
    more: bool


def change_feed(requester: Requester, since: int, limit: int) -> ChangeFeed:
    """Events after the cursor `since` on passports the requester may see, each with the
    attributes the tier may see (events of nothing it may see are left out)."""
    visible_ids = visible_passports(requester).values("id")
    # Tuples of the columns the feed and the roles read, not model instances: the cost of a
    # page is per event (a passport's documents are large; instances of a page of 100 cost
    # more than its query).
    events = list(
        PassportEvent.objects.filter(id__gt=since, passport_id__in=visible_ids)
        .order_by("id")
        .values_list(
            "id",
            "kind",
            "version",
            "attributes",
            "at",
            "passport__internal_id",
            "passport__battery_model__manufacturer_id",
            "passport__economic_operator_id",
        )[:limit]
    )
    roles_of: dict[tuple, frozenset[str]] = {}  # a page holds a few makers' passports
    shown = []
    for id_, kind, version, attributes, at, internal_id, maker, operator in events:
        roles = roles_of.get((maker, operator))
        if roles is None:
            roles = roles_of[(maker, operator)] = access.roles_for(requester, maker, operator)
        if access.event_attributes(kind, attributes, roles) is None:
            continue
        row = {
            "id": id_,
            "passport": internal_id,
            "kind": kind,
            "version": version,
            "attributes": attributes,
            "at": at,
        }
        shown.append(access.cut(row, roles, access.EVENT_FIELDS))
    return ChangeFeed(shown, events[-1][0] if events else since, len(events) == limit)


def batterypass_export(requester: Requester, passport: BatteryPassport) -> dict:
    """Battery Pass 1.2.0: the seven aspects as the tier may see them."""
    _, document = passport_view(requester, passport)
    return exports.to_batterypass(document)


def catenax_export(requester: Requester, passport: BatteryPassport) -> dict:
    """Catena-X BatteryPass 6.1.0 as the tier may see it: the model's extra facts cut like the
    document (they back-fill material facts), and the predecessor link, which reveals the
    battery status, following attribute 11."""
    roles, document = passport_view(requester, passport)
    return exports.to_catenax_document(
        passport,
        document,
        sees_status=access.sees_status(roles),
        extra=access.project_extra(passport.battery_model.catenax_extra, roles),
    )


def aas_export(requester: Requester, passport: BatteryPassport) -> dict:
    """An AAS v3 environment (IDTA-02035 style submodels) of the Battery Pass document as the
    tier may see it. The asset is named by the Battery Pass identifier (attribute 1)."""
    roles, document = passport_view(requester, passport)
    asset_id = passport.batterypass_id
    if not access.can_see(1, roles):  # public in attributes.csv; kept cut should that change
        asset_id = f"urn:registry:passport:{passport.pk}"
    return aas.to_jsonable(exports.to_batterypass(document), asset_id)


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
                # A trace's HHI is always a figure (only published production gives bounds).
                mine_country_hhi=cast(float, trace.mine_country.hhi),
                mine_country_band=trace.mine_country.band.label,
                processing_country_hhi=cast(float, trace.processing_country.hhi),
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


def passports_with_company(requester: Requester, company, limit: int = 10):
    """Passports (that `requester` may see) of batteries whose recorded supply chain
    includes `company`, as supplier or buyer of one of its flows, or made by it: the
    scorecard's and supply chain's links. At most `limit`, and whether there are more."""
    chain = BatteryModel.supply_relationships.through.objects.filter(
        batterymodel_id=OuterRef("battery_model_id")
    ).filter(
        Q(supplyrelationship__supplier_id=company.pk) | Q(supplyrelationship__buyer_id=company.pk)
    )
    rows = list(
        visible_passports(requester)
        .filter(Q(battery_model__manufacturer_id=company.pk) | Exists(chain))
        .order_by("-published_at", "-pk")[: limit + 1]
    )
    return rows[:limit], len(rows) > limit
