"""The matrix in the database is exactly the one spelled out in taxonomy.md."""

import re

import pytest
from django.conf import settings

from taxonomy.matrix import ALL_CELL_CODES
from taxonomy.models import Cell

pytestmark = pytest.mark.django_db

# Transcribed from taxonomy/data/taxonomy.md (the design note), in its order.
EXPECTED = {
    "content": [
        "Human rights",
        "Violent conflict",
        "Labor rights",
        "Transparency & corruption",
        "Local economic benefits",
        "Local environmental impact",
        "Climate change impact",
        "Reuse & recycling of battery materials",
    ],
    "participants": [
        ("government", "Federal / national"),
        ("government", "Local / state"),
        ("industry", "Mining"),
        ("industry", "Refining / processing"),
        ("industry", "Midstream (cell / pack)"),
        ("industry", "Downstream (manufacturers / OEM)"),
        ("civil_society", "National"),
        ("civil_society", "International"),
        ("civil_society", "Local community"),
        ("investors", "Equity"),
        ("investors", "Debt"),
    ],
    "implementation": [
        *[
            ("government", label)
            for label in (
                "Diligence policy",
                "Corporate management",
                "Training / partnership",
                "Internal reporting",
                "Third-party reporting",
                "Public reporting",
                "Active disengagement",
                "Sanctions",
                "Oversight",
            )
        ],
        *[
            ("industry", label)
            for label in (
                "Diligence policy",
                "Corporate management",
                "Training / partnership",
                "Internal reporting",
                "Third-party reporting",
                "Public reporting",
                "Active disengagement",
                "Compliance / grievance",
            )
        ],
        *[
            ("civil_society", label)
            for label in (
                "Diligence policy",
                "Corporate management",
                "Training / partnership",
                "Internal reporting",
                "Third-party reporting",
                "Public reporting",
                "Active disengagement",
            )
        ],
    ],
    "application": [
        "Mining",
        "Trading",
        "Refining and processing",
        "Cathode manufacturing",
        "Cell manufacturing",
        "Battery assembly",
        "Vehicle manufacturing",
        "Battery recycling",
    ],
    "scope": ["Universal", "Limited"],
    "enforcement": [
        "Legal / regulatory sanction",
        "Loss of certification / membership",
        "Grading / rating downgrade",
        "Consumer reputation",
        "Investor reputation",
        "Market reputation",
        "Government reputation",
    ],
    "sponsor": [
        "State / government (direct)",
        "State / government (international organization)",
        "Industry / trade association",
        "Civil society / NGO",
        "Public-private partnership",
    ],
}


def test_each_dimension_holds_exactly_the_cells_of_the_taxonomy_in_order():
    for dimension, expected in EXPECTED.items():
        cells = Cell.objects.filter(dimension__code=dimension).order_by("order")
        if expected and isinstance(expected[0], tuple):
            got = [(c.group, c.label) for c in cells]
        else:
            got = [c.label for c in cells]
        assert got == expected, dimension


def test_cell_counts_match_the_headings_of_taxonomy_md():
    text = (settings.BASE_DIR / "taxonomy" / "data" / "taxonomy.md").read_text()
    counts = {
        "content": int(re.search(r"## Content:.*\((\d+)\)", text).group(1)),
        "participants": int(re.search(r"## Participants:.*?(\d+) cells\)", text).group(1)),
        "implementation": int(re.search(r"## Implementation:.*?(\d+) cells\)", text).group(1)),
        "application": int(re.search(r"## Application:.*\((\d+)\)", text).group(1)),
        "enforcement": int(re.search(r"## Enforcement:.*\((\d+)\)", text).group(1)),
        "sponsor": int(re.search(r"## Sponsor:.*\((\d+)\)", text).group(1)),
    }
    for dimension, count in counts.items():
        assert Cell.objects.filter(dimension__code=dimension).count() == count, dimension


def test_cell_codes_are_stable_and_unique():
    codes = list(Cell.objects.values_list("code", flat=True))
    assert sorted(codes) == sorted(ALL_CELL_CODES)
    assert len(set(codes)) == 65
    for code in (
        "content.human_rights",
        "implementation.industry.third_party_reporting",
        "application.refining",
        "implementation.government.sanctions",
        "implementation.industry.grievance_mechanism",
        "sponsor.public_private_partnership",
    ):
        assert Cell.objects.filter(code=code).exists(), code
