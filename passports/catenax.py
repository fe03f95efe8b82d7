"""Export of the canonical battery passport as a Catena-X BatteryPass 6.1.0 object.

The canonical document is ``{aspect_name: payload}`` with the seven Battery Pass 1.2.0 aspects
(``GeneralProductInformation``, ``CarbonFootprintForBatteries``, ``Circularity``,
``MaterialComposition``, ``PerformanceAndDurability`` (1.2.0, not 1.2.1), ``Labeling``,
``SupplyChainDueDiligence``). Access tiers may have removed any aspect, key or sub-object, so
every read is defensive: a missing or malformed source value leaves the Catena-X field out and
never raises. ``to_catenax`` never invents a value; a partial document gives a partial (and then
schema-invalid) Catena-X object. Only a malformed ``context.passport_uuid`` or
``context.predecessor_uuid`` raises ``ValueError``: those are our own identifiers, not data.

Sources, in this order of trust:

- the document, for every Catena-X field that has a Battery Pass counterpart (``CX_SOURCES``);
- ``context`` for ``metadata`` (identifier, predecessor, version, dates, operator, status);
- ``context.extra`` for facts Battery Pass has no attribute for (``EXTRA_FIELDS``). Extra does
  not replace or back-fill an attribute the Battery Pass model carries (so a value an access
  tier removed from the document does not come back through extra), except ``warranty`` (see
  below) and the cadmium/mercury/lead facts of extra ``materials``, which Battery Pass's
  hazardousSubstances leaves out by definition. Per-material extra facts attach only to materials
  the document lists (Cd/Hg/Pb aside). Extra values are exported whatever the requester's tier,
  so give ``to_catenax`` only the extra that requester may see.

Units come from the Battery Pass SAMM models (``samm-c:unit`` in the 1.2.0 ``.ttl`` files of
batterypass/BatteryPassDataModel, commit 4c96de29, the commit the shared schemas come from);
where a unit there contradicts the quantity, the attribute longlist (``attributes.csv``) wins.

Required Catena-X fields with no Battery Pass source (omitted unless ``context``/``extra`` has
them):

- ``metadata.*``: passportIdentifier, predecessor, version, issueDate (context; also the
  optional status and lastModification); economicOperatorId (context, or extra
  ``economic_operator_bpnl``); expirationDate, backupReference (extra).
- ``identification.identification.type`` (manufacturerPartId, nameAtManufacturer), ``.codes``,
  ``.dataCarrier``, ``.classification`` (extra).
- ``operation.manufacturer.facility`` (BPNA; Battery Pass has only a postal address) and
  ``operation.manufacturer.manufacturer`` when ``manufacturerInformation.identifier`` is not a
  BPNL (extra).
- ``characteristics.warranty`` when ``warrentyPeriod`` is absent (extra); extra wins when both
  are there, because ``warrentyPeriod`` is an xsd:gMonth measured in months (per the SAMM model,
  ``--06`` = 6 months) and cannot hold more than 12 months.
- ``sustainability.carbonFootprint[].rulebook`` and ``.manufacturingPlant`` (extra).
- ``materials``: every ``documentation`` list; ``composition[].renewable`` (Battery Pass has only
  a battery-level renewable share); ``composition[].recycled`` for materials other than Co, Li,
  Ni, Pb; ``hazardous.other[].critical`` for substances not in batteryMaterials;
  ``hazardous.cadmium``, ``hazardous.mercury`` and the lead concentration, location, critical
  flag and ``impactOfSubstances`` (Battery Pass hazardousSubstances excludes Hg, Cd and Pb by
  definition) unless the document lists them anyway (all from extra ``materials``).
- ``performance.rated.temperature`` (1.2.0 ``temperatureRangeIdleState`` is a single number, not
  a range), ``rated.roundTripEfficiency.depthOfDischarge``,
  ``rated.lifetime.cycleLifeTesting.temperature`` and ``.depthOfDischarge`` (extra).
- ``safety.usableExtinguishAgent[].fireClass`` (extra ``fire_class``).
- ``commercial.purpose`` (extra); ``handling.content.producer`` (BPNLs of the spare-part
  suppliers, extra).

Mapping judgement calls:

- Category: lmt -> LMT, ev -> EV, industrial -> industrial, stationary -> industrial (a stationary
  battery energy storage system is an industrial battery, Regulation 2023/1542 Art. 3(1)(13)).
  Status: Original/Repurposed/Reused/Remanufactured/Waste -> original/repurposed/re-used/
  remanufactured/waste. Passport status: draft -> draft, published -> approved.
- Chemistry: ``"<clearName> (<shortName>)"``.
- Dates: Battery Pass date-times keep their own calendar date (no time-zone shift).
- ``metadata.passportIdentifier``/``predecessor``: ``urn:uuid:<uuid>``; the Battery Pass
  ``batteryPassportIdentifier`` (``urn:x:y`` without hyphens) is never exported here. With no
  predecessor, the nil UUID is exported: the Catena-X model asks for a dummy value and the nil
  UUID (RFC 9562) is the standard spelling of "no UUID", not a made-up link.
- ``metadata.economicOperatorId`` must match ``^BPNL[a-zA-Z0-9]{12}$``: an LEI or any other id in
  ``context.economic_operator_id`` is not exported; extra ``economic_operator_bpnl`` is used
  instead, else the field is omitted.
- ``metadata.version``: ``"3"`` -> ``"3.0.0"``, ``"3.1"`` -> ``"3.1.0"``; other strings as given.
- Carbon footprint: one entry for ``batteryCarbonFootprint`` (lifecycle "all life cycle stages",
  with the performance class) and one per ``carbonFootprintPerLifecycleStage``
  (RawMaterialExtraction -> "raw material acquisition and pre-processing", MainProduction ->
  "main product production", Distribution -> "distribution", Recycling -> "end of life and
  recycling"); type
  "Climate Change Total", unit "kg CO2e / kWh" (the SAMM unit of both values, although the
  stage entity's description speaks of a "share"); negative values (schema minimum 0) are left
  out. ``carbonFootprintStudy`` is the declaration link (Art. 7(1)(g) makes the study link part
  of the declaration). ``absoluteCarbonFootprint`` (kg) is not exported: Catena-X defines the
  footprint per kWh.
- Recycled content per material = preConsumerShare + postConsumerShare (both are shares of the
  same material, Art. 8(1)); left out if either is missing, the sum exceeds 100, or the material
  appears more than once.
- Concentrations: ``batteryMaterialMass`` is in g, ``batteryMass`` in kg, so a material's
  concentration is mass / (batteryMass * 1000) * 100 ``unit:percent``;
  ``hazardousSubstanceConcentration`` is ``unit:percent`` as given (the SAMM model does not say
  whether it is per product or per component). Materials are matched to the Catena-X slots
  nickel/lithium/cobalt/lead/cadmium/mercury by CAS number or by exact element name; CAS numbers
  are stripped of surrounding blanks (the model's own example has ``"7439-93-2 "``).
- Power: ``ratedMaximumPower`` is kW in the SAMM model -> W. ``powerCapabilityAt`` is taken as W
  (the SAMM unit "percent" contradicts the quantity; the longlist says W). Dynamic
  ``power.remaining`` uses the remaining power capability at 80 % SoC, or the only entry.
  ``remainingCapacity`` is taken as Ah (SAMM says kWh, but it "corresponds with the definition
  of rated capacity"; longlist: Ah).
- The 1.2.0 ``powerFade`` and ``roundTripEfficiencyFade`` have no timestamp; both are defined as
  computed from the remaining power capability / remaining round-trip efficiency, so they get
  the timestamp of that measurement (omitted if it is absent). ``energyThroughput`` has no
  timestamp and is not exported (``energy.throughput`` is optional).
- ``resistance.remaining`` = initial ohmic resistance * (1 + internal resistance increase / 100)
  per component (the Annex IV definition of the increase), with the increase's timestamp.
- ``cRateLifeCycleTest`` (one C-rate for the cycle-life test) fills both appliedChargeRate and
  appliedDischargeRate; ``expectedNumberOfCycles`` fills cycleLifeTesting.cycles.
- Documents are ``{contentType, header, content}``: contentType "URL" for links, "Text" for
  inline text (hazard statements, negative events, label meanings); headers are fixed English
  labels, the dismantling document's MIME type goes into its header. Catena-X caps every header
  at 100 characters (``HeaderTrait``), so longer headers (also those given in extra) are cut
  with an ellipsis; contents are never cut. Each label gives two ``meaningOfLabels`` documents:
  its meaning (English, else the first language given) as text, and its symbol as a link.
  ``RemovalManual`` goes to ``safety.removalFromAppliance``, the other dismantling documents to
  ``safety.dismantling``.
- ``handling.applicable`` is true when the document lists spare-part sources and false when it
  lists none (then both content lists are empty).

Battery Pass attributes with no Catena-X field (not exported): operator/manufacturer names,
postal and e-mail addresses, manufacturingPlace, batteryPassportIdentifier, renewableContent
(battery level), absoluteCarbonFootprint, supplyChainIndicies, cRate, powerCapabilityRatio,
evolutionOfSelfDischarge, temperatureInformation, energyThroughput, the 1.2.0
temperatureRangeIdleState, spare-part supplier contact data.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

CX_SPEC_VERSION = "urn:io.catenax.battery.battery_pass:6.1.0"


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
        'does not list them. Example: {"cadmium": {"concentration": 0, "materialUnit": '
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


# --- Catena-X leaf paths filled from the document -------------------------------------------

GPI = "GeneralProductInformation"
CFP = "CarbonFootprintForBatteries"
CIRC = "Circularity"
MAT = "MaterialComposition"
PERF = "PerformanceAndDurability"
LAB = "Labeling"
SCDD = "SupplyChainDueDiligence"

_DOC_LEAVES = ("contentType", "header", "content")


def _doc_sources(prefix: str, source: str) -> dict[str, str]:
    return {f"{prefix}[].{leaf}": source for leaf in _DOC_LEAVES}


def _measured_sources(prefix: str, value: str, time: str) -> dict[str, str]:
    return {f"{prefix}.value": value, f"{prefix}.time": time}


_TC = f"{PERF}:batteryTechicalProperties"
_BC = f"{PERF}:batteryCondition"
_BM = f"{MAT}:batteryMaterials[]"
_HS = f"{MAT}:hazardousSubstances[]"
_RC = f"{CIRC}:recycledContent[].preConsumerShare + {CIRC}:recycledContent[].postConsumerShare"
_BM_CONC = f"{_BM}.batteryMaterialMass + {GPI}:batteryMass"
_BM_LOC = f"{_BM}.batteryMaterialLocation.componentName"
_BM_CRIT = f"{_BM}.isCriticalRawMaterial"
_HS_CONC = f"{_HS}.hazardousSubstanceConcentration"
_HS_LOC = f"{_HS}.hazardousSubstanceLocation.componentName"
_HS_IMPACT = f"{_HS}.hazardousSubstanceImpact[] + {_HS}.hazardousSubstanceClass"


def _metal_sources(prefix: str, recycled: bool) -> dict[str, str]:
    out = {
        f"{prefix}.concentration": f"{_HS_CONC} + {_BM_CONC}",
        f"{prefix}.materialUnit": f"{_HS_CONC} + {_BM_CONC}",
        f"{prefix}.location": f"{_HS_LOC} + {_BM_LOC}",
        f"{prefix}.critical": _BM_CRIT,
        **_doc_sources(f"{prefix}.impactOfSubstances", _HS_IMPACT),
    }
    if recycled:
        out[f"{prefix}.recycled"] = _RC
    return out


CX_SOURCES: dict[str, str] = {
    "identification.category": f"{GPI}:batteryCategory",
    "identification.idDmc": f"{GPI}:productIdentifier",
    "identification.chemistry": (
        f"{MAT}:batteryChemistry.clearName + {MAT}:batteryChemistry.shortName"
    ),
    "operation.intoServiceDate": f"{GPI}:puttingIntoService",
    "operation.manufacturer.manufacturer": f"{GPI}:manufacturerInformation.identifier",
    "operation.manufacturer.manufacturingDate": f"{GPI}:manufacturingDate",
    "characteristics.warranty.lifeValue": f"{GPI}:warrentyPeriod",
    "characteristics.warranty.lifeUnit": f"{GPI}:warrentyPeriod",
    "characteristics.physicalDimension.weight.value": f"{GPI}:batteryMass",
    "characteristics.physicalDimension.weight.unit": f"{GPI}:batteryMass",
    "sustainability.status": f"{GPI}:batteryStatus",
    **_doc_sources(
        "sustainability.documents.separateCollection",
        f"{CIRC}:endOfLifeInformation.separateCollection",
    ),
    **_doc_sources(
        "sustainability.documents.wastePrevention", f"{CIRC}:endOfLifeInformation.wastePrevention"
    ),
    **{
        f"sustainability.carbonFootprint[].{leaf}": (
            f"{CFP}:batteryCarbonFootprint"
            f" + {CFP}:carbonFootprintPerLifecycleStage[].carbonFootprint"
        )
        for leaf in ("value", "unit", "type")
    },
    "sustainability.carbonFootprint[].lifecycle": (
        f"{CFP}:carbonFootprintPerLifecycleStage[].lifecycleStage"
    ),
    "sustainability.carbonFootprint[].performanceClass": f"{CFP}:carbonFootprintPerformanceClass",
    **_doc_sources("sustainability.carbonFootprint[].declaration", f"{CFP}:carbonFootprintStudy"),
    **{
        f"materials.active.{metal}.{leaf}": source
        for metal in ("nickel", "lithium", "cobalt")
        for leaf, source in (("location", _BM_LOC), ("critical", _BM_CRIT), ("recycled", _RC))
    },
    **_metal_sources("materials.active.lead", recycled=True),
    **_metal_sources("materials.hazardous.lead", recycled=True),
    **_metal_sources("materials.hazardous.cadmium", recycled=False),
    **_metal_sources("materials.hazardous.mercury", recycled=False),
    "materials.hazardous.other[].materialIdentification[].id": (
        f"{_HS}.hazardousSubstanceIdentifier"
    ),
    "materials.hazardous.other[].materialIdentification[].type": (
        f"{_HS}.hazardousSubstanceIdentifier"
    ),
    "materials.hazardous.other[].materialIdentification[].name": f"{_HS}.hazardousSubstanceName",
    "materials.hazardous.other[].concentration": _HS_CONC,
    "materials.hazardous.other[].materialUnit": _HS_CONC,
    "materials.hazardous.other[].location": _HS_LOC,
    "materials.hazardous.other[].critical": _BM_CRIT,
    **_doc_sources("materials.hazardous.other[].impactOfSubstances", _HS_IMPACT),
    "materials.composition[].id[].id": f"{_BM}.batteryMaterialIdentifier",
    "materials.composition[].id[].type": f"{_BM}.batteryMaterialIdentifier",
    "materials.composition[].id[].name": f"{_BM}.batteryMaterialName",
    "materials.composition[].concentration": _BM_CONC,
    "materials.composition[].unit": _BM_CONC,
    "materials.composition[].critical": _BM_CRIT,
    "materials.composition[].location": _BM_LOC,
    "materials.composition[].recycled": _RC,
    "performance.rated.voltage.min": f"{_TC}.minimumVoltage",
    "performance.rated.voltage.max": f"{_TC}.maximumVoltage",
    "performance.rated.voltage.nominal": f"{_TC}.nominalVoltage",
    "performance.rated.roundTripEfficiency.initial": f"{_TC}.roundtripEfficiency",
    "performance.rated.roundTripEfficiency.50PercentLife": (
        f"{_BC}.roundTripEfficiencyat50PerCentCycleLife"
    ),
    "performance.rated.energy.value": f"{_TC}.ratedEnergy",
    **{
        f"performance.rated.resistance.{component}": (
            f"{_TC}.initialInternalResistance[].ohmicResistance"
        )
        for component in ("cell", "module", "pack")
    },
    "performance.rated.power.value": f"{_TC}.ratedMaximumPower",
    "performance.rated.power.at20SoC": f"{_TC}.originalPowerCapability[].powerCapabilityAt",
    "performance.rated.power.at80SoC": f"{_TC}.originalPowerCapability[].powerCapabilityAt",
    "performance.rated.capacity.value": f"{_TC}.ratedCapacity",
    "performance.rated.capacity.thresholdExhaustion": f"{_TC}.capacityThresholdForExhaustion",
    "performance.rated.selfDischargingRate": f"{_TC}.initialSelfDischarge",
    "performance.rated.lifetime.expectedYears": f"{_TC}.expectedLifetime",
    **_doc_sources("performance.rated.lifetime.report", f"{_TC}.lifetimeReferenceTest"),
    "performance.rated.lifetime.cycleLifeTesting.cycles": f"{_TC}.expectedNumberOfCycles",
    "performance.rated.lifetime.cycleLifeTesting.appliedChargeRate": f"{_TC}.cRateLifeCycleTest",
    "performance.rated.lifetime.cycleLifeTesting.appliedDischargeRate": (
        f"{_TC}.cRateLifeCycleTest"
    ),
    **_measured_sources(
        "performance.dynamic.stateOfCharge",
        f"{_BC}.stateOfCharge.stateOfChargeValue",
        f"{_BC}.stateOfCharge.lastUpdate",
    ),
    **_measured_sources(
        "performance.dynamic.fullCycles",
        f"{_BC}.numberOfFullCycles.numberOfFullCyclesValue",
        f"{_BC}.numberOfFullCycles.lastUpdate",
    ),
    "performance.dynamic.selfDischargingRate": (
        f"{_BC}.currentSelfDischargingRate.currentSelfDischargingRateEntity"
    ),
    **_measured_sources(
        "performance.dynamic.power.fade",
        f"{_BC}.powerFade",
        f"{_BC}.remainingPowerCapability[].lastUpdate",
    ),
    **_measured_sources(
        "performance.dynamic.power.remaining",
        f"{_BC}.remainingPowerCapability[].remainingPowerCapabilityValue.powerCapabilityAt",
        f"{_BC}.remainingPowerCapability[].lastUpdate",
    ),
    **_measured_sources(
        "performance.dynamic.capacity.fade",
        f"{_BC}.capacityFade.capacityFadeValue",
        f"{_BC}.capacityFade.lastUpdate",
    ),
    **_measured_sources(
        "performance.dynamic.capacity.throughput",
        f"{_BC}.capacityThroughput.capacityThroughputValue",
        f"{_BC}.capacityThroughput.lastUpdate",
    ),
    **_measured_sources(
        "performance.dynamic.capacity.capacity",
        f"{_BC}.remainingCapacity.remainingCapacityValue",
        f"{_BC}.remainingCapacity.lastUpdate",
    ),
    **_measured_sources(
        "performance.dynamic.roundTripEfficiency.fade",
        f"{_BC}.roundTripEfficiencyFade",
        f"{_BC}.remainingRoundTripEnergyEfficiency.lastUpdate",
    ),
    **_measured_sources(
        "performance.dynamic.roundTripEfficiency.remaining",
        f"{_BC}.remainingRoundTripEnergyEfficiency.remainingRoundTripEnergyEfficiencyValue",
        f"{_BC}.remainingRoundTripEnergyEfficiency.lastUpdate",
    ),
    **{
        path: source
        for component in ("cell", "module", "pack")
        for path, source in {
            **_measured_sources(
                f"performance.dynamic.resistance.increase.{component}",
                f"{_BC}.internalResistanceIncrease[].internalResistanceIncreaseValue",
                f"{_BC}.internalResistanceIncrease[].lastUpdate",
            ),
            **_measured_sources(
                f"performance.dynamic.resistance.remaining.{component}",
                f"{_TC}.initialInternalResistance[].ohmicResistance"
                f" + {_BC}.internalResistanceIncrease[].internalResistanceIncreaseValue",
                f"{_BC}.internalResistanceIncrease[].lastUpdate",
            ),
        }.items()
    },
    **_measured_sources(
        "performance.dynamic.energy.soce",
        f"{_BC}.stateOfCertifiedEnergy.stateOfCertifiedEnergyValue",
        f"{_BC}.stateOfCertifiedEnergy.lastUpdate",
    ),
    **_measured_sources(
        "performance.dynamic.energy.remaining",
        f"{_BC}.remainingEnergy.remainingEnergyalue",
        f"{_BC}.remainingEnergy.lastUpdate",
    ),
    **_doc_sources(
        "performance.dynamic.negativeEvents",
        f"{_BC}.negativeEvents[].negativeEvent + {_BC}.negativeEvents[].lastUpdate",
    ),
    **_doc_sources("conformity.declarationOfConformity", f"{LAB}:declarationOfConformity"),
    **_doc_sources("conformity.resultOfTestReport", f"{LAB}:resultOfTestReport"),
    **_doc_sources("conformity.thirdPartyAssurance", f"{SCDD}:thirdPartyAussurances"),
    **_doc_sources("conformity.dueDiligencePolicy", f"{SCDD}:supplyChainDueDiligenceReport"),
    "safety.usableExtinguishAgent[].media": f"{CIRC}:safetyMeasures.extinguishingAgent[]",
    **_doc_sources("safety.safetyMeasures", f"{CIRC}:safetyMeasures.safetyInstructions"),
    **_doc_sources(
        "safety.meaningOfLabels",
        f"{LAB}:labels[].labelingSymbol + {LAB}:labels[].labelingMeaning"
        f" + {LAB}:labels[].labelingSubject",
    ),
    **_doc_sources(
        "safety.dismantling",
        f"{CIRC}:dismantlingAndRemovalInformation[] (documentType other than RemovalManual)",
    ),
    **_doc_sources(
        "safety.removalFromAppliance",
        f"{CIRC}:dismantlingAndRemovalInformation[] (documentType RemovalManual)",
    ),
    **{
        f"sources[].{leaf}": (
            f"{CIRC}:endOfLifeInformation.informationOnCollection"
            f" + {GPI}:manufacturerInformation.webAddress"
        )
        for leaf in ("content", "category", "type", "header")
    },
    "handling.applicable": f"{CIRC}:sparePartSources",
    "handling.content.sparePart[].manufacturerPartId": (
        f"{CIRC}:sparePartSources[].components[].partNumber"
    ),
    "handling.content.sparePart[].nameAtManufacturer": (
        f"{CIRC}:sparePartSources[].components[].partName"
    ),
}


# --- small readers: never raise, return None for anything missing or malformed --------------

_BPNL = re.compile(r"^BPNL[a-zA-Z0-9]{12}$")
_BPNA = re.compile(r"^BPNA[a-zA-Z0-9]{12}$")
_CAS = re.compile(r"^\d{2,7}-\d{2}-\d$")
_YMD = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?=$|T)")
_GMONTH = re.compile(r"^--(0[1-9]|1[0-2])(Z|[+-]\d{2}:\d{2})?$")
# The xsd:dateTime pattern both models use for measurement timestamps.
_DATETIME = re.compile(
    r"-?([1-9][0-9]{3,}|0[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T(([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?|(24:00:00(\.0+)?))"
    r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))?"
)
_NIL_UUID = "urn:uuid:00000000-0000-0000-0000-000000000000"
_HEADER_MAX = 100

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
_CONCENTRATION_UNITS = {
    "unit:partPerMillion",
    "unit:percent",
    "unit:percentVolume",
    "unit:partPerThousand",
    "unit:partPerTrillionUs",
    "unit:partPerBillionUs",
}


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _dicts(value: Any) -> list[dict]:
    return [item for item in _list(value) if isinstance(item, dict)]


def _str(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _num(value: Any) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _bounded(value: Any, low: float | None = None, high: float | None = None) -> int | float | None:
    number = _num(value)
    if number is None or (low is not None and number < low) or (high is not None and number > high):
        return None
    return number


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _sig(value: float) -> float:
    """A derived number, rounded to 6 significant digits (no spurious float noise)."""
    return float(f"{value:.6g}")


def _obj(pairs: dict[str, Any]) -> dict | None:
    """The pairs whose value is present; None if none is."""
    out = {key: value for key, value in pairs.items() if value is not None}
    return out or None


def _ymd(value: Any) -> str | None:
    """yyyy-mm-dd from a date, a datetime or an ISO date/date-time string (its own date)."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = _str(value)
    match = _YMD.match(text) if text else None
    if not match:
        return None
    try:
        return date(*(int(part) for part in match.groups())).isoformat()
    except ValueError:
        return None


