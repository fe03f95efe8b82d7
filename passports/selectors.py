"""Reads of passports, always through the requester's access tier."""

from __future__ import annotations

import contextlib
import uuid as uuidlib
from dataclasses import dataclass

from django.db.models import Q

from registry.querysets import Requester
from registry.selectors import company_coverage
from registry.supply import supply_chain
from taxonomy.models import Mineral

from . import access
from .access import Viewer
from .models import BatteryModel, BatteryPassport, Lifecycle


def identifier_q(identifier: str) -> Q:
    """Any of a passport's identifiers: internal id, Battery Pass urn, UUID or urn:uuid."""
    q = Q(internal_id=identifier) | Q(batterypass_id=identifier)
    raw = identifier.removeprefix("urn:uuid:")
    with contextlib.suppress(ValueError):  # not a UUID: the other forms still apply
        q |= Q(uuid=uuidlib.UUID(raw))
    return q


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
    return f'"{passport.uuid.hex}-{passport.revision}-{access.Viewer().tier_label(roles)}"'


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
    from the supply chain behind the model (its linked first-tier relationships, when
    any are linked, and everything upstream of them)."""
    from registry.models import Rule

    minimums_rule = Rule.objects.filter(kind="recycled_content").first()
    linked = set(battery_model.supply_relationships.values_list("id", flat=True))
    out = []
    for code in RECYCLED_MINERALS:
        mineral = Mineral.objects.get(code=code)
        chain = supply_chain(
            battery_model.manufacturer,
            mineral,
            requester=requester,
            cells=list(DUE_DILIGENCE_CELLS),
            first_tier=linked or None,
        )
        trace = chain.trace
        traced = trace.edge_count > 0 or bool(trace.mine_country.shares)
        recycled = trace.predicate_pct.get("recycled_pre", 0) + trace.predicate_pct.get(
            "recycled_post", 0
        )
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
                recycled_pre_pct=trace.predicate_pct.get("recycled_pre", 0.0),
                recycled_post_pct=trace.predicate_pct.get("recycled_post", 0.0),
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
