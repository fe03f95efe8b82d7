"""Shared builders for passport tests."""

import copy
import csv
import json

import jsonschema

from passports import services
from passports.catalogue import ASPECTS, SCHEMA_FILES
from passports.demo import catenax_extra, sample, split
from passports.models import AccessGrant, BatteryModel
from passports.schemas import CATENAX_SCHEMA, SCHEMA_DIR

from .factories import make_company, make_org, make_user

# attributes.csv's access column -> who may see (written out here, independently of the code)
EXPECTED_TIERS = {
    "Public": {"public", "legitimate_interest", "commission", "authority", "owner"},
    "persons with a legitimate interest": {"legitimate_interest", "commission", "owner"},
    "persons with a legitimate interest and the Commission": {
        "legitimate_interest",
        "commission",
        "owner",
    },
    "Notified bodies, market surveillance authorities and the Commission": {
        "authority",
        "commission",
        "owner",
    },
}


def attributes_csv() -> list[dict]:
    with (SCHEMA_DIR / "attributes.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def schema(aspect: str) -> dict:
    return json.loads((SCHEMA_DIR / SCHEMA_FILES[aspect]).read_text(encoding="utf-8"))


def without_required(node):
    """The schema with every `required` list dropped: for tiers that may not see a field."""
    if isinstance(node, dict):
        return {k: without_required(v) for k, v in node.items() if k != "required"}
    if isinstance(node, list):
        return [without_required(v) for v in node]
    return node


def bp_errors(document: dict, *, strict: bool = True) -> list[str]:
    errors = []
    for aspect in ASPECTS:
        if aspect not in document:
            if strict:
                errors.append(f"{aspect} missing")
            continue
        s = schema(aspect) if strict else without_required(schema(aspect))
        errors += [
            f"{aspect}: {e.message}"
            for e in jsonschema.Draft4Validator(s).iter_errors(document[aspect])
        ]
    return errors


class World:
    """A manufacturer with its people, an operator, and organisations of each tier."""

    def __init__(self):
        self.manufacturer = make_company(
            "Cell Maker AG", stages=("cell", "battery_assembly"), country="DE"
        )
        self.operator = make_company("Car Maker AG", stages=("vehicle",), country="DE")
        maker_org = make_org("Cell Maker compliance", company=self.manufacturer)
        self.owner = make_user(maker_org, "compliance_officer", username="maker")
        self.users = {"owner": self.owner}
        for tier, purpose in (
            ("legitimate_interest", "recycler"),
            ("commission", "authority"),
            ("authority", "authority"),
        ):
            org = make_org(f"{tier} org", kind="research")
            AccessGrant.objects.create(
                organisation=org, tier=tier, purpose=purpose, valid_from="2020-01-01"
            )
            self.users[tier] = make_user(org, "viewer", username=f"{tier}-user")
        self.users["public"] = None

    def model(self, name="nmc811_ev_pack", category=None, identifier=None):
        document = sample(name)
        model_part, _ = split(document)
        return BatteryModel.objects.create(
            manufacturer=self.manufacturer,
            model_identifier=identifier or f"{name}-{BatteryModel.objects.count()}",
            name=name,
            category=category or document["GeneralProductInformation"]["batteryCategory"],
            chemistry="NMC811" if "nmc" in name else "LFP",
            data=model_part,
            catenax_extra=catenax_extra(name),
        )

    def passport(self, name="nmc811_ev_pack", publish=True, model=None, serial=None):
        document = sample(name)
        model = model or self.model(name)
        _, own = split(document)
        passport = services.passport_create(
            battery_model=model,
            economic_operator=self.operator,
            data=own,
            battery_identifier=serial or f"SN-{model.pk}-{model.passports.count()}",
        )
        if publish:
            passport = services.passport_publish(passport=passport, user=self.owner)
        return passport


def full_document(name="nmc811_ev_pack") -> dict:
    return copy.deepcopy(sample(name))


CX_SCHEMA = CATENAX_SCHEMA


def catenax_errors(document: dict, *, strict: bool = True) -> list[str]:
    schema = json.loads(CX_SCHEMA.read_text(encoding="utf-8"))
    if not strict:
        schema = without_required(schema)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in jsonschema.Draft4Validator(schema).iter_errors(document)
    ]