def _timestamp(value: Any) -> str | None:
    text = _str(value)
    return text if text and _DATETIME.fullmatch(text) else None


def _cas(value: Any) -> str | None:
    text = _str(value)
    return text if text and _CAS.match(text) else None


def _bpn(value: Any, pattern: re.Pattern[str]) -> str | None:
    text = _str(value)
    if text is None:
        return None
    text = text.upper()
    return text if pattern.match(text) else None


def _uuid_urn(value: Any, what: str) -> str:
    text = _str(value)
    if text and text.lower().startswith("urn:uuid:"):
        text = text[len("urn:uuid:") :]
    try:
        parsed = uuid.UUID(text or "")
    except ValueError:
        raise ValueError(f"{what} must be a UUID or urn:uuid:<UUID>, got {value!r}") from None
    if str(parsed) != (text or "").lower():  # reject braces, missing hyphens and the like
        raise ValueError(f"{what} must be a UUID or urn:uuid:<UUID>, got {value!r}")
    return f"urn:uuid:{parsed}"


def _caption(text: str) -> str:
    """A document header: Catena-X allows 100 characters (HeaderTrait); longer is cut."""
    return text if len(text) <= _HEADER_MAX else text[: _HEADER_MAX - 1].rstrip() + "\u2026"


def _doc(content_type: str, header: str, content: Any) -> dict | None:
    text = _str(content)
    if not text:
        return None
    return {"contentType": content_type, "header": _caption(header), "content": text}


