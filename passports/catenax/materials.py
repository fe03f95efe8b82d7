"""Converters for `materials`: lookups over MaterialComposition, the recycled content of
Circularity and the model extra `materials` (per-material facts Battery Pass lacks)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from .convert import CIRC, GPI, MAT
from .values import (
    Doc,
    Inputs,
    as_dict,
    as_list,
    boolean,
    cas,
    dicts,
    doc,
    extra_docs,
    join,
    not_negative,
    percent,
    sig,
    text,
)

# Catena-X material slots: CAS number; also matched by exact English name.
ELEMENT_CAS = {
    "nickel": "7440-02-0",
    "lithium": "7439-93-2",
    "cobalt": "7440-48-4",
    "lead": "7439-92-1",
    "cadmium": "7440-43-9",
    "mercury": "7439-97-6",
}
_RECYCLED_MATERIAL = {"Nickel": "nickel", "Lithium": "lithium", "Cobalt": "cobalt", "Lead": "lead"}
_HEAVY_METALS = ("cadmium", "mercury", "lead")
_HAZARD_CLASS = {
    "AcuteToxicity": "acute toxicity",
    "SkinCorrosionOrIrritation": "skin corrosion/irritation",
    "EyeDamageOrIrritation": "serious eye damage/eye irritation",
}
_CONCENTRATION_UNITS = {
    "unit:partPerMillion",
    "unit:percent",
    "unit:percentVolume",
    "unit:partPerThousand",
    "unit:partPerTrillionUs",
    "unit:partPerBillionUs",
}
MATERIALS = f"{MAT}.batteryMaterials"
HAZARDOUS = f"{MAT}.hazardousSubstances"
RECYCLED = f"{CIRC}.recycledContent"


class Materials:
    """The lookups of one export (built once, `Inputs.materials`)."""

    def __init__(self, inputs: Inputs) -> None:
        self.materials = dicts(inputs.at(MATERIALS))
        self.hazardous = dicts(inputs.at(HAZARDOUS))
        self.table = as_dict(inputs.extra.get("materials"))
        mass = not_negative(inputs.at(f"{GPI}.batteryMass"))
        self.battery_mass_g = mass * 1000 if mass else None
        self.recycled = _recycled_shares(dicts(inputs.at(RECYCLED)))
        self._material_elements = _elements(
            self.materials, "batteryMaterialIdentifier", "batteryMaterialName"
        )
        self._substance_elements = _elements(
            self.hazardous, "hazardousSubstanceIdentifier", "hazardousSubstanceName"
        )

    def extra(self, keys: Iterable[str | None], name: str) -> Any:
        """A fact of the extra `materials` table by CAS number, element name, or "*"."""
        for key in [*keys, "*"]:
            entry = self.table.get(key) if key else None
            if isinstance(entry, dict) and name in entry:
                return entry[name]
        return None

    def concentration_of(self, material: dict) -> float | None:
        """batteryMaterialMass (g) / batteryMass (kg -> g), in percent."""
        mass = not_negative(material.get("batteryMaterialMass"))
        if mass is None or not self.battery_mass_g:
            return None
        return sig(mass / self.battery_mass_g * 100)

    def materials_of(self, element: str) -> list[dict]:
        """The battery materials that are `element` (by CAS number or name)."""
        return [entry for entry, found in self._material_elements if found == element]

    def substances_of(self, element: str) -> list[dict]:
        """The hazardous substances that are `element` (by CAS number or name)."""
        return [entry for entry, found in self._substance_elements if found == element]

    def critical_by_cas(self, number: str | None) -> bool | None:
        flags = [
            boolean(material.get("isCriticalRawMaterial"))
            for material in self.materials
            if number and cas(material.get("batteryMaterialIdentifier")) == number
        ]
        flags = [flag for flag in flags if flag is not None]
        return any(flags) if flags else None


def _recycled_shares(entries: list[dict]) -> dict[str, float]:
    """Pre- plus post-consumer share per material, if listed once and at most 100."""
    found: dict[str, list[float | None]] = {}
    for entry in entries:
        element = _RECYCLED_MATERIAL.get(entry.get("recycledMaterial"))
        if element is None:
            continue
        pre = percent(entry.get("preConsumerShare"))
        post = percent(entry.get("postConsumerShare"))
        total = None if pre is None or post is None else pre + post
        found.setdefault(element, []).append(total)
    return {
        element: sig(totals[0])
        for element, totals in found.items()
        if len(totals) == 1 and totals[0] is not None and totals[0] <= 100
    }


def element_of(name: Any, number: str | None) -> str | None:
    label = (text(name) or "").lower()
    for element, element_cas in ELEMENT_CAS.items():
        if number == element_cas or label == element:
            return element
    return None


def _elements(entries: list[dict], id_key: str, name_key: str) -> list[tuple[dict, str | None]]:
    return [(entry, element_of(entry.get(name_key), cas(entry.get(id_key)))) for entry in entries]


def _keys(element: str) -> list[str]:
    return [ELEMENT_CAS[element], element]


def _entry_keys(entry: dict, id_key: str, name_key: str) -> list[str | None]:
    return [cas(entry.get(id_key)), (text(entry.get(name_key)) or "").lower() or None]


def location_of(entry: dict, key: str) -> str | None:
    location = as_dict(entry.get(key))
    name, component_id = text(location.get("componentName")), text(location.get("componentId"))
    if name and component_id:
        return f"{name} ({component_id})"
    return name


def _critical_flags(found: list[dict]) -> list[bool]:
    flags = [boolean(material.get("isCriticalRawMaterial")) for material in found]
    return [flag for flag in flags if flag is not None]


def impacts(substance: dict) -> list[Doc] | None:
    """A substance's impacts as text documents headed by its name and hazard class."""
    name = text(substance.get("hazardousSubstanceName")) or "Hazardous substance"
    hazard = _HAZARD_CLASS.get(substance.get("hazardousSubstanceClass"))
    header = f"{name}: {hazard}" if hazard else name
    docs = [
        doc("Text", header, found) for found in as_list(substance.get("hazardousSubstanceImpact"))
    ]
    return [found for found in docs if found] or None


