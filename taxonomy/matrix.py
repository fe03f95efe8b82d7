"""The CLEE/NRGI standards taxonomy matrix (seed 002, Figure 2), as data.

This is the single definition of every dimension, group and cell. The
database rows are synced from it by `load_taxonomy`; codes are stable and are
what the API, the reference data and attestation profiles refer to.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CellDef:
    code: str
    label: str
    description: str = ""


@dataclass(frozen=True)
class GroupDef:
    code: str  # "" for a dimension without groups
    label: str
    cells: tuple[CellDef, ...]


@dataclass(frozen=True)
class DimensionDef:
    code: str
    label: str
    question: str
    groups: tuple[GroupDef, ...]


def _cells(prefix: str, items: list[tuple[str, str, str]] | list[tuple[str, str]]):
    out = []
    for item in items:
        code, label, *rest = item
        out.append(CellDef(f"{prefix}.{code}", label, rest[0] if rest else ""))
    return tuple(out)


# The requirement lists repeat under each participant group (taxonomy.md).
_IMPL_COMMON = [
    ("diligence_policy", "Diligence policy", "Supply chain diligence policy adoption"),
    (
        "corporate_management",
        "Corporate management",
        "Comprehensive supply chain / corporate management policy or code of conduct",
    ),
    ("training_partnership", "Training / partnership", "Best practices training / partnership"),
    ("internal_reporting", "Internal reporting", "Internal risk reporting"),
    ("third_party_reporting", "Third-party reporting", "Third-party risk reporting / audit"),
    ("public_reporting", "Public reporting", "Public risk reporting"),
    ("active_disengagement", "Active disengagement", "Active disengagement from bad actors"),
]

MATRIX: tuple[DimensionDef, ...] = (
    DimensionDef(
        "content",
        "Content",
        "What sustainability risks or issues does the standard/initiative seek to address?",
        (
            GroupDef(
                "",
                "",
                _cells(
                    "content",
                    [
                        (
                            "human_rights",
                            "Human rights",
                            "Democratic rights, indigenous rights, displacement",
                        ),
                        ("violent_conflict", "Violent conflict"),
                        ("labor_rights", "Labor rights", "Wages and bargaining power"),
                        ("transparency_corruption", "Transparency & corruption"),
                        ("local_economy", "Local economic benefits"),
                        (
                            "local_environment",
                            "Local environmental impact",
                            "Air quality, water quality, toxic pollutants, site reclamation",
                        ),
                        (
                            "climate_change",
                            "Climate change impact",
                            "GHG emissions of operations and supply chain",
                        ),
                        ("reuse_recycling", "Reuse & recycling of battery materials"),
                    ],
                ),
            ),
        ),
    ),
    DimensionDef(
        "participants",
        "Participants",
        "What types of entities participate or are covered?",
        (
            GroupDef(
                "government",
                "Government",
                _cells(
                    "participants.government",
                    [("national", "Federal / national"), ("local", "Local / state")],
                ),
            ),
            GroupDef(
                "industry",
                "Industry",
                _cells(
                    "participants.industry",
                    [
                        ("mining", "Mining"),
                        ("refining", "Refining / processing"),
                        ("midstream", "Midstream (cell / pack)"),
                        ("downstream", "Downstream (manufacturers / OEM)"),
                    ],
                ),
            ),
            GroupDef(
                "civil_society",
                "Civil society",
                _cells(
                    "participants.civil_society",
                    [
                        ("national", "National"),
                        ("international", "International"),
                        ("local_community", "Local community"),
                    ],
                ),
            ),
            GroupDef(
                "investors",
                "Investors and financiers",
                _cells("participants.investors", [("equity", "Equity"), ("debt", "Debt")]),
            ),
        ),
    ),
    DimensionDef(
        "implementation",
        "Implementation",
        "What does the standard/initiative require of participants?",
        (
            GroupDef(
                "government",
                "Government",
                _cells(
                    "implementation.government",
                    _IMPL_COMMON
                    + [
                        ("sanctions", "Sanctions", "Sanctions (implemented by governments)"),
                        (
                            "oversight",
                            "Oversight",
                            "Enhanced oversight (implemented by governments)",
                        ),
                    ],
                ),
            ),
            GroupDef(
                "industry",
                "Industry / investors + finance",
                _cells(
                    "implementation.industry",
                    _IMPL_COMMON
                    + [
                        (
                            "grievance_mechanism",
                            "Compliance / grievance",
                            "Complaint / grievance mechanism (implemented by industry)",
                        )
                    ],
                ),
            ),
            GroupDef(
                "civil_society",
                "Civil society",
                _cells("implementation.civil_society", _IMPL_COMMON),
            ),
        ),
    ),
    DimensionDef(
        "application",
        "Application",
        "What stages of the supply chain are covered?",
        (
            GroupDef(
                "",
                "",
                _cells(
                    "application",
                    [
                        ("mining", "Mining"),
                        ("trading", "Trading"),
                        ("refining", "Refining and processing"),
                        ("cathode", "Cathode manufacturing"),
                        ("cell", "Cell manufacturing"),
                        ("battery_assembly", "Battery assembly"),
                        ("vehicle", "Vehicle manufacturing"),
                        ("recycling", "Battery recycling"),
                    ],
                ),
            ),
        ),
    ),
    DimensionDef(
        "scope",
        "Scope",
        "What minerals, extraction methods and geographies are covered?",
        (
            GroupDef(
                "",
                "",
                _cells(
                    "scope",
                    [
                        ("universal", "Universal", "Any mineral, any geography"),
                        ("limited", "Limited", "Limited by minerals and/or geography"),
                    ],
                ),
            ),
        ),
    ),
    DimensionDef(
        "enforcement",
        "Enforcement",
        "What are the consequences for non-compliance, if any?",
        (
            GroupDef(
                "",
                "",
                _cells(
                    "enforcement",
                    [
                        ("legal_sanction", "Legal / regulatory sanction"),
                        ("decertification", "Loss of certification / membership"),
                        ("downgrade", "Grading / rating downgrade"),
                        ("reputation_consumer", "Consumer reputation"),
                        ("reputation_investor", "Investor reputation"),
                        ("reputation_market", "Market reputation"),
                        ("reputation_government", "Government reputation"),
                    ],
                ),
            ),
        ),
    ),
    DimensionDef(
        "sponsor",
        "Sponsor",
        "What type of body is responsible for organizing the standard/initiative?",
        (
            GroupDef(
                "",
                "",
                _cells(
                    "sponsor",
                    [
                        ("state_direct", "State / government (direct)"),
                        (
                            "international_organization",
                            "State / government (international organization)",
                        ),
                        ("industry_association", "Industry / trade association"),
                        ("civil_society", "Civil society / NGO"),
                        ("public_private_partnership", "Public-private partnership"),
                    ],
                ),
            ),
        ),
    ),
)

# The supply-chain stages by short code (`refining` for `application.refining`), with labels.
STAGES: tuple[tuple[str, str], ...] = tuple(
    (cell.code.split(".", 1)[1], cell.label)
    for dim in MATRIX
    if dim.code == "application"
    for group in dim.groups
    for cell in group.cells
)
STAGE_CODES: tuple[str, ...] = tuple(code for code, _ in STAGES)
# Stages that ship material onwards (a vehicle maker is the end of a supply flow).
SUPPLYING_STAGES: tuple[str, ...] = tuple(c for c in STAGE_CODES if c != "vehicle")

ALL_CELL_CODES: tuple[str, ...] = tuple(
    cell.code for dim in MATRIX for group in dim.groups for cell in group.cells
)

# Mineral vocabulary shared by standards' scope, mines and supply flows.
MINERALS: tuple[tuple[str, str], ...] = (
    ("cobalt", "Cobalt"),
    ("lithium", "Lithium"),
    ("nickel", "Nickel"),
    ("graphite", "Graphite"),
    ("manganese", "Manganese"),
    ("copper", "Copper"),
    ("aluminium", "Aluminium"),
    ("lead", "Lead"),
    ("tin", "Tin"),
    ("tantalum", "Tantalum"),
    ("tungsten", "Tungsten"),
    ("gold", "Gold"),
    ("mica", "Mica"),
)

EXTRACTION_METHODS: tuple[tuple[str, str], ...] = (
    ("industrial", "Industrial (large-scale) mining"),
    ("artisanal", "Artisanal and small-scale mining"),
    ("recycled", "Recycled feedstock"),
)