def _link(url: Any, header: str) -> list[dict] | None:
    doc = _doc("URL", header, url)
    return [doc] if doc else None


def _text_doc(text: Any, header: str) -> dict | None:
    return _doc("Text", header, text)


def _extra_docs(value: Any) -> list[dict] | None:
    docs = []
    for item in _dicts(value):
        content_type, header = _str(item.get("contentType")), _str(item.get("header"))
        doc = _doc(content_type, header, item.get("content")) if content_type and header else None
        if doc and doc not in docs:
            docs.append(doc)
    return docs or None


def _pairs(value: Any, keys: Iterable[str], optional: Iterable[str] = ()) -> list[dict] | None:
    """Objects with all of ``keys`` (text), without duplicates (some lists are uniqueItems)."""
    out = []
    for item in _dicts(value):
        entry = {key: _str(item.get(key)) for key in keys}
        if all(entry.values()):
            entry.update({key: _str(item.get(key)) for key in optional if _str(item.get(key))})
            if entry not in out:
                out.append(entry)
    return out or None


def _join(values: Iterable[str | None]) -> str | None:
    unique = list(dict.fromkeys(value for value in values if value))
    return "; ".join(unique) or None


# --- building blocks -----------------------------------------------------------------------

_CATEGORY = {"lmt": "LMT", "ev": "EV", "industrial": "industrial", "stationary": "industrial"}
_BATTERY_STATUS = {
    "Original": "original",
    "Repurposed": "repurposed",
    "Reused": "re-used",
    "Remanufactured": "remanufactured",
    "Waste": "waste",
}
_PASSPORT_STATUS = {"draft": "draft", "published": "approved"}
_LIFECYCLE = {
    "RawMaterialExtraction": "raw material acquisition and pre-processing",
    "MainProduction": "main product production",
    "Distribution": "distribution",
    "Recycling": "end of life and recycling",
}
_TOTAL_LIFECYCLE = "all life cycle stages"
_CF_UNIT = "kg CO2e / kWh"
_CF_TYPE = "Climate Change Total"
_HAZARD_CLASS = {
    "AcuteToxicity": "acute toxicity",
    "SkinCorrosionOrIrritation": "skin corrosion/irritation",
    "EyeDamageOrIrritation": "serious eye damage/eye irritation",
}
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
# Catena-X material slots: CAS number; also matched by exact English name.
_ELEMENT_CAS = {
    "nickel": "7440-02-0",
    "lithium": "7439-93-2",
    "cobalt": "7440-48-4",
    "lead": "7439-92-1",
    "cadmium": "7440-43-9",
    "mercury": "7439-97-6",
}
_RECYCLED_MATERIAL = {"Nickel": "nickel", "Lithium": "lithium", "Cobalt": "cobalt", "Lead": "lead"}