def recycled(element: str):
    """Recycled content of Ni, Li, Co or Pb (pre- plus post-consumer share)."""
    return lambda inputs, item: inputs.materials.recycled.get(element)


def documentation(element: str):
    """Elements: the extra documentation of a material slot."""
    return lambda inputs, item: extra_docs(inputs.materials.extra(_keys(element), "documentation"))


# --- materials.active.nickel / lithium / cobalt -------------------------------------------
# Where the document has no material row for the element (an LFP pack holds its lithium in a
# compound and no nickel or cobalt), the model's declared facts apply.


def active_location(element: str):
    def read(inputs: Inputs, item: Any) -> Any:
        lookup = inputs.materials
        found = lookup.materials_of(element)
        located = join(location_of(m, "batteryMaterialLocation") for m in found)
        return located or lookup.extra(_keys(element), "location")

    return read


def active_critical(element: str):
    def read(inputs: Inputs, item: Any) -> Any:
        flags = _critical_flags(inputs.materials.materials_of(element))
        return any(flags) if flags else inputs.materials.extra(_keys(element), "critical")

    return read


# --- lead (active and hazardous), cadmium, mercury ------------------------------------------
# Battery Pass hazardousSubstances leaves out Hg, Cd and Pb by definition: the extra facts
# apply when the document lists neither a substance nor a material row for the metal.


def _concentration(inputs: Inputs, element: str) -> tuple[Any, str | None]:
    lookup = inputs.materials
    substances, found = lookup.substances_of(element), lookup.materials_of(element)
    concentration = None
    if len(substances) == 1:
        concentration = not_negative(substances[0].get("hazardousSubstanceConcentration"))
    elif found and not substances:
        shares = [lookup.concentration_of(material) for material in found]
        if all(share is not None for share in shares):
            concentration = sig(sum(shares))
    if concentration is not None:
        return concentration, "unit:percent"
    if not substances and not found:
        concentration = not_negative(lookup.extra(_keys(element), "concentration"))
        unit = lookup.extra(_keys(element), "materialUnit")
        if unit in _CONCENTRATION_UNITS and concentration is not None:
            return concentration, unit
    return None, None


def metal_concentration(element: str):
    return lambda inputs, item: _concentration(inputs, element)[0]


def metal_unit(element: str):
    return lambda inputs, item: _concentration(inputs, element)[1]


def metal_location(element: str):
    def read(inputs: Inputs, item: Any) -> str | None:
        lookup = inputs.materials
        substances, found = lookup.substances_of(element), lookup.materials_of(element)
        location = join(
            [location_of(s, "hazardousSubstanceLocation") for s in substances]
            + [location_of(m, "batteryMaterialLocation") for m in found]
        )
        if location is None and not substances and not found:
            location = text(lookup.extra(_keys(element), "location"))
        return location

    return read


