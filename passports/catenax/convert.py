"""Converters named by the mapping table: the value of one Catena-X leaf, or the elements of
one array, from the inputs. Materials are in materials.py."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from .values import (
    BPNA,
    Doc,
    Inputs,
    as_dict,
    as_list,
    bpn,
    bpnl,
    caption,
    dicts,
    doc,
    extra_docs,
    link,
    not_negative,
    number,
    pairs,
    text,
    uuid_urn,
)

CX_SPEC_VERSION = "urn:io.catenax.battery.battery_pass:6.1.0"

GPI = "GeneralProductInformation"
CFP = "CarbonFootprintForBatteries"
CIRC = "Circularity"
MAT = "MaterialComposition"
PERF = "PerformanceAndDurability"
LAB = "Labeling"
SCDD = "SupplyChainDueDiligence"
TC = f"{PERF}.batteryTechicalProperties"  # sic, the model's spelling
BC = f"{PERF}.batteryCondition"

_CATEGORY = {"lmt": "LMT", "ev": "EV", "industrial": "industrial", "stationary": "industrial"}
_BATTERY_STATUS = {
    "Original": "original",
    "Repurposed": "repurposed",
    "Reused": "re-used",
    "Remanufactured": "remanufactured",
    "Waste": "waste",
}
_PASSPORT_STATUS = {"draft": "draft", "published": "approved"}
_NIL_UUID = "urn:uuid:00000000-0000-0000-0000-000000000000"
_GMONTH = re.compile(r"^--(0[1-9]|1[0-2])(Z|[+-]\d{2}:\d{2})?$")
_WARRANTY_UNITS = {
    "unit:day",
    "unit:month",
    "unit:year",
    "unit:cycle",
    "unit:runningOrOperatingHour",
}
_LENGTH_UNITS = {
    "unit:millimetre",
    "unit:centimetre",
    "unit:metre",
    "unit:kilometre",
    "unit:inch",
    "unit:foot",
    "unit:yard",
}
_LIFECYCLE = {
    "RawMaterialExtraction": "raw material acquisition and pre-processing",
    "MainProduction": "main product production",
    "Distribution": "distribution",
    "Recycling": "end of life and recycling",
}
_TOTAL_LIFECYCLE = "all life cycle stages"
CF_UNIT = "kg CO2e / kWh"
CF_TYPE = "Climate Change Total"
_LABEL_SUBJECT = {
    "SeparateCollection": "Separate collection symbol",
    "HazardousMaterial": "Symbol for cadmium or lead",
    "CarbonFootPrint": "Carbon footprint label",
    "ExtinguishingAgent": "Extinguishing agent label",
}
_DISMANTLING_DOC = {
    "BillOfMaterial": "Bill of material",
    "Model3D": "3D model",
    "DismantlingManual": "Dismantling manual",
    "RemovalManual": "Removal manual",
    "OtherManual": "Other manual",
    "Drawing": "Drawing",
}


def constant(value: Any):
    return lambda inputs, item: value


def links(path: str, header: str):
    """Elements: the document's link at `path` as one URL document."""
    return lambda inputs, item: link(inputs.at(path), header)


def codes(inputs: Inputs, item: Any) -> list[dict] | None:
    return pairs(inputs.extra.get("codes"), ("key", "value"))


def classification(inputs: Inputs, item: Any) -> list[dict] | None:
    return pairs(
        inputs.extra.get("classification"),
        ("classificationStandard", "classificationID"),
        ("classificationDescription",),
    )


def rulebook(inputs: Inputs, item: Any) -> list[Doc] | None:
    return extra_docs(inputs.extra.get("carbon_footprint_rulebook"))


# --- identification, operation, characteristics ---------------------------------------------


def category(value: Any) -> str | None:
    return _CATEGORY.get(value.lower()) if isinstance(value, str) else None


def chemistry(inputs: Inputs, item: Any) -> str | None:
    """ "<clearName> (<shortName>)"."""
    found = as_dict(inputs.at(f"{MAT}.batteryChemistry"))
    clear, short = text(found.get("clearName")), text(found.get("shortName"))
    return f"{clear} ({short})" if clear and short else clear or short


def facilities(inputs: Inputs, item: Any) -> list[str] | None:
    """The model's manufacturing sites (BPNA), without duplicates."""
    found = [
        bpn(value, BPNA) for value in as_list(inputs.extra.get("manufacturing_facility_bpnas"))
    ]
    return [bpna for bpna in dict.fromkeys(found) if bpna] or None