def _version(value: Any) -> str | None:
    text = _str(value)
    if text is None:
        return None
    if re.fullmatch(r"\d+", text):
        return f"{text}.0.0"
    if re.fullmatch(r"\d+\.\d+", text):
        return f"{text}.0"
    return text


class _Materials:
    """Lookups over MaterialComposition, recycled content and the extra ``materials`` table."""

    def __init__(self, document: dict, extra: dict) -> None:
        composition = _dict(document.get(MAT))
        self.materials = _dicts(composition.get("batteryMaterials"))
        self.hazardous = _dicts(composition.get("hazardousSubstances"))
        self.table = _dict(extra.get("materials"))
        mass = _bounded(_dict(document.get(GPI)).get("batteryMass"), low=0)
        self.battery_mass_g = mass * 1000 if mass else None
        self.recycled = self._recycled_shares(_dict(document.get(CIRC)))

    @staticmethod
    def _recycled_shares(circularity: dict) -> dict[str, float]:
        found: dict[str, list[float | None]] = {}
        for entry in _dicts(circularity.get("recycledContent")):
            element = _RECYCLED_MATERIAL.get(entry.get("recycledMaterial"))
            if element is None:
                continue
            pre = _bounded(entry.get("preConsumerShare"), 0, 100)
            post = _bounded(entry.get("postConsumerShare"), 0, 100)
            total = None if pre is None or post is None else pre + post
            found.setdefault(element, []).append(total)
        return {
            element: _sig(totals[0])
            for element, totals in found.items()
            if len(totals) == 1 and totals[0] is not None and totals[0] <= 100
        }

    @staticmethod
    def element_of(name: Any, cas: str | None) -> str | None:
        label = (_str(name) or "").lower()
        for element, element_cas in _ELEMENT_CAS.items():
            if cas == element_cas or label == element:
                return element
        return None

    def extra(self, keys: Iterable[str | None], name: str) -> Any:
        for key in [*keys, "*"]:
            entry = self.table.get(key) if key else None
            if isinstance(entry, dict) and name in entry:
                return entry[name]
        return None

    def concentration_of(self, material: dict) -> float | None:
        mass = _bounded(material.get("batteryMaterialMass"), low=0)
        if mass is None or not self.battery_mass_g:
            return None
        return _sig(mass / self.battery_mass_g * 100)

    @staticmethod
    def location_of(entry: dict, key: str) -> str | None:
        location = _dict(entry.get(key))
        name, component_id = _str(location.get("componentName")), _str(location.get("componentId"))
        if name and component_id:
            return f"{name} ({component_id})"
        return name

    def by_element(self, entries: list[dict], id_key: str, name_key: str, element: str):
        return [
            entry
            for entry in entries
            if self.element_of(entry.get(name_key), _cas(entry.get(id_key))) == element
        ]

    def critical_by_cas(self, cas: str | None) -> bool | None:
        flags = [
            _bool(material.get("isCriticalRawMaterial"))
            for material in self.materials
            if cas and _cas(material.get("batteryMaterialIdentifier")) == cas
        ]
        flags = [flag for flag in flags if flag is not None]
        return any(flags) if flags else None

    def impacts(self, substance: dict) -> list[dict] | None:
        name = _str(substance.get("hazardousSubstanceName")) or "Hazardous substance"
        hazard = _HAZARD_CLASS.get(substance.get("hazardousSubstanceClass"))
        header = f"{name}: {hazard}" if hazard else name
        docs = [
            _text_doc(text, header) for text in _list(substance.get("hazardousSubstanceImpact"))
        ]
        return [doc for doc in docs if doc] or None

    # Catena-X objects ---------------------------------------------------------------------

    def active(self, element: str) -> dict | None:
        """materials.active.nickel / lithium / cobalt."""
        found = self.by_element(
            self.materials, "batteryMaterialIdentifier", "batteryMaterialName", element
        )
        flags = [_bool(material.get("isCriticalRawMaterial")) for material in found]
        flags = [flag for flag in flags if flag is not None]
        keys = [_ELEMENT_CAS[element], element]
        # Where the document has no material row for the element (an LFP pack holds its
        # lithium in a compound and no nickel or cobalt), the model's declared facts apply.
        return _obj(
            {
                "location": _join(self.location_of(m, "batteryMaterialLocation") for m in found)
                or self.extra(keys, "location"),
                "recycled": self.recycled.get(element),
                "documentation": _extra_docs(self.extra(keys, "documentation")),
                "critical": any(flags) if flags else self.extra(keys, "critical"),
            }
        )

    def heavy_metal(self, element: str, with_recycled: bool) -> dict | None:
        """materials.hazardous.cadmium / mercury / lead and materials.active.lead."""
        keys = [_ELEMENT_CAS[element], element]
        substances = self.by_element(
            self.hazardous, "hazardousSubstanceIdentifier", "hazardousSubstanceName", element
        )
        found = self.by_element(
            self.materials, "batteryMaterialIdentifier", "batteryMaterialName", element
        )
        concentration, unit = None, None
        if len(substances) == 1:
            concentration = _bounded(substances[0].get("hazardousSubstanceConcentration"), low=0)
        elif found and not substances:
            shares = [self.concentration_of(material) for material in found]
            if all(share is not None for share in shares):
                concentration = _sig(sum(shares))
        if concentration is not None:
            unit = "unit:percent"
        elif not substances and not found:  # Battery Pass lists no Hg/Cd/Pb: extra may
            concentration = _bounded(self.extra(keys, "concentration"), low=0)
            unit = self.extra(keys, "materialUnit")
            if unit not in _CONCENTRATION_UNITS or concentration is None:
                concentration, unit = None, None
        location = _join(
            [self.location_of(s, "hazardousSubstanceLocation") for s in substances]
            + [self.location_of(m, "batteryMaterialLocation") for m in found]
        )
        if location is None and not substances and not found:
            location = _str(self.extra(keys, "location"))
        flags = [_bool(material.get("isCriticalRawMaterial")) for material in found]
        flags = [flag for flag in flags if flag is not None]
        critical = any(flags) if flags else _bool(self.extra(keys, "critical"))
        impacts = [doc for substance in substances for doc in self.impacts(substance) or []]
        if not impacts and not substances:
            impacts = _extra_docs(self.extra(keys, "impactOfSubstances"))
        return _obj(
            {
                "impactOfSubstances": impacts or None,
                "critical": critical,
                "documentation": _extra_docs(self.extra(keys, "documentation")),
                "recycled": self.recycled.get(element) if with_recycled else None,
                "location": location,
                "concentration": concentration,
                "materialUnit": unit,
            }
        )

    def hazardous_other(self) -> list[dict] | None:
        out = []
        for substance in self.hazardous:
            cas = _cas(substance.get("hazardousSubstanceIdentifier"))
            name = _str(substance.get("hazardousSubstanceName"))
            if self.element_of(name, cas) in ("cadmium", "mercury", "lead"):
                continue
            keys = [cas, (name or "").lower() or None]
            concentration = _bounded(substance.get("hazardousSubstanceConcentration"), low=0)
            critical = self.critical_by_cas(cas)
            if critical is None:
                critical = _bool(self.extra(keys, "critical"))
            entry = _obj(
                {
                    "impactOfSubstances": self.impacts(substance),
                    "materialUnit": "unit:percent" if concentration is not None else None,
                    "concentration": concentration,
                    "materialIdentification": (
                        [{"type": "CAS", "id": cas, "name": name}] if cas and name else None
                    ),
                    "documentation": _extra_docs(self.extra(keys, "documentation")),
                    "critical": critical,
                    "location": self.location_of(substance, "hazardousSubstanceLocation"),
                }
            )
            if entry:
                out.append(entry)
        return out or None

    def composition(self) -> list[dict] | None:
        out = []
        for material in self.materials:
            cas = _cas(material.get("batteryMaterialIdentifier"))
            name = _str(material.get("batteryMaterialName"))
            keys = [cas, (name or "").lower() or None]
            element = self.element_of(name, cas)
            if element in _RECYCLED_MATERIAL.values():
                recycled = self.recycled.get(element)
            else:
                recycled = _bounded(self.extra(keys, "recycled"), 0, 100)
            concentration = self.concentration_of(material)
            entry = _obj(
                {
                    "id": [{"type": "CAS", "id": cas, "name": name}] if cas and name else None,
                    "concentration": concentration,
                    "unit": "unit:percent" if concentration is not None else None,
                    "critical": _bool(material.get("isCriticalRawMaterial")),
                    "documentation": _extra_docs(self.extra(keys, "documentation")),
                    "recycled": recycled,
                    "location": self.location_of(material, "batteryMaterialLocation"),
                    "renewable": _bounded(self.extra(keys, "renewable"), 0, 100),
                }
            )
            if entry:
                out.append(entry)
        return out or None