def metal_critical(element: str):
    def read(inputs: Inputs, item: Any) -> bool | None:
        flags = _critical_flags(inputs.materials.materials_of(element))
        return any(flags) if flags else boolean(inputs.materials.extra(_keys(element), "critical"))

    return read


def metal_impacts(element: str):
    """Elements: the listed substance's impacts, else the declared ones."""

    def items(inputs: Inputs, item: Any) -> list[Doc] | None:
        substances = inputs.materials.substances_of(element)
        found = [doc for substance in substances for doc in impacts(substance) or []]
        if not found and not substances:
            found = extra_docs(inputs.materials.extra(_keys(element), "impactOfSubstances"))
        return found or None

    return items


# --- materials.hazardous.other: substances other than Cd, Hg, Pb ---------------------------


def other_substances(inputs: Inputs, item: Any) -> list[dict] | None:
    found = [
        substance
        for substance in inputs.materials.hazardous
        if element_of(
            substance.get("hazardousSubstanceName"),
            cas(substance.get("hazardousSubstanceIdentifier")),
        )
        not in _HEAVY_METALS
    ]
    return found or None


def substance_concentration(inputs: Inputs, substance: dict) -> Any:
    return not_negative(substance.get("hazardousSubstanceConcentration"))


def substance_unit(inputs: Inputs, substance: dict) -> str | None:
    return "unit:percent" if substance_concentration(inputs, substance) is not None else None


def substance_impacts(inputs: Inputs, substance: dict) -> list[Doc] | None:
    return impacts(substance)


class Identification(NamedTuple):
    id: str
    name: str


def substance_identification(inputs: Inputs, substance: dict) -> list[Identification] | None:
    number = cas(substance.get("hazardousSubstanceIdentifier"))
    name = text(substance.get("hazardousSubstanceName"))
    return [Identification(number, name)] if number and name else None


def substance_documentation(inputs: Inputs, substance: dict) -> list[Doc] | None:
    keys = _entry_keys(substance, "hazardousSubstanceIdentifier", "hazardousSubstanceName")
    return extra_docs(inputs.materials.extra(keys, "documentation"))


def substance_critical(inputs: Inputs, substance: dict) -> bool | None:
    """The flag of the battery material with the same CAS number, else the declared one."""
    keys = _entry_keys(substance, "hazardousSubstanceIdentifier", "hazardousSubstanceName")
    critical = inputs.materials.critical_by_cas(keys[0])
    return critical if critical is not None else boolean(inputs.materials.extra(keys, "critical"))


def substance_location(inputs: Inputs, substance: dict) -> str | None:
    return location_of(substance, "hazardousSubstanceLocation")


# --- materials.composition: every battery material -----------------------------------------


def battery_materials(inputs: Inputs, item: Any) -> list[dict] | None:
    return inputs.materials.materials or None


def material_identification(inputs: Inputs, material: dict) -> list[Identification] | None:
    number = cas(material.get("batteryMaterialIdentifier"))
    name = text(material.get("batteryMaterialName"))
    return [Identification(number, name)] if number and name else None


def material_concentration(inputs: Inputs, material: dict) -> float | None:
    return inputs.materials.concentration_of(material)


def material_unit(inputs: Inputs, material: dict) -> str | None:
    return "unit:percent" if material_concentration(inputs, material) is not None else None


def material_critical(inputs: Inputs, material: dict) -> bool | None:
    return boolean(material.get("isCriticalRawMaterial"))


def _material_keys(material: dict) -> list[str | None]:
    return _entry_keys(material, "batteryMaterialIdentifier", "batteryMaterialName")


def material_documentation(inputs: Inputs, material: dict) -> list[Doc] | None:
    return extra_docs(inputs.materials.extra(_material_keys(material), "documentation"))


def material_recycled(inputs: Inputs, material: dict) -> Any:
    """Ni, Li, Co, Pb from Circularity.recycledContent; other materials as declared."""
    keys = _material_keys(material)
    element = element_of(material.get("batteryMaterialName"), keys[0])
    if element in _RECYCLED_MATERIAL.values():
        return inputs.materials.recycled.get(element)
    return percent(inputs.materials.extra(keys, "recycled"))


def material_location(inputs: Inputs, material: dict) -> str | None:
    return location_of(material, "batteryMaterialLocation")


def material_renewable(inputs: Inputs, material: dict) -> Any:
    return percent(inputs.materials.extra(_material_keys(material), "renewable"))