def manufacturer(inputs: Inputs, item: Any) -> str | None:
    """The manufacturer's identifier if it is a BPNL, else the declared BPNL."""
    found = bpnl(inputs.at(f"{GPI}.manufacturerInformation.identifier"))
    return found or bpnl(inputs.extra.get("manufacturer_bpnl"))


def _warranty(inputs: Inputs) -> tuple[Any, str] | None:
    """Declared extra warranty, else the gMonth warrentyPeriod in months."""
    given = as_dict(inputs.extra.get("warranty"))
    if number(given.get("lifeValue")) is not None and given.get("lifeUnit") in _WARRANTY_UNITS:
        return given["lifeValue"], given["lifeUnit"]
    period = inputs.at(f"{GPI}.warrentyPeriod")
    match = _GMONTH.match(period.strip()) if isinstance(period, str) else None
    return (int(match.group(1)), "unit:month") if match else None


def warranty_value(inputs: Inputs, item: Any) -> Any:
    return (_warranty(inputs) or (None, None))[0]


def warranty_unit(inputs: Inputs, item: Any) -> str | None:
    return (_warranty(inputs) or (None, None))[1]


def _dimension(inputs: Inputs, name: str) -> tuple[Any, str] | None:
    given = as_dict(as_dict(inputs.extra.get("physical_dimensions")).get(name))
    value, unit = number(given.get("value")), given.get("unit")
    return (value, unit) if value is not None and unit in _LENGTH_UNITS else None


def dimension_value(name: str):
    return lambda inputs, item: (_dimension(inputs, name) or (None, None))[0]


def dimension_unit(name: str):
    return lambda inputs, item: (_dimension(inputs, name) or (None, None))[1]


def weight_unit(inputs: Inputs, item: Any) -> str | None:
    return "unit:kilogram" if not_negative(inputs.at(f"{GPI}.batteryMass")) is not None else None


# --- sustainability -------------------------------------------------------------------------


def battery_status(value: Any) -> str | None:
    return _BATTERY_STATUS.get(value)


class Footprint(NamedTuple):
    lifecycle: str
    value: int | float
    total: bool  # the whole battery's footprint (it has the performance class)


def footprints(inputs: Inputs, item: Any) -> list[Footprint] | None:
    """The battery's footprint, then one per lifecycle stage (negative values left out)."""
    found = as_dict(inputs.at(CFP))
    if not found:
        return None
    out = []
    total = not_negative(found.get("batteryCarbonFootprint"))
    if total is not None:
        out.append(Footprint(_TOTAL_LIFECYCLE, total, True))
    for stage in dicts(found.get("carbonFootprintPerLifecycleStage")):
        lifecycle = _LIFECYCLE.get(stage.get("lifecycleStage"))
        value = not_negative(stage.get("carbonFootprint"))
        if lifecycle and value is not None:
            out.append(Footprint(lifecycle, value, False))
    return out or None


def performance_class(inputs: Inputs, item: Footprint) -> str | None:
    return text(inputs.at(f"{CFP}.carbonFootprintPerformanceClass")) if item.total else None


# --- safety, sources, metadata, commercial, handling ----------------------------------------


def extinguishing_agents(inputs: Inputs, item: Any) -> list[str] | None:
    """The extinguishing agents, without duplicates."""
    agents = as_list(inputs.at(f"{CIRC}.safetyMeasures.extinguishingAgent"))
    return [media for media in dict.fromkeys(map(text, agents)) if media] or None


def _label_docs(label: dict) -> list[Doc]:
    """A label's meaning (English, else the first language) as text, and its symbol as a link."""
    meanings = as_dict(label.get("labelingMeaning"))
    meaning = text(meanings.get("en")) or next(filter(None, map(text, meanings.values())), None)
    subject = _LABEL_SUBJECT.get(label.get("labelingSubject"), "Label")
    docs = [
        doc("Text", subject, meaning),
        doc("URL", f"{subject}: symbol", label.get("labelingSymbol")),
    ]
    return [found for found in docs if found]


def label_docs(inputs: Inputs, item: Any) -> list[Doc] | None:
    labels = dicts(inputs.at(f"{LAB}.labels"))
    return [found for label in labels for found in _label_docs(label)] or None