def _identification(document: dict, extra: dict) -> dict | None:
    gpi = _dict(document.get(GPI))
    chemistry = _dict(_dict(document.get(MAT)).get("batteryChemistry"))
    clear, short = _str(chemistry.get("clearName")), _str(chemistry.get("shortName"))
    category = gpi.get("batteryCategory")
    return _obj(
        {
            "category": _CATEGORY.get(category.lower()) if isinstance(category, str) else None,
            "idDmc": _str(gpi.get("productIdentifier")),
            "chemistry": f"{clear} ({short})" if clear and short else clear or short,
            "identification": _obj(
                {
                    "type": _obj(
                        {
                            "manufacturerPartId": _str(extra.get("manufacturer_part_id")),
                            "nameAtManufacturer": _str(extra.get("name_at_manufacturer")),
                        }
                    ),
                    "codes": _pairs(extra.get("codes"), ("key", "value")),
                    "dataCarrier": _obj(
                        {
                            key: _str(_dict(extra.get("data_carrier")).get(key))
                            for key in ("carrierType", "carrierLayout")
                        }
                    ),
                    "classification": _pairs(
                        extra.get("classification"),
                        ("classificationStandard", "classificationID"),
                        ("classificationDescription",),
                    ),
                }
            ),
        }
    )


def _facilities(extra: dict) -> list[dict] | None:
    bpnas = [_bpn(value, _BPNA) for value in _list(extra.get("manufacturing_facility_bpnas"))]
    return [{"facility": bpna} for bpna in dict.fromkeys(bpnas) if bpna] or None


