"""Default expectation profiles and rule parameters, loaded per version; what the admins
edited is kept (datasets.tracking)."""

from pathlib import Path

import yaml
from django.db import transaction

from datasets.tracking import DatasetReport, file_version, fingerprint, sync_records
from taxonomy.models import Cell

from .models import Expectation, ExpectationProfile, Rule

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


def _profile_wanted(spec: dict) -> dict:
    return {
        "name": spec["name"],
        "stage": spec["stage"],
        "include_own_stages": spec["include_own_stages"],
        "description": spec["description"],
        "expectations": {
            code: [label, mode, sorted(cells)] for code, label, mode, cells in spec["expectations"]
        },
    }


def _profile_current(profile: ExpectationProfile) -> dict:
    return {
        "name": profile.name,
        "stage": profile.stage.code if profile.stage else None,
        "include_own_stages": profile.include_own_stages,
        "description": profile.description,
        "expectations": {
            e.code: [e.label, e.mode, sorted(c.code for c in e.cells.all())]
            for e in profile.expectations.all()
        },
    }


@transaction.atomic
def load_expectation_profiles() -> DatasetReport:
    """The default profiles, per version (datasets.tracking): the admins' edits are kept."""
    cells = {c.code: c for c in Cell.objects.all()}
    specs = {spec["code"]: spec for spec in PROFILES}
    existing = {
        p.code: p
        for p in ExpectationProfile.objects.select_related("stage").prefetch_related(
            "expectations__cells"
        )
    }

    def write(code: str) -> None:
        spec = specs[code]
        profile, _ = ExpectationProfile.objects.update_or_create(
            code=code,
            defaults={
                "name": spec["name"],
                "stage": cells[spec["stage"]] if spec["stage"] else None,
                "include_own_stages": spec["include_own_stages"],
                "description": spec["description"],
            },
        )
        profile.expectations.all().delete()
        for exp_code, label, mode, cell_codes in spec["expectations"]:
            expectation = Expectation.objects.create(
                profile=profile, code=exp_code, label=label, mode=mode
            )
            expectation.cells.set([cells[c] for c in cell_codes])

    return sync_records(
        "registry.profiles",
        fingerprint(PROFILES),
        (
            (
                code,
                _profile_current(existing[code]) if code in existing else None,
                _profile_wanted(spec),
            )
            for code, spec in specs.items()
        ),
        write,
    )


RULES_FILE = Path(__file__).resolve().parent / "data" / "rules.yaml"
_RULE_FIELDS = ("name", "kind", "params", "source")
_RULE_DATES = ("in_force_from", "in_force_until")


def _rule_state(values) -> dict:
    """A rule as the dataset tracks it. Dates only when set, so a rule loaded before they
    existed still matches what was loaded (and is updated, not taken as an admin's edit)."""
    state = {k: values[k] for k in _RULE_FIELDS}
    state.update({k: values[k] for k in _RULE_DATES if values.get(k)})
    return state


@transaction.atomic
def load_rules(path: Path = RULES_FILE) -> DatasetReport:
    """The rule parameters and dates in force, per version of rules.yaml: the admins'
    edits are kept."""
    specs = {spec["code"]: spec for spec in yaml.safe_load(path.read_text(encoding="utf-8"))}
    existing = {rule.code: rule for rule in Rule.objects.all()}

    def write(code: str) -> None:
        spec = specs[code]
        defaults = {k: spec[k] for k in _RULE_FIELDS}
        defaults.update({k: spec.get(k) for k in _RULE_DATES})
        Rule.objects.update_or_create(code=code, defaults=defaults)

    def current(rule: Rule) -> dict:
        return _rule_state({k: getattr(rule, k) for k in (*_RULE_FIELDS, *_RULE_DATES)})

    return sync_records(
        "registry.rules",
        file_version(path),
        (
            (code, current(existing[code]) if code in existing else None, _rule_state(spec))
            for code, spec in specs.items()
        ),
        write,
    )