def _dismantling_docs(inputs: Inputs, removal: bool) -> list[Doc] | None:
    out = []
    for entry in dicts(inputs.at(f"{CIRC}.dismantlingAndRemovalInformation")):
        url, kind = text(entry.get("documentURL")), entry.get("documentType")
        if not url or (kind == "RemovalManual") != removal:
            continue
        header = _DISMANTLING_DOC.get(kind, "Dismantling and removal information")
        mime = text(entry.get("mimeType"))
        out.append(doc("URL", f"{header} ({mime})" if mime else header, url))
    return out or None


def dismantling_docs(inputs: Inputs, item: Any) -> list[Doc] | None:
    """Dismantling documents other than the removal manual."""
    return _dismantling_docs(inputs, removal=False)


def removal_docs(inputs: Inputs, item: Any) -> list[Doc] | None:
    return _dismantling_docs(inputs, removal=True)


class Source(NamedTuple):
    header: str
    category: str
    content: str


def sources(inputs: Inputs, item: Any) -> list[Source] | None:
    """Where to collect the battery, and the manufacturer's web address."""
    out = []
    collection = text(inputs.at(f"{CIRC}.endOfLifeInformation.informationOnCollection"))
    if collection:
        header = "Collection, take-back, second life and treatment of waste batteries"
        out.append(Source(header, "Return and Disposal", collection))
    manufacturer_info = as_dict(inputs.at(f"{GPI}.manufacturerInformation"))
    web = text(manufacturer_info.get("webAddress"))
    if web:
        name = text(manufacturer_info.get("contactName"))
        header = caption(f"Manufacturer: {name}" if name else "Manufacturer")
        out.append(Source(header, "Manufacturer Information", web))
    return out or None


def version(value: Any) -> str | None:
    """ "3" -> "3.0.0", "3.1" -> "3.1.0"; other text as given."""
    found = text(value)
    if found is None:
        return None
    if re.fullmatch(r"\d+", found):
        return f"{found}.0.0"
    if re.fullmatch(r"\d+\.\d+", found):
        return f"{found}.0"
    return found


def passport_status(value: Any) -> str | None:
    return _PASSPORT_STATUS.get(value)


def passport_identifier(value: Any) -> str:
    return uuid_urn(value, "passport_uuid")


def predecessor(value: Any) -> str:
    """The predecessor's urn:uuid, else the nil UUID (the model asks for a value)."""
    return uuid_urn(value, "predecessor_uuid") if value else _NIL_UUID


def economic_operator(inputs: Inputs, item: Any) -> str | None:
    """The operator's id if it is a BPNL (not an LEI), else the declared BPNL."""
    found = bpnl(inputs.context.economic_operator_id)
    return found or bpnl(inputs.extra.get("economic_operator_bpnl"))


def purposes(inputs: Inputs, item: Any) -> list[str] | None:
    found = [value for value in map(text, as_list(inputs.extra.get("purpose"))) if value]
    return list(dict.fromkeys(found)) or None


def _suppliers(inputs: Inputs) -> list[dict] | None:
    found = inputs.at(f"{CIRC}.sparePartSources")
    return dicts(found) if isinstance(found, list) else None


def handling_applicable(inputs: Inputs, item: Any) -> bool | None:
    """True when the document lists spare-part sources, false when it lists none."""
    suppliers = _suppliers(inputs)
    return None if suppliers is None else bool(suppliers)


def spare_part_producers(inputs: Inputs, item: Any) -> list[str] | None:
    """BPNLs declared for the spare-part suppliers the document lists ([] if it lists none)."""
    suppliers = _suppliers(inputs)
    if not suppliers:
        return suppliers
    declared = as_dict(inputs.extra.get("spare_part_producer_bpnls"))
    found = [
        bpnl(declared.get(text(supplier.get("nameOfSupplier")) or "")) for supplier in suppliers
    ]
    return [value for value in dict.fromkeys(found) if value] or None


class SparePart(NamedTuple):
    number: str
    name: str


def spare_parts(inputs: Inputs, item: Any) -> list[SparePart] | None:
    """The components of the spare-part sources ([] if the document lists no source)."""
    suppliers = _suppliers(inputs)
    if not suppliers:
        return suppliers
    parts = {}
    for supplier in suppliers:
        for component in dicts(supplier.get("components")):
            part_number, name = text(component.get("partNumber")), text(component.get("partName"))
            if part_number and name:
                parts.setdefault(SparePart(part_number, name), None)
    return list(parts) or None