def _operation(document: dict, extra: dict) -> dict | None:
    gpi = _dict(document.get(GPI))
    manufacturer = _bpn(_dict(gpi.get("manufacturerInformation")).get("identifier"), _BPNL)
    return _obj(
        {
            "intoServiceDate": _ymd(gpi.get("puttingIntoService")),
            "manufacturer": _obj(
                {
                    "facility": _facilities(extra),
                    "manufacturer": manufacturer or _bpn(extra.get("manufacturer_bpnl"), _BPNL),
                    "manufacturingDate": _ymd(gpi.get("manufacturingDate")),
                }
            ),
        }
    )


def _characteristics(document: dict, extra: dict) -> dict | None:
    gpi = _dict(document.get(GPI))
    given = _dict(extra.get("warranty"))
    warranty = None
    if _num(given.get("lifeValue")) is not None and given.get("lifeUnit") in _WARRANTY_UNITS:
        warranty = {"lifeValue": given["lifeValue"], "lifeUnit": given["lifeUnit"]}
    elif isinstance(gpi.get("warrentyPeriod"), str):
        match = _GMONTH.match(gpi["warrentyPeriod"].strip())
        if match:
            warranty = {"lifeValue": int(match.group(1)), "lifeUnit": "unit:month"}
    mass = _bounded(gpi.get("batteryMass"), low=0)
    dimensions = {}
    for key in ("height", "length", "width"):
        given_dimension = _dict(_dict(extra.get("physical_dimensions")).get(key))
        value, unit = _num(given_dimension.get("value")), given_dimension.get("unit")
        if value is not None and unit in _LENGTH_UNITS:
            dimensions[key] = {"value": value, "unit": unit}
    if mass is not None:
        dimensions["weight"] = {"value": mass, "unit": "unit:kilogram"}
    return _obj({"warranty": warranty, "physicalDimension": dimensions or None})


def _carbon_footprint(document: dict, extra: dict) -> list[dict] | None:
    cfp = _dict(document.get(CFP))
    if not cfp:
        return None
    shared = {
        "rulebook": _extra_docs(extra.get("carbon_footprint_rulebook")),
        "manufacturingPlant": _facilities(extra),
        "declaration": _link(
            cfp.get("carbonFootprintStudy"), "Carbon footprint study (public version)"
        ),
    }
    entries = []
    total = _bounded(cfp.get("batteryCarbonFootprint"), low=0)
    if total is not None:
        entries.append(
            {
                "lifecycle": _TOTAL_LIFECYCLE,
                "value": total,
                "performanceClass": _str(cfp.get("carbonFootprintPerformanceClass")),
            }
        )
    for stage in _dicts(cfp.get("carbonFootprintPerLifecycleStage")):
        lifecycle = _LIFECYCLE.get(stage.get("lifecycleStage"))
        value = _bounded(stage.get("carbonFootprint"), low=0)
        if lifecycle and value is not None:
            entries.append({"lifecycle": lifecycle, "value": value})
    return [
        _obj({**entry, "unit": _CF_UNIT, "type": _CF_TYPE, **shared}) for entry in entries
    ] or None


def _sustainability(document: dict, extra: dict) -> dict | None:
    gpi = _dict(document.get(GPI))
    end_of_life = _dict(_dict(document.get(CIRC)).get("endOfLifeInformation"))
    return _obj(
        {
            "documents": _obj(
                {
                    "separateCollection": _link(
                        end_of_life.get("separateCollection"),
                        "Separate collection of waste batteries (end-user role)",
                    ),
                    "wastePrevention": _link(
                        end_of_life.get("wastePrevention"),
                        "Waste prevention (end-user role)",
                    ),
                }
            ),
            "carbonFootprint": _carbon_footprint(document, extra),
            "status": _BATTERY_STATUS.get(gpi.get("batteryStatus")),
        }
    )


def _materials(document: dict, extra: dict) -> dict | None:
    lookup = _Materials(document, extra)
    active = {element: lookup.active(element) for element in ("nickel", "lithium", "cobalt")}
    active["lead"] = lookup.heavy_metal("lead", with_recycled=True)
    hazardous = {
        "cadmium": lookup.heavy_metal("cadmium", with_recycled=False),
        "mercury": lookup.heavy_metal("mercury", with_recycled=False),
        "lead": lookup.heavy_metal("lead", with_recycled=True),
        "other": lookup.hazardous_other(),
    }
    return _obj(
        {
            "active": _obj(active),
            "hazardous": _obj(hazardous),
            "composition": lookup.composition(),
        }
    )


