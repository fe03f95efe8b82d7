"""What the export reads besides the document: the passport's facts (`CatenaXContext`) and the
battery model's declared extras (`EXTRA_FIELDS`, the keys of `BatteryModel.catenax_extra`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass
class CatenaXContext:
    """Passport-level facts that are not in the Battery Pass aspects."""

    passport_uuid: str  # UUID or urn:uuid:...; exported as urn:uuid:<uuid>
    predecessor_uuid: str | None  # earlier passport of a repurposed/remanufactured battery
    version: str  # "3" -> "3.0.0"
    issue_date: date
    last_modification: date
    economic_operator_id: str  # exported only if it is a BPNL (see module docstring)
    status: str  # "draft" | "published"
    extra: dict = field(default_factory=dict)  # keys: EXTRA_FIELDS


# --- extra keys -----------------------------------------------------------------------------

_DOCS = 'list of {"contentType", "header", "content"}'

EXTRA_FIELDS: dict[str, str] = {
    "manufacturer_part_id": (
        "identification.identification.type.manufacturerPartId: the model's part number at the "
        'manufacturer, with version if any. Text. Example: "BP-NMC811-75-A2".'
    ),
    "name_at_manufacturer": (
        "identification.identification.type.nameAtManufacturer: the model's name at the "
        'manufacturer. Text. Example: "HV traction battery 75 kWh".'
    ),
    "codes": (
        'identification.identification.codes: product codes, list of {"key", "value"} '
        '(GTIN, TARIC, ...). Example: [{"key": "TARIC", "value": "8507 60 00 00"}].'
    ),
    "data_carrier": (
        'identification.identification.dataCarrier: {"carrierType", "carrierLayout"}. '
        'Example: {"carrierType": "QR", "carrierLayout": "top cover, front left"}.'
    ),
    "classification": (
        'identification.identification.classification: list of {"classificationStandard", '
        '"classificationID", optional "classificationDescription"}. '
        'Example: [{"classificationStandard": "ECLASS 14.0", "classificationID": "27-04-02-90"}].'
    ),
    "manufacturer_bpnl": (
        "operation.manufacturer.manufacturer when GeneralProductInformation "
        "manufacturerInformation.identifier is not a BPNL: the manufacturer's Catena-X BPNL, "
        '^BPNL[a-zA-Z0-9]{12}$. Example: "BPNL00000003AYRE".'
    ),
    "manufacturing_facility_bpnas": (
        "operation.manufacturer.facility and sustainability.carbonFootprint[].manufacturingPlant"
        " (the footprint is declared per model and manufacturing plant): list of BPNA site ids, "
        '^BPNA[a-zA-Z0-9]{12}$. Example: ["BPNA000000000LHP"].'
    ),
    "economic_operator_bpnl": (
        "metadata.economicOperatorId when context.economic_operator_id (e.g. an LEI) is not a "
        'BPNL: the passport owner\'s BPNL. Example: "BPNL00000007RVTB".'
    ),
    "warranty": (
        'characteristics.warranty: {"lifeValue": number, "lifeUnit": one of unit:day, '
        "unit:month, unit:year, unit:cycle, unit:runningOrOperatingHour}. Wins over "
        "warrentyPeriod, which as a gMonth cannot exceed 12 months. "
        'Example: {"lifeValue": 8, "lifeUnit": "unit:year"}.'
    ),
    "physical_dimensions": (
        'characteristics.physicalDimension height/length/width: {"height"|"length"|"width": '
        '{"value": number, "unit": unit:millimetre|centimetre|metre|kilometre|inch|foot|yard}}. '
        "Weight always comes from batteryMass. "
        'Example: {"length": {"value": 2150, "unit": "unit:millimetre"}}.'
    ),
    "carbon_footprint_rulebook": (
        f"sustainability.carbonFootprint[].rulebook: the calculation rules applied, {_DOCS}. "
        'Example: [{"contentType": "URL", "header": "Delegated Regulation on battery carbon '
        'footprint rules", "content": "https://eur-lex.europa.eu/..."}].'
    ),
    "materials": (
        "materials.*: per-material facts Battery Pass lacks, keyed by CAS number, by lower-case "
        'element name ("cadmium", "mercury", "lead", "nickel", ...) or "*" (any material); '
        "looked up in that order. Fields: documentation (" + _DOCS + ", every material entry); "
        "renewable (percent 0-100, composition entries); recycled (percent 0-100, composition "
        "entries other than Co, Li, Ni, Pb, which come from Circularity.recycledContent); "
        "critical (bool, hazardous substances not in batteryMaterials, and Cd/Hg/Pb); "
        "impactOfSubstances (" + _DOCS + ", Cd/Hg/Pb); concentration (number >= 0), materialUnit "
        "(unit:percent|partPerMillion|...), location (text), for Cd/Hg/Pb only when the document "
        "does not list them; location and critical also for the nickel, lithium and cobalt "
        "slots when batteryMaterials has no row for the element (exported as given). "
        'Example: {"cadmium": {"concentration": 0, "materialUnit": '
        '"unit:partPerMillion", "location": "not present", "critical": false, ...}, '
        '"7782-42-5": {"renewable": 0, "recycled": 0}, "*": {"documentation": [...]}}.'
    ),
    "cycle_life_test": (
        'Cycle-life reference test conditions: {"temperature": degree Celsius, '
        '"depthOfDischarge": percent} -> performance.rated.lifetime.cycleLifeTesting and '
        "performance.rated.roundTripEfficiency.depthOfDischarge. "
        'Example: {"temperature": 25, "depthOfDischarge": 100}.'
    ),
    "idle_temperature_range": (
        'performance.rated.temperature: {"lower", "upper"} in degree Celsius, the range the '
        "battery withstands when not in use (Annex XIII (1)(l)); Battery Pass 1.2.0 has a single "
        'number only. Example: {"lower": -20, "upper": 60}.'
    ),
    "fire_class": (
        "safety.usableExtinguishAgent[].fireClass: fire class(es) of the battery, A, B, C or a "
        'combination; applied to every extinguishing agent. Example: "A, B".'
    ),
    "spare_part_producer_bpnls": (
        "handling.content.producer: {nameOfSupplier as in Circularity.sparePartSources: BPNL}; "
        "only suppliers listed in the document are exported. "
        'Example: {"Volta Pack Services GmbH": "BPNL000000000ZNT"}.'
    ),
    "purpose": (
        'commercial.purpose: intended industries, list of text; Catena-X expects "automotive". '
        'Example: ["automotive"].'
    ),
    "expiration_date": (
        "metadata.expirationDate: until when the passport stays available, date or "
        '"YYYY-MM-DD". Example: "2045-06-30".'
    ),
    "backup_reference": (
        "metadata.backupReference: reference of the back-up copy of the passport (ESPR Annex "
        'III (kb)). Text or URL. Example: "https://backup.example.eu/passports/<uuid>".'
    ),
    "registration_identifier": (
        "metadata.registrationIdentifier (optional): the passport's id in the EU registry. "
        'Text. Example: "EU-DPP-REG-000123".'
    ),
    "declaration_of_conformity_id": (
        "conformity.declarationOfConformityId (optional): number of the EU declaration of "
        'conformity. Text. Example: "DoC-2025-0042".'
    ),
}
