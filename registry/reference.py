"""Default expectation profiles. Created once; after that they are the admins' to edit."""

from django.db import transaction

from taxonomy.models import Cell

from .models import Expectation, ExpectationProfile

OECD_FIVE_STEPS = [
    "implementation.industry.diligence_policy",  # step 1: policy
    "implementation.industry.corporate_management",  # step 1: management system
    "implementation.industry.third_party_reporting",  # step 4: independent audit
    "implementation.industry.public_reporting",  # step 5: public report
    "implementation.industry.grievance_mechanism",  # step 1: grievance mechanism
]
CONTENT = [
    "content.human_rights",
    "content.violent_conflict",
    "content.labor_rights",
    "content.transparency_corruption",
    "content.local_economy",
    "content.local_environment",
    "content.climate_change",
    "content.reuse_recycling",
]
ENFORCEMENT = [
    "enforcement.legal_sanction",
    "enforcement.decertification",
    "enforcement.downgrade",
    "enforcement.reputation_consumer",
    "enforcement.reputation_investor",
    "enforcement.reputation_market",
    "enforcement.reputation_government",
]

PROFILES = [
    {
        "code": "default",
        "name": "Every company",
        "stage": None,
        "include_own_stages": True,
        "description": (
            "Every content risk, applied to the company's own stages; the industry steps of "
            "the OECD Guidance's five-step framework; and at least one consequence for "
            "non-compliance."
        ),
        "expectations": [
            ("content", "Every sustainability risk", "all", CONTENT),
            ("oecd-five-steps", "OECD five-step due diligence (industry)", "all", OECD_FIVE_STEPS),
            ("enforcement", "At least one consequence for non-compliance", "any", ENFORCEMENT),
        ],
    },
    {
        "code": "midstream-upstream-reach",
        "name": "Refiners: due diligence reaches the mines",
        "stage": "application.refining",
        "include_own_stages": False,
        "description": "OECD Guidance: smelters and refiners identify and assess the mines "
        "and traders they source from.",
        "expectations": [
            (
                "upstream",
                "Covers mining and trading",
                "all",
                ["application.mining", "application.trading"],
            ),
        ],
    },
    *[
        {
            "code": f"{stage}-upstream-reach",
            "name": f"{label}: due diligence reaches refiners and mines",
            "stage": f"application.{stage}",
            "include_own_stages": False,
            "description": "Downstream companies answer for their upstream suppliers "
            "(taxonomy.md: application beyond the participant's own stage).",
            "expectations": [
                (
                    "upstream",
                    "Covers refining and mining",
                    "all",
                    ["application.refining", "application.mining"],
                ),
            ],
        }
        for stage, label in (
            ("cathode", "Cathode makers"),
            ("cell", "Cell makers"),
            ("battery_assembly", "Battery assemblers"),
            ("vehicle", "Vehicle makers"),
        )
    ],
]


@transaction.atomic
def load_expectation_profiles() -> int:
    """Create the default profiles that do not exist yet; leave edited ones alone."""
    cells = {c.code: c for c in Cell.objects.all()}
    created = 0
    for spec in PROFILES:
        if ExpectationProfile.objects.filter(code=spec["code"]).exists():
            continue
        profile = ExpectationProfile.objects.create(
            code=spec["code"],
            name=spec["name"],
            stage=cells[spec["stage"]] if spec["stage"] else None,
            include_own_stages=spec["include_own_stages"],
            description=spec["description"],
        )
        for code, label, mode, cell_codes in spec["expectations"]:
            expectation = Expectation.objects.create(
                profile=profile, code=code, label=label, mode=mode
            )
            expectation.cells.set([cells[c] for c in cell_codes])
        created += 1
    return created


RULES_FILE = __import__("pathlib").Path(__file__).resolve().parent / "data" / "rules.yaml"


@transaction.atomic
def load_rules(path=RULES_FILE) -> int:
    """Create the rules that do not exist yet; leave edited ones alone."""
    import yaml

    from .models import Rule

    created = 0
    for spec in yaml.safe_load(path.read_text(encoding="utf-8")):
        _, made = Rule.objects.get_or_create(
            code=spec["code"],
            defaults={k: spec[k] for k in ("name", "kind", "params", "source")},
        )
        created += made
    return created