def _by_component(entries: list[dict], key: str) -> dict[str, dict]:
    """Entries by batteryComponent (pack/module/cell), dropping components listed twice."""
    seen: dict[str, list[dict]] = {}
    for entry in entries:
        component = entry.get("batteryComponent")
        if component in ("pack", "module", "cell") and _num(entry.get(key)) is not None:
            seen.setdefault(component, []).append(entry)
    return {component: found[0] for component, found in seen.items() if len(found) == 1}


def _measured(source: Any, value_key: str) -> dict | None:
    source = _dict(source)
    time = _timestamp(source.get("lastUpdate"))
    return _obj({"value": _num(source.get(value_key)), "time": time})


def _rated(technical: dict, condition: dict, extra: dict) -> dict | None:
    test = _dict(extra.get("cycle_life_test"))
    idle = _dict(extra.get("idle_temperature_range"))
    resistance = _by_component(
        _dicts(technical.get("initialInternalResistance")), "ohmicResistance"
    )
    power_at = {}
    for point in _dicts(technical.get("originalPowerCapability")):
        soc, watt = _num(point.get("atSoC")), _num(point.get("powerCapabilityAt"))
        if soc in (20, 80) and watt is not None:
            power_at.setdefault(soc, []).append(watt)
    max_power_kw = _num(technical.get("ratedMaximumPower"))
    c_rate = _num(technical.get("cRateLifeCycleTest"))
    return _obj(
        {
            "voltage": _obj(
                {
                    "min": _num(technical.get("minimumVoltage")),
                    "max": _num(technical.get("maximumVoltage")),
                    "nominal": _num(technical.get("nominalVoltage")),
                }
            ),
            "roundTripEfficiency": _obj(
                {
                    "depthOfDischarge": _num(test.get("depthOfDischarge")),
                    "initial": _num(technical.get("roundtripEfficiency")),
                    "50PercentLife": _num(condition.get("roundTripEfficiencyat50PerCentCycleLife")),
                }
            ),
            "energy": _obj({"value": _num(technical.get("ratedEnergy"))}),
            "resistance": _obj(
                {component: entry["ohmicResistance"] for component, entry in resistance.items()}
            ),
            "power": _obj(
                {
                    "value": _sig(max_power_kw * 1000) if max_power_kw is not None else None,
                    "at20SoC": power_at[20][0] if len(power_at.get(20, [])) == 1 else None,
                    "at80SoC": power_at[80][0] if len(power_at.get(80, [])) == 1 else None,
                }
            ),
            "capacity": _obj(
                {
                    "value": _num(technical.get("ratedCapacity")),
                    "thresholdExhaustion": _num(technical.get("capacityThresholdForExhaustion")),
                }
            ),
            "temperature": _obj(
                {"lower": _num(idle.get("lower")), "upper": _num(idle.get("upper"))}
            ),
            "selfDischargingRate": _num(technical.get("initialSelfDischarge")),
            "lifetime": _obj(
                {
                    "expectedYears": _num(technical.get("expectedLifetime")),
                    "report": _link(
                        technical.get("lifetimeReferenceTest"), "Cycle-life reference test"
                    ),
                    "cycleLifeTesting": _obj(
                        {
                            "temperature": _num(test.get("temperature")),
                            "cycles": _num(technical.get("expectedNumberOfCycles")),
                            "depthOfDischarge": _num(test.get("depthOfDischarge")),
                            "appliedChargeRate": c_rate,
                            "appliedDischargeRate": c_rate,
                        }
                    ),
                }
            ),
        }
    )


def _remaining_power(condition: dict) -> dict | None:
    """The remaining power capability at 80 % SoC, or the only one recorded."""
    points = _dicts(condition.get("remainingPowerCapability"))
    at_80 = [
        point
        for point in points
        if _num(_dict(point.get("remainingPowerCapabilityValue")).get("atSoC")) == 80
    ]
    chosen = at_80[0] if len(at_80) == 1 else points[0] if len(points) == 1 else None
    if chosen is None:
        return None
    value = _dict(chosen.get("remainingPowerCapabilityValue"))
    return _obj(
        {
            "value": _num(value.get("powerCapabilityAt")),
            "time": _timestamp(chosen.get("lastUpdate")) or _timestamp(value.get("rPCLastUpdated")),
        }
    )


def _dynamic(technical: dict, condition: dict) -> dict | None:
    remaining_power = _remaining_power(condition)
    remaining_rte = _measured(
        condition.get("remainingRoundTripEnergyEfficiency"),
        "remainingRoundTripEnergyEfficiencyValue",
    )
    initial = _by_component(_dicts(technical.get("initialInternalResistance")), "ohmicResistance")
    increase = _by_component(
        _dicts(condition.get("internalResistanceIncrease")), "internalResistanceIncreaseValue"
    )
    increase_measured = {
        component: _obj(
            {
                "value": entry["internalResistanceIncreaseValue"],
                "time": _timestamp(entry.get("lastUpdate")),
            }
        )
        for component, entry in increase.items()
    }
    remaining_resistance = {
        component: _obj(
            {
                "value": _sig(
                    initial[component]["ohmicResistance"]
                    * (1 + entry["internalResistanceIncreaseValue"] / 100)
                ),
                "time": _timestamp(entry.get("lastUpdate")),
            }
        )
        for component, entry in increase.items()
        if component in initial
    }
    events = [
        _text_doc(
            event.get("negativeEvent"),
            f"Negative event, recorded {_timestamp(event.get('lastUpdate')) or 'at unknown time'}",
        )
        for event in _dicts(condition.get("negativeEvents"))
    ]
    self_discharge = _dict(condition.get("currentSelfDischargingRate"))
    return _obj(
        {
            "stateOfCharge": _measured(condition.get("stateOfCharge"), "stateOfChargeValue"),
            "fullCycles": _measured(condition.get("numberOfFullCycles"), "numberOfFullCyclesValue"),
            "selfDischargingRate": _num(self_discharge.get("currentSelfDischargingRateEntity")),
            "power": _obj(
                {
                    "fade": _obj(
                        {
                            "value": _num(condition.get("powerFade")),
                            "time": (remaining_power or {}).get("time"),
                        }
                    ),
                    "remaining": remaining_power,
                }
            ),
            "capacity": _obj(
                {
                    "fade": _measured(condition.get("capacityFade"), "capacityFadeValue"),
                    "throughput": _measured(
                        condition.get("capacityThroughput"), "capacityThroughputValue"
                    ),
                    "capacity": _measured(
                        condition.get("remainingCapacity"), "remainingCapacityValue"
                    ),
                }
            ),
            "roundTripEfficiency": _obj(
                {
                    "fade": _obj(
                        {
                            "value": _num(condition.get("roundTripEfficiencyFade")),
                            "time": (remaining_rte or {}).get("time"),
                        }
                    ),
                    "remaining": remaining_rte,
                }
            ),
            "resistance": _obj(
                {
                    "increase": _obj(increase_measured),
                    "remaining": _obj(remaining_resistance),
                }
            ),
            "energy": _obj(
                {
                    "soce": _measured(
                        condition.get("stateOfCertifiedEnergy"), "stateOfCertifiedEnergyValue"
                    ),
                    # 1.2.0 spells it "remainingEnergyalue".
                    "remaining": _measured(condition.get("remainingEnergy"), "remainingEnergyalue"),
                }
            ),
            "negativeEvents": [event for event in events if event] or None,
        }
    )


