"""The demo registry: loaded only into an empty registry, every record marked `demo`."""

from __future__ import annotations

from pathlib import Path

from django.db import transaction

from passports.demo import load_demo_passports
from passports.models import BatteryModel, BatteryPassport
from registry.demo import DEMO_FILE, FLOWS_FILE, load_demo, load_demo_flows
from registry.models import (
    Attestation,
    Company,
    Facility,
    MinedSource,
    Organisation,
    SupplyRelationship,
)

# Every model with a `demo` flag; any row of them makes the registry non-empty.
DEMO_MODELS = (
    Organisation,
    Company,
    Facility,
    MinedSource,
    Attestation,
    SupplyRelationship,
    BatteryModel,
    BatteryPassport,
)


def registry_is_empty() -> bool:
    return not any(model.objects.exists() for model in DEMO_MODELS)


@transaction.atomic
def load_demo_registry(path: Path = DEMO_FILE) -> dict[str, int] | None:
    """Load the demo data and mark it; None (nothing written) if the registry holds data."""
    if not registry_is_empty():
        return None
    counts = load_demo(path)
    counts.update(load_demo_flows(FLOWS_FILE))
    counts.update(load_demo_passports())
    # The registry was empty, so every record now in it is demo data.
    for model in DEMO_MODELS:
        model.objects.update(demo=True)
    return counts
