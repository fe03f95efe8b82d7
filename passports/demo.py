"""Demo passports for `make run`: an NMC811 EV pack, an LFP stationary pack, and the
NMC811 pack's second life as a repurposed battery with its own linked passport."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from django.db import transaction
from django.db.models import Q

from registry.models import Company, Organisation, SupplyRelationship

from . import services
from .catalogue import ATTRIBUTE_PATHS
from .models import AccessGrant, BatteryModel, BatteryPassport, PassportAttribute

SAMPLES = Path(__file__).resolve().parent / "data" / "samples"
# GS1 prefix 952 is GS1's own for examples and demonstrations: no real product has these.
DEMO_GTINS = {
    "NMC811-EV-75": "09520000000011",
    "LFP-ESS-280": "09520000000028",
    "NMC811-2L-ESS": "09520000000035",
}


def sample(name: str) -> dict:
    return json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def split(document: dict) -> tuple[dict, dict]:
    """Model-level and individual-level parts, by the granularity of the attributes
    under each top-level field of an aspect."""
    individual = set(
        PassportAttribute.objects.filter(individual=True).values_list("number", flat=True)
    )
    owners: dict[tuple[str, str], set[int]] = {}
    for number, paths in ATTRIBUTE_PATHS.items():
        for path in paths:
            if len(path) > 1:
                owners.setdefault((path[0], path[1]), set()).add(number)
    model, own = {}, {}
    for aspect, payload in document.items():
        for key, value in payload.items():
            target = own if owners.get((aspect, key), set()) & individual else model
            target.setdefault(aspect, {})[key] = value
    return model, own


def _company(*names: str) -> Company | None:
    for name in names:
        company = Company.objects.filter(legal_name__icontains=name).first()
        if company:
            return company
    return None


def _model(manufacturer, identifier, name, category, chemistry, document, extra=None, gtin=""):
    model_part, _ = split(document)
    battery_model, _ = BatteryModel.objects.get_or_create(
        manufacturer=manufacturer,
        model_identifier=identifier,
        defaults={
            "name": name,
            "category": category,
            "chemistry": chemistry,
            "data": model_part,
            "catenax_extra": extra or {},
        },
    )
    if gtin and not battery_model.gtin:  # models loaded before GTINs were kept
        battery_model.gtin = gtin
        battery_model.save(update_fields=["gtin"])
    return battery_model


def catenax_extra(name: str = "nmc811_ev_pack") -> dict:
    """Model facts Catena-X needs that Battery Pass lacks (see catenax.EXTRA_FIELDS)."""
    return json.loads((SAMPLES / f"catenax_extra_{name}.json").read_text(encoding="utf-8"))


@transaction.atomic
def load_demo_passports() -> dict[str, int]:
    catl = _company("Contemporary Amperex", "CATL")
    operator = _company("Volkswagen", "BMW", "Tesla") or catl
    second_life = _company("Redwood", "Umicore") or operator
    if catl is None:
        return {"passports_created": 0}
    created = 0
    nmc_doc = sample("nmc811_ev_pack")
    nmc = _model(
        catl,
        "NMC811-EV-75",
        "NMC811 EV traction pack 75 kWh",
        "ev",
        "NMC811",
        nmc_doc,
        catenax_extra(),
        gtin=DEMO_GTINS["NMC811-EV-75"],
    )
    # The model's cells are made from CATL's recorded supplies of the battery minerals.
    nmc.supply_relationships.set(
        SupplyRelationship.objects.filter(
            buyer=catl, mineral__code__in=["cobalt", "nickel", "lithium"]
        )
    )
    nmc.attestations.set(catl.attestations.all())
    lfp_doc = sample("lfp_stationary_pack")
    lfp = _model(
        catl,
        "LFP-ESS-280",
        "LFP stationary storage pack",
        "stationary",
        "LFP",
        lfp_doc,
        catenax_extra("lfp_stationary_pack"),
        gtin=DEMO_GTINS["LFP-ESS-280"],
    )
    lfp.supply_relationships.set(
        SupplyRelationship.objects.filter(buyer=catl, mineral__code="lithium")
    )

    def passport(model, document, serial):
        existing = BatteryPassport.objects.filter(
            battery_model=model, battery_identifier=serial
        ).first()
        if existing:
            return existing, False
        _, own = split(document)
        p = services.passport_create(
            battery_model=model, battery_identifier=serial, economic_operator=operator, data=own
        )
        return services.passport_publish(passport=p, note="demo"), True

    ev, made = passport(nmc, nmc_doc, nmc_doc["GeneralProductInformation"]["productIdentifier"])
    created += made
    if made:
        services.append_reading(
            passport=ev,
            number=58,
            value={"stateOfChargeValue": 81.5, "lastUpdate": "2026-10-01T08:00:00+00:00"},
            measured_at=dt.datetime(2026, 10, 1, 8, tzinfo=dt.UTC),
        )
    _, made = passport(lfp, lfp_doc, lfp_doc["GeneralProductInformation"]["productIdentifier"])
    created += made
    if not hasattr(ev, "successor"):
        repurposed_doc = sample("repurposed_nmc811_pack")
        second_model = _model(
            second_life,
            "NMC811-2L-ESS",
            "Second-life NMC811 storage unit",
            "stationary",
            "NMC811",
            repurposed_doc,
            catenax_extra("repurposed_nmc811_pack"),
            gtin=DEMO_GTINS["NMC811-2L-ESS"],
        )
        _, own = split(repurposed_doc)
        successor = services.passport_repurpose(
            passport=ev,
            new_status="repurposed",
            battery_identifier=repurposed_doc["GeneralProductInformation"]["productIdentifier"],
            economic_operator=second_life,
            battery_model=second_model,
            data=own,
        )
        services.passport_publish(passport=successor, note="demo: second life")
        created += 1
    recycler = Organisation.objects.filter(
        Q(company__legal_name__icontains="Redwood") | Q(kind="ngo")
    ).first()
    if recycler and not AccessGrant.objects.filter(organisation=recycler).exists():
        AccessGrant.objects.create(
            organisation=recycler,
            tier="legitimate_interest",
            purpose="recycler",
            valid_from=dt.date(2025, 1, 1),
            note="demo grant",
        )
    return {"passports_created": created}