def _performance(document: dict, extra: dict) -> dict | None:
    performance = _dict(document.get(PERF))
    technical = _dict(performance.get("batteryTechicalProperties"))
    condition = _dict(performance.get("batteryCondition"))
    return _obj(
        {
            "rated": _rated(technical, condition, extra),
            "dynamic": _dynamic(technical, condition),
        }
    )


def _conformity(document: dict, extra: dict) -> dict | None:
    labeling = _dict(document.get(LAB))
    due_diligence = _dict(document.get(SCDD))
    return _obj(
        {
            "declarationOfConformityId": _str(extra.get("declaration_of_conformity_id")),
            "declarationOfConformity": _link(
                labeling.get("declarationOfConformity"), "EU declaration of conformity"
            ),
            "resultOfTestReport": _link(
                labeling.get("resultOfTestReport"), "Results of test reports proving compliance"
            ),
            "thirdPartyAssurance": _link(
                due_diligence.get("thirdPartyAussurances"),
                "Third-party supply chain assurances",
            ),
            "dueDiligencePolicy": _link(
                due_diligence.get("supplyChainDueDiligenceReport"),
                "Report on the battery due diligence policy",
            ),
        }
    )


def _label_docs(label: dict) -> list[dict]:
    """A label's meaning (English, else the first language) as text, and its symbol as a link."""
    meanings = _dict(label.get("labelingMeaning"))
    meaning = _str(meanings.get("en")) or next(filter(None, map(_str, meanings.values())), None)
    subject = _LABEL_SUBJECT.get(label.get("labelingSubject"), "Label")
    docs = [
        _doc("Text", subject, meaning),
        _doc("URL", f"{subject}: symbol", label.get("labelingSymbol")),
    ]
    return [doc for doc in docs if doc]


def _safety(document: dict, extra: dict) -> dict | None:
    circularity = _dict(document.get(CIRC))
    measures = _dict(circularity.get("safetyMeasures"))
    fire_class = _str(extra.get("fire_class"))
    agents = [
        _obj({"media": media, "fireClass": fire_class})
        for media in dict.fromkeys(map(_str, _list(measures.get("extinguishingAgent"))))
        if media
    ]
    dismantling, removal = [], []
    for item in _dicts(circularity.get("dismantlingAndRemovalInformation")):
        url = _str(item.get("documentURL"))
        if not url:
            continue
        kind = item.get("documentType")
        header = _DISMANTLING_DOC.get(kind, "Dismantling and removal information")
        mime = _str(item.get("mimeType"))
        doc = _doc("URL", f"{header} ({mime})" if mime else header, url)
        (removal if kind == "RemovalManual" else dismantling).append(doc)
    labels = [
        doc
        for label in _dicts(_dict(document.get(LAB)).get("labels"))
        for doc in _label_docs(label)
    ]
    return _obj(
        {
            "usableExtinguishAgent": agents or None,
            "safetyMeasures": _link(
                measures.get("safetyInstructions"), "Safety instructions for handling the battery"
            ),
            "meaningOfLabels": labels or None,
            "dismantling": dismantling or None,
            "removalFromAppliance": removal or None,
        }
    )


def _sources(document: dict) -> list[dict] | None:
    collection = _str(
        _dict(_dict(document.get(CIRC)).get("endOfLifeInformation")).get("informationOnCollection")
    )
    manufacturer = _dict(_dict(document.get(GPI)).get("manufacturerInformation"))
    web = _str(manufacturer.get("webAddress"))
    out = []
    if collection:
        out.append(
            {
                "header": "Collection, take-back, second life and treatment of waste batteries",
                "category": "Return and Disposal",
                "type": "URL",
                "content": collection,
            }
        )
    if web:
        name = _str(manufacturer.get("contactName"))
        out.append(
            {
                "header": _caption(f"Manufacturer: {name}" if name else "Manufacturer"),
                "category": "Manufacturer Information",
                "type": "URL",
                "content": web,
            }
        )
    return out or None


def _metadata(context: CatenaXContext, extra: dict) -> dict:
    predecessor = context.predecessor_uuid
    operator = _bpn(context.economic_operator_id, _BPNL) or _bpn(
        extra.get("economic_operator_bpnl"), _BPNL
    )
    return (
        _obj(
            {
                "backupReference": _str(extra.get("backup_reference")),
                "registrationIdentifier": _str(extra.get("registration_identifier")),
                "economicOperatorId": operator,
                "lastModification": _ymd(context.last_modification),
                "predecessor": (
                    _uuid_urn(predecessor, "predecessor_uuid") if predecessor else _NIL_UUID
                ),
                "issueDate": _ymd(context.issue_date),
                "version": _version(context.version),
                "passportIdentifier": _uuid_urn(context.passport_uuid, "passport_uuid"),
                "status": _PASSPORT_STATUS.get(context.status),
                "expirationDate": _ymd(extra.get("expiration_date")),
            }
        )
        or {}
    )


def _handling(document: dict, extra: dict) -> dict | None:
    suppliers = _dict(document.get(CIRC)).get("sparePartSources")
    if not isinstance(suppliers, list):
        return None
    suppliers = _dicts(suppliers)
    parts = {}
    for supplier in suppliers:
        for component in _dicts(supplier.get("components")):
            number, name = _str(component.get("partNumber")), _str(component.get("partName"))
            if number and name:
                parts.setdefault((number, name), None)
    bpnls = _dict(extra.get("spare_part_producer_bpnls"))
    producers = [
        _bpn(bpnls.get(_str(supplier.get("nameOfSupplier")) or ""), _BPNL) for supplier in suppliers
    ]
    producers = [{"id": bpnl} for bpnl in dict.fromkeys(producers) if bpnl]
    if not suppliers:  # the document lists no spare-part sources
        return {"applicable": False, "content": {"producer": [], "sparePart": []}}
    spare_parts = [
        {"manufacturerPartId": number, "nameAtManufacturer": name} for number, name in parts
    ]
    return _obj(
        {
            "applicable": True,
            "content": _obj({"producer": producers or None, "sparePart": spare_parts or None}),
        }
    )


def to_catenax(document: dict, context: CatenaXContext) -> dict:
    """Map the canonical document to a Catena-X BatteryPass 6.1.0 JSON object.

    Fields without a source are omitted (see the module docstring); a partial document gives a
    partial object. Raises ValueError only for a malformed passport or predecessor UUID.
    """
    document = _dict(document)
    extra = _dict(context.extra)
    purpose = [text for text in map(_str, _list(extra.get("purpose"))) if text]
    sections = {
        "identification": _identification(document, extra),
        "operation": _operation(document, extra),
        "characteristics": _characteristics(document, extra),
        "sustainability": _sustainability(document, extra),
        "materials": _materials(document, extra),
        "performance": _performance(document, extra),
        "conformity": _conformity(document, extra),
        "safety": _safety(document, extra),
        "sources": _sources(document),
        "metadata": _metadata(context, extra),
        "commercial": _obj({"purpose": list(dict.fromkeys(purpose)) or None}),
        "handling": _handling(document, extra),
    }
    return {"specVersion": CX_SPEC_VERSION, **_obj(sections)}
