"""Battery passports for the large registry (`build_large_registry`): a battery model per
cell or pack maker and published passports in bulk.

One passport is made through the services (validated, published, its version and event
written); the others copy its documents with identifiers of their own, so every read route
finds passports that look like real ones, at the registry's size, in seconds."""

from __future__ import annotations

import json
import random
import uuid

from django.conf import settings
from django.db.models import Exists, OuterRef

from registry.models import Company

from . import services
from .demo import sample, split
from .gtin import check_digit
from .models import BatteryModel, BatteryPassport, PassportEvent, PassportVersion

PASSPORTS = 20_000  # at scale 1.0
MODELS = 200
BATCH = 2_000
_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTVWXYZ"


def _makers(count: int) -> list[Company]:
    makes_cells = Company.stages.through.objects.filter(
        company_id=OuterRef("pk"),
        cell__code__in=("application.cell", "application.battery_assembly"),
    )
    return list(Company.objects.filter(Exists(makes_cells)).order_by("pk")[:count])


def _swap(document: dict, old: dict[str, str], new: dict[str, str]) -> dict:
    """The template's document with its identifiers replaced by a copy's."""
    text = json.dumps(document)
    for key, value in old.items():
        text = text.replace(json.dumps(value), json.dumps(new[key]))
    return json.loads(text)


def scale_gtin(index: int) -> str:
    """GTIN-14 of the index-th scale model, under GS1's prefix for examples (952)."""
    body = f"0952001{index:06d}"
    return body + str(check_digit(body))


def build_passports(seed: int = 1, scale: float = 1.0) -> int:
    """Published passports (PASSPORTS x scale) over battery models of cell and pack makers;
    returns how many were made."""
    rng = random.Random(seed)
    makers = _makers(max(1, round(MODELS * scale)))
    if not makers:
        return 0
    document = sample("nmc811_ev_pack")
    model_part, own = split(document)
    models = BatteryModel.objects.bulk_create(
        BatteryModel(
            manufacturer=maker,
            model_identifier=f"NMC811-EV-{i:04d}",
            name=f"NMC811 EV traction pack {60 + i % 40} kWh",
            category="ev",
            chemistry="NMC811",
            data=model_part,
            gtin=scale_gtin(i),
        )
        for i, maker in enumerate(makers)
    )
    template = services.passport_publish(
        passport=services.passport_create(
            battery_model=models[0],
            battery_identifier="SCALE-000000",
            economic_operator=makers[0],
            data=own,
        ),
        note="scale template",
    )
    version = template.versions.get()
    keys = ("internal_id", "batterypass_id", "battery_identifier")
    old = {key: getattr(template, key) for key in keys}
    total = max(1, round(PASSPORTS * scale))
    made = 1
    while made < total:
        rows = []
        for n in range(made, min(total, made + BATCH)):
            model = models[n % len(models)]
            serial = "".join(rng.choice(_ALPHABET) for _ in range(12))
            company = model.manufacturer.lei or f"C{model.manufacturer_id:07d}"
            internal_id = f"{settings.PASSPORT_ISSUING_AGENCY}.{company}.{serial}"
            new = {
                "internal_id": internal_id,
                "batterypass_id": services.batterypass_identifier(internal_id),
                "battery_identifier": f"SCALE-{n:06d}",
            }
            rows.append(
                BatteryPassport(
                    **new,
                    uuid=uuid.UUID(int=rng.getrandbits(128), version=4),
                    battery_model=model,
                    economic_operator=model.manufacturer,
                    lifecycle=template.lifecycle,
                    data=_swap(template.data, old, new),
                    document=_swap(template.document, old, new),
                    public_document=_swap(template.public_document, old, new),
                    version=1,
                    revision=template.revision,
                    published_at=template.published_at,
                )
            )
        passports = BatteryPassport.objects.bulk_create(rows)
        PassportVersion.objects.bulk_create(
            PassportVersion(
                passport=p,
                number=1,
                document=p.document,
                battery_status=p.battery_status,
                changed_attributes=version.changed_attributes,
                note="scale",
            )
            for p in passports
        )
        PassportEvent.objects.bulk_create(
            PassportEvent(
                passport=p,
                kind=PassportEvent.Kind.PUBLISHED,
                version=1,
                attributes=version.changed_attributes,
            )
            for p in passports
        )
        made += len(passports)
    return made
