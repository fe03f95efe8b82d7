"""The Catena-X BatteryPass 6.1.0 mapping: one row for each leaf of the published schema.

A leaf path is dotted, "*" standing for the items of an array ("sources.*.header"). Each leaf
is either
- `Mapped`: its Battery Pass 1.2.0 source paths ("Aspect.key.*.key", as in catalogue.py) or
  passport facts ("context.name"), the converter that reads it, and the model extras that
  override it or fill it in;
- `ModelExtra`: filled only from the battery model's declared extras (EXTRA_FIELDS);
- `NotExported`, with the reason.
An array above exported leaves has a row of its own (`Each`) that gives its elements. The
export is this table walked (build.py); tests/test_passports_catenax.py checks the table
against the schema and the exports against the table.
"""

from __future__ import annotations

from . import convert as c
from . import materials as m
from . import performance as p
from .entries import (
    DOC_LEAVES,
    Each,
    Entry,
    Mapped,
    ModelExtra,
    NotExported,
    bp,
    ctx,
    documents,
    extra,
    item_attr,
    item_key,
    not_exported,
    the_item,
)
from .values import not_negative, number, text, timestamp, ymd

CFP, CIRC, GPI, LAB, MAT, SCDD = c.CFP, c.CIRC, c.GPI, c.LAB, c.MAT, c.SCDD
TC, BC = c.TC, c.BC
MATERIALS, HAZARDOUS, RECYCLED = m.MATERIALS, m.HAZARDOUS, m.RECYCLED
_RECYCLED_SHARES = (f"{RECYCLED}.*.preConsumerShare", f"{RECYCLED}.*.postConsumerShare")
_MASS = (f"{MATERIALS}.*.batteryMaterialMass", f"{GPI}.batteryMass")
_FACILITIES = Each(("extra.manufacturing_facility_bpnas",), c.facilities)

_NO_SERIAL = (
    "Battery Pass 1.2.0 has no serial or batch number apart from productIdentifier, which is "
    "identification.idDmc; the passport's own battery identifier is not given to the export"
)
_NO_TEST_TEMPERATURE = "Battery Pass 1.2.0 gives no test temperature for rated values"
_NO_DOCUMENT = "Battery Pass 1.2.0 has no such document"
_NO_ACTIVE = (
    "Battery Pass 1.2.0 does not say which materials are active: every battery material is in "
    "materials.composition; nickel, lithium, cobalt and lead have their own slots"
)
_FOOTPRINT = (f"{CFP}.batteryCarbonFootprint", f"{CFP}.carbonFootprintPerLifecycleStage.*")
_SOURCES = (
    f"{CIRC}.endOfLifeInformation.informationOnCollection",
    f"{GPI}.manufacturerInformation.webAddress",
)
_REMAINING_POWER = f"{BC}.remainingPowerCapability.*"
_POWER_TIME = (
    f"{_REMAINING_POWER}.lastUpdate",
    f"{_REMAINING_POWER}.remainingPowerCapabilityValue.rPCLastUpdated",
)
_INITIAL = f"{TC}.initialInternalResistance.*"
_INCREASE = f"{BC}.internalResistanceIncrease.*"
_SUBSTANCE_ID = (
    f"{HAZARDOUS}.*.hazardousSubstanceIdentifier",
    f"{HAZARDOUS}.*.hazardousSubstanceName",
)
_MATERIAL_ID = (f"{MATERIALS}.*.batteryMaterialIdentifier", f"{MATERIALS}.*.batteryMaterialName")
_IMPACTS = (f"{HAZARDOUS}.*.hazardousSubstanceImpact", f"{HAZARDOUS}.*.hazardousSubstanceClass")


def _link(path: str, header: str) -> Each:
    return Each((path,), c.links(path, header))


def _measured(path: str, source: str, value_key: str) -> list[tuple[str, Entry]]:
    """A dynamic value with its time: `source.<value_key>` and `source.lastUpdate`."""
    return [
        (f"{path}.value", bp(f"{source}.{value_key}", number)),
        (f"{path}.time", bp(f"{source}.lastUpdate", timestamp)),
    ]


def _identification(path: str, source: tuple[str, str], items) -> list[tuple[str, Entry]]:
    """A CAS identification list: `source` is (identifier, name)."""
    return [
        (path, Each(source, items)),
        (f"{path}.*.type", Mapped(source[:1], c.constant("CAS"))),
        (f"{path}.*.id", Mapped(source[:1], item_attr("id"))),
        (f"{path}.*.name", Mapped(source[1:], item_attr("name"))),
    ]


def _material_docs(path: str, items) -> list[tuple[str, Entry]]:
    return documents(f"{path}.documentation", Each(("extra.materials",), items), "materials")


def _active(element: str) -> list[tuple[str, Entry]]:
    """materials.active.nickel / lithium / cobalt."""
    path = f"materials.active.{element}"
    return [
        (
            f"{path}.location",
            Mapped(
                (*_MATERIAL_ID, f"{MATERIALS}.*.batteryMaterialLocation"),
                m.active_location(element),
                ("materials",),
            ),
        ),
        (f"{path}.recycled", Mapped(_RECYCLED_SHARES, m.recycled(element))),
        *_material_docs(path, m.documentation(element)),
        (
            f"{path}.critical",
            Mapped(
                (*_MATERIAL_ID, f"{MATERIALS}.*.isCriticalRawMaterial"),
                m.active_critical(element),
                ("materials",),
            ),
        ),
    ]


def _metal(path: str, element: str) -> list[tuple[str, Entry]]:
    """materials.active.lead, materials.hazardous.lead / cadmium / mercury."""
    concentration = (
        *_SUBSTANCE_ID,
        f"{HAZARDOUS}.*.hazardousSubstanceConcentration",
        *_MATERIAL_ID,
        *_MASS,
    )
    return [
        *documents(
            f"{path}.impactOfSubstances",
            Each((*_SUBSTANCE_ID, *_IMPACTS), m.metal_impacts(element)),
            fallback=("materials",),
        ),
        (
            f"{path}.critical",
            Mapped(
                (*_MATERIAL_ID, f"{MATERIALS}.*.isCriticalRawMaterial"),
                m.metal_critical(element),
                ("materials",),
            ),
        ),
        *_material_docs(path, m.documentation(element)),
        *(
            [(f"{path}.recycled", Mapped(_RECYCLED_SHARES, m.recycled(element)))]
            if element == "lead"
            else []
        ),
        (
            f"{path}.location",
            Mapped(
                (
                    *_SUBSTANCE_ID,
                    f"{HAZARDOUS}.*.hazardousSubstanceLocation",
                    *_MATERIAL_ID,
                    f"{MATERIALS}.*.batteryMaterialLocation",
                ),
                m.metal_location(element),
                ("materials",),
            ),
        ),
        (
            f"{path}.concentration",
            Mapped(concentration, m.metal_concentration(element), ("materials",)),
        ),
        (f"{path}.materialUnit", Mapped(concentration, m.metal_unit(element), ("materials",))),
    ]


# fmt: off
ROWS: list[tuple[str, Entry]] = [
    ("specVersion", Mapped((), c.constant(c.CX_SPEC_VERSION))),  # the model's own URN

    # --- identification ---
    ("identification.category", bp(f"{GPI}.batteryCategory", c.category)),
    ("identification.idDmc", bp(f"{GPI}.productIdentifier", text)),
    ("identification.chemistry", Mapped(
        (f"{MAT}.batteryChemistry.clearName", f"{MAT}.batteryChemistry.shortName"), c.chemistry)),
    *not_exported("identification.identification.serial", ("*.key", "*.value"), _NO_SERIAL),
    *not_exported("identification.identification.batch", ("*.key", "*.value"), _NO_SERIAL),
    ("identification.identification.type.manufacturerPartId",
     extra("manufacturer_part_id", text)),
    ("identification.identification.type.nameAtManufacturer",
     extra("name_at_manufacturer", text)),
    ("identification.identification.codes", Each(("extra.codes",), c.codes)),
    ("identification.identification.codes.*.key", ModelExtra("codes", item_key("key"))),
    ("identification.identification.codes.*.value", ModelExtra("codes", item_key("value"))),
    ("identification.identification.dataCarrier.carrierType",
     extra("data_carrier.carrierType", text)),
    ("identification.identification.dataCarrier.carrierLayout",
     extra("data_carrier.carrierLayout", text)),
    ("identification.identification.classification",
     Each(("extra.classification",), c.classification)),
    *[
        (f"identification.identification.classification.*.{key}",
         ModelExtra("classification", item_key(key)))
        for key in ("classificationStandard", "classificationID", "classificationDescription")
    ],

    # --- operation ---
    ("operation.intoServiceDate", bp(f"{GPI}.puttingIntoService", ymd)),
    ("operation.manufacturer.facility", _FACILITIES),
    ("operation.manufacturer.facility.*.facility",
     ModelExtra("manufacturing_facility_bpnas", the_item)),
    ("operation.manufacturer.manufacturer", Mapped(
        (f"{GPI}.manufacturerInformation.identifier",), c.manufacturer, ("manufacturer_bpnl",))),
    ("operation.manufacturer.manufacturingDate", bp(f"{GPI}.manufacturingDate", ymd)),

    # --- characteristics ---
    ("characteristics.warranty.lifeValue",
     Mapped((f"{GPI}.warrentyPeriod",), c.warranty_value, ("warranty",))),
    ("characteristics.warranty.lifeUnit",
     Mapped((f"{GPI}.warrentyPeriod",), c.warranty_unit, ("warranty",))),
    *[
        row
        for side in ("height", "length", "width")
        for row in (
            (f"characteristics.physicalDimension.{side}.value",
             ModelExtra("physical_dimensions", c.dimension_value(side))),
            (f"characteristics.physicalDimension.{side}.unit",
             ModelExtra("physical_dimensions", c.dimension_unit(side))),
        )
    ],
    ("characteristics.physicalDimension.weight.value", bp(f"{GPI}.batteryMass", not_negative)),
    ("characteristics.physicalDimension.weight.unit",
     Mapped((f"{GPI}.batteryMass",), c.weight_unit)),

    # --- sustainability ---
    *documents("sustainability.documents.separateCollection", _link(
        f"{CIRC}.endOfLifeInformation.separateCollection",
        "Separate collection of waste batteries (end-user role)")),
    *documents("sustainability.documents.wastePrevention", _link(
        f"{CIRC}.endOfLifeInformation.wastePrevention", "Waste prevention (end-user role)")),
    *not_exported("sustainability.documents.euTaxonomyDisclosureStatement", DOC_LEAVES,
                  _NO_DOCUMENT),
    *not_exported("sustainability.documents.sustainabilityReport", DOC_LEAVES, _NO_DOCUMENT),
    ("sustainability.carbonFootprint", Each(_FOOTPRINT, c.footprints)),
    ("sustainability.carbonFootprint.*.lifecycle", Mapped(
        (_FOOTPRINT[0], f"{_FOOTPRINT[1]}.lifecycleStage"), item_attr("lifecycle"))),
    ("sustainability.carbonFootprint.*.value", Mapped(
        (_FOOTPRINT[0], f"{_FOOTPRINT[1]}.carbonFootprint"), item_attr("value"))),
    ("sustainability.carbonFootprint.*.performanceClass",
     Mapped((f"{CFP}.carbonFootprintPerformanceClass",), c.performance_class)),
    ("sustainability.carbonFootprint.*.unit",
     Mapped(_FOOTPRINT, c.constant(c.CF_UNIT))),
    ("sustainability.carbonFootprint.*.type",
     Mapped(_FOOTPRINT, c.constant(c.CF_TYPE))),
    *documents("sustainability.carbonFootprint.*.rulebook",
               Each(("extra.carbon_footprint_rulebook",), c.rulebook), "carbon_footprint_rulebook"),
    ("sustainability.carbonFootprint.*.manufacturingPlant", _FACILITIES),
    ("sustainability.carbonFootprint.*.manufacturingPlant.*.facility",
     ModelExtra("manufacturing_facility_bpnas", the_item)),
    *documents("sustainability.carbonFootprint.*.declaration", _link(
        f"{CFP}.carbonFootprintStudy", "Carbon footprint study (public version)")),
    ("sustainability.status", bp(f"{GPI}.batteryStatus", c.battery_status)),

    # --- materials ---
    *_active("nickel"),
    *_active("lithium"),
    *_active("cobalt"),
    *_metal("materials.active.lead", "lead"),
    *not_exported("materials.active.other", (
        "*.location", "*.recycled", *(f"*.documentation.{leaf}" for leaf in DOC_LEAVES),
        "*.critical", "*.materialIdentification.*.id", "*.materialIdentification.*.type",
        "*.materialIdentification.*.name",
    ), _NO_ACTIVE),
    *_metal("materials.hazardous.cadmium", "cadmium"),
    *_metal("materials.hazardous.mercury", "mercury"),
    *_metal("materials.hazardous.lead", "lead"),
    ("materials.hazardous.other", Each((HAZARDOUS,), m.other_substances)),
    *documents("materials.hazardous.other.*.impactOfSubstances",
               Each(_IMPACTS, m.substance_impacts)),
    ("materials.hazardous.other.*.materialUnit",
     Mapped((f"{HAZARDOUS}.*.hazardousSubstanceConcentration",), m.substance_unit)),
    ("materials.hazardous.other.*.concentration",
     Mapped((f"{HAZARDOUS}.*.hazardousSubstanceConcentration",), m.substance_concentration)),
    *_identification("materials.hazardous.other.*.materialIdentification", _SUBSTANCE_ID,
                     m.substance_identification),
    *_material_docs("materials.hazardous.other.*", m.substance_documentation),
    ("materials.hazardous.other.*.critical", Mapped(
        (*_SUBSTANCE_ID, *_MATERIAL_ID, f"{MATERIALS}.*.isCriticalRawMaterial"),
        m.substance_critical, ("materials",))),
    ("materials.hazardous.other.*.location",
     Mapped((f"{HAZARDOUS}.*.hazardousSubstanceLocation",), m.substance_location)),
    ("materials.composition", Each((MATERIALS,), m.battery_materials)),
    *_identification("materials.composition.*.id", _MATERIAL_ID, m.material_identification),
    ("materials.composition.*.concentration", Mapped(_MASS, m.material_concentration)),
    ("materials.composition.*.unit", Mapped(_MASS, m.material_unit)),
    ("materials.composition.*.critical",
     Mapped((f"{MATERIALS}.*.isCriticalRawMaterial",), m.material_critical)),
    *_material_docs("materials.composition.*", m.material_documentation),
    ("materials.composition.*.recycled", Mapped(
        (*_MATERIAL_ID, f"{RECYCLED}.*.recycledMaterial", *_RECYCLED_SHARES),
        m.material_recycled, ("materials",))),
    ("materials.composition.*.location",
     Mapped((f"{MATERIALS}.*.batteryMaterialLocation",), m.material_location)),
    ("materials.composition.*.renewable", ModelExtra("materials", m.material_renewable)),

    # --- performance.rated ---
    ("performance.rated.voltage.min", bp(f"{TC}.minimumVoltage", number)),
    ("performance.rated.voltage.max", bp(f"{TC}.maximumVoltage", number)),
    ("performance.rated.voltage.nominal", bp(f"{TC}.nominalVoltage", number)),
    ("performance.rated.voltage.temperature", NotExported(_NO_TEST_TEMPERATURE)),
    ("performance.rated.roundTripEfficiency.depthOfDischarge",
     extra("cycle_life_test.depthOfDischarge", number)),
    ("performance.rated.roundTripEfficiency.initial", bp(f"{TC}.roundtripEfficiency", number)),
    ("performance.rated.roundTripEfficiency.50PercentLife",
     bp(f"{BC}.roundTripEfficiencyat50PerCentCycleLife", number)),
    ("performance.rated.roundTripEfficiency.temperature", NotExported(_NO_TEST_TEMPERATURE)),
    ("performance.rated.energy.value", bp(f"{TC}.ratedEnergy", number)),
    ("performance.rated.energy.temperature", NotExported(_NO_TEST_TEMPERATURE)),
    *[
        (f"performance.rated.resistance.{component}", Mapped(
            (f"{_INITIAL}.ohmicResistance", f"{_INITIAL}.batteryComponent"),
            p.rated_resistance(component)))
        for component in ("pack", "module", "cell")
    ],
    ("performance.rated.resistance.temperature", NotExported(_NO_TEST_TEMPERATURE)),
    ("performance.rated.power.value", bp(f"{TC}.ratedMaximumPower", p.watt)),
    *[
        (f"performance.rated.power.at{soc}SoC", Mapped(
            (f"{TC}.originalPowerCapability.*.powerCapabilityAt",
             f"{TC}.originalPowerCapability.*.atSoC"),
            p.power_at(soc)))
        for soc in (20, 80)
    ],
    ("performance.rated.power.temperature", NotExported(_NO_TEST_TEMPERATURE)),
    ("performance.rated.capacity.value", bp(f"{TC}.ratedCapacity", number)),
    ("performance.rated.capacity.thresholdExhaustion",
     bp(f"{TC}.capacityThresholdForExhaustion", number)),
    ("performance.rated.capacity.temperature", NotExported(_NO_TEST_TEMPERATURE)),
    *not_exported("performance.rated.performanceDocument", DOC_LEAVES, _NO_DOCUMENT),
    ("performance.rated.temperature.lower", extra("idle_temperature_range.lower", number)),
    ("performance.rated.temperature.upper", extra("idle_temperature_range.upper", number)),
    ("performance.rated.selfDischargingRate", bp(f"{TC}.initialSelfDischarge", number)),
    *not_exported("performance.rated.testReport", DOC_LEAVES,
                  "Battery Pass 1.2.0 has one test document, the cycle-life reference test: "
                  "performance.rated.lifetime.report"),
    ("performance.rated.lifetime.expectedYears", bp(f"{TC}.expectedLifetime", number)),
    *documents("performance.rated.lifetime.report",
               _link(f"{TC}.lifetimeReferenceTest", "Cycle-life reference test")),
    ("performance.rated.lifetime.cycleLifeTesting.temperature",
     extra("cycle_life_test.temperature", number)),
    ("performance.rated.lifetime.cycleLifeTesting.cycles",
     bp(f"{TC}.expectedNumberOfCycles", number)),
    ("performance.rated.lifetime.cycleLifeTesting.depthOfDischarge",
     extra("cycle_life_test.depthOfDischarge", number)),
    ("performance.rated.lifetime.cycleLifeTesting.appliedChargeRate",
     bp(f"{TC}.cRateLifeCycleTest", number)),
    ("performance.rated.lifetime.cycleLifeTesting.appliedDischargeRate",
     bp(f"{TC}.cRateLifeCycleTest", number)),

    # --- performance.dynamic ---
    *_measured("performance.dynamic.stateOfCharge", f"{BC}.stateOfCharge", "stateOfChargeValue"),
    *_measured("performance.dynamic.fullCycles", f"{BC}.numberOfFullCycles",
               "numberOfFullCyclesValue"),
    *not_exported("performance.dynamic.performanceDocument", DOC_LEAVES, _NO_DOCUMENT),
    ("performance.dynamic.selfDischargingRate",
     bp(f"{BC}.currentSelfDischargingRate.currentSelfDischargingRateEntity", number)),
    ("performance.dynamic.power.fade.value", bp(f"{BC}.powerFade", number)),
    # powerFade has no time of its own: it is computed from the remaining power capability.
    ("performance.dynamic.power.fade.time", Mapped(_POWER_TIME, p.remaining_power_time)),
    ("performance.dynamic.power.remaining.value", Mapped(
        (f"{_REMAINING_POWER}.remainingPowerCapabilityValue.powerCapabilityAt",
         f"{_REMAINING_POWER}.remainingPowerCapabilityValue.atSoC"),
        p.remaining_power)),
    ("performance.dynamic.power.remaining.time", Mapped(_POWER_TIME, p.remaining_power_time)),
    *_measured("performance.dynamic.capacity.fade", f"{BC}.capacityFade", "capacityFadeValue"),
    *_measured("performance.dynamic.capacity.throughput", f"{BC}.capacityThroughput",
               "capacityThroughputValue"),
    *_measured("performance.dynamic.capacity.capacity", f"{BC}.remainingCapacity",
               "remainingCapacityValue"),
    ("performance.dynamic.roundTripEfficiency.fade.value",
     bp(f"{BC}.roundTripEfficiencyFade", number)),
    # The same for roundTripEfficiencyFade and the remaining round trip efficiency.
    ("performance.dynamic.roundTripEfficiency.fade.time",
     bp(f"{BC}.remainingRoundTripEnergyEfficiency.lastUpdate", timestamp)),
    *_measured("performance.dynamic.roundTripEfficiency.remaining",
               f"{BC}.remainingRoundTripEnergyEfficiency",
               "remainingRoundTripEnergyEfficiencyValue"),
    *[
        row
        for component in ("pack", "module", "cell")
        for row in (
            (f"performance.dynamic.resistance.increase.{component}.value", Mapped(
                (f"{_INCREASE}.internalResistanceIncreaseValue", f"{_INCREASE}.batteryComponent"),
                p.resistance_increase(component))),
            (f"performance.dynamic.resistance.increase.{component}.time", Mapped(
                (f"{_INCREASE}.lastUpdate", f"{_INCREASE}.batteryComponent"),
                p.resistance_increase_time(component))),
        )
    ],
    *[
        row
        for component in ("pack", "module", "cell")
        for row in (
            (f"performance.dynamic.resistance.remaining.{component}.value", Mapped(
                (f"{_INITIAL}.ohmicResistance", f"{_INCREASE}.internalResistanceIncreaseValue"),
                p.remaining_resistance(component))),
            (f"performance.dynamic.resistance.remaining.{component}.time", Mapped(
                (f"{_INCREASE}.lastUpdate", f"{_INITIAL}.ohmicResistance"),
                p.remaining_resistance_time(component))),
        )
    ],
    *_measured("performance.dynamic.energy.soce", f"{BC}.stateOfCertifiedEnergy",
               "stateOfCertifiedEnergyValue"),
    # 1.2.0 spells it "remainingEnergyalue".
    *_measured("performance.dynamic.energy.remaining", f"{BC}.remainingEnergy",
               "remainingEnergyalue"),
    *not_exported("performance.dynamic.energy.throughput", ("time", "value"),
                  "1.2.0 energyThroughput has no timestamp, which Catena-X requires with "
                  "the value (energy.throughput itself is optional)"),
    *documents("performance.dynamic.negativeEvents", Each(
        (f"{BC}.negativeEvents.*.negativeEvent", f"{BC}.negativeEvents.*.lastUpdate"),
        p.negative_events)),
    *not_exported("performance.dynamic.operatingEnvironment", DOC_LEAVES,
                  "Battery Pass 1.2.0 temperatureInformation is a set of counters, not a "
                  "document"),

    # --- conformity ---
    ("conformity.declarationOfConformityId", extra("declaration_of_conformity_id", text)),
    *documents("conformity.declarationOfConformity", _link(
        f"{LAB}.declarationOfConformity", "EU declaration of conformity")),
    *documents("conformity.resultOfTestReport", _link(
        f"{LAB}.resultOfTestReport", "Results of test reports proving compliance")),
    *documents("conformity.thirdPartyAssurance", _link(
        f"{SCDD}.thirdPartyAussurances", "Third-party supply chain assurances")),
    *documents("conformity.dueDiligencePolicy", _link(
        f"{SCDD}.supplyChainDueDiligenceReport", "Report on the battery due diligence policy")),

    # --- safety ---
    ("safety.usableExtinguishAgent",
     Each((f"{CIRC}.safetyMeasures.extinguishingAgent",), c.extinguishing_agents)),
    *not_exported("safety.usableExtinguishAgent.*.document", DOC_LEAVES, _NO_DOCUMENT),
    ("safety.usableExtinguishAgent.*.media",
     Mapped((f"{CIRC}.safetyMeasures.extinguishingAgent",), the_item)),
    ("safety.usableExtinguishAgent.*.fireClass", extra("fire_class", text)),
    *documents("safety.safetyMeasures", _link(
        f"{CIRC}.safetyMeasures.safetyInstructions",
        "Safety instructions for handling the battery")),
    *documents("safety.meaningOfLabels", Each(
        (f"{LAB}.labels.*.labelingMeaning", f"{LAB}.labels.*.labelingSymbol",
         f"{LAB}.labels.*.labelingSubject"), c.label_docs)),
    *not_exported("safety.safeDischarging", DOC_LEAVES, _NO_DOCUMENT),
    *documents("safety.dismantling", Each(
        (f"{CIRC}.dismantlingAndRemovalInformation",), c.dismantling_docs)),
    *documents("safety.removalFromAppliance", Each(
        (f"{CIRC}.dismantlingAndRemovalInformation",), c.removal_docs)),

    # --- sources ---
    ("sources", Each(_SOURCES, c.sources)),
    ("sources.*.header", Mapped(
        (*_SOURCES, f"{GPI}.manufacturerInformation.contactName"), item_attr("header"))),
    ("sources.*.category", Mapped(_SOURCES, item_attr("category"))),
    ("sources.*.type", Mapped(_SOURCES, c.constant("URL"))),
    ("sources.*.content", Mapped(_SOURCES, item_attr("content"))),

    # --- metadata: the passport's own facts ---
    ("metadata.backupReference", extra("backup_reference", text)),
    ("metadata.registrationIdentifier", extra("registration_identifier", text)),
    ("metadata.economicOperatorId", Mapped(
        ("context.economic_operator_id",), c.economic_operator, ("economic_operator_bpnl",))),
    ("metadata.lastModification", ctx("last_modification", ymd)),
    ("metadata.predecessor", ctx("predecessor_uuid", c.predecessor)),
    ("metadata.issueDate", ctx("issue_date", ymd)),
    ("metadata.version", ctx("version", c.version)),
    ("metadata.passportIdentifier", ctx("passport_uuid", c.passport_identifier)),
    ("metadata.status", ctx("status", c.passport_status)),
    ("metadata.expirationDate", extra("expiration_date", ymd)),

    # --- commercial ---
    ("commercial.placedOnMarket", NotExported(
        "Battery Pass 1.2.0 has no date of placing on the market (puttingIntoService is "
        "operation.intoServiceDate)")),
    ("commercial.purpose", Each(("extra.purpose",), c.purposes)),
    ("commercial.purpose.*", ModelExtra("purpose", the_item)),

    # --- handling ---
    ("handling.applicable", Mapped((f"{CIRC}.sparePartSources",), c.handling_applicable)),
    ("handling.content.producer", Each(
        (f"{CIRC}.sparePartSources.*.nameOfSupplier", "extra.spare_part_producer_bpnls"),
        c.spare_part_producers)),
    ("handling.content.producer.*.id", ModelExtra("spare_part_producer_bpnls", the_item)),
    ("handling.content.sparePart", Each(
        (f"{CIRC}.sparePartSources.*.components",), c.spare_parts)),
    ("handling.content.sparePart.*.manufacturerPartId",
     Mapped((f"{CIRC}.sparePartSources.*.components.*.partNumber",), item_attr("number"))),
    ("handling.content.sparePart.*.nameAtManufacturer",
     Mapped((f"{CIRC}.sparePartSources.*.components.*.partName",), item_attr("name"))),
]
# fmt: on


def _table(rows: list[tuple[str, Entry]]) -> dict[str, Entry]:
    table: dict[str, Entry] = {}
    for path, entry in rows:
        if path in table:
            raise ValueError(f"Catena-X mapping: {path} is in the table twice")
        table[path] = entry
    return table


TABLE = _table(ROWS)
# Leaf path -> how it is filled; array path -> where its elements come from.
MAPPING: dict[str, Mapped | ModelExtra | NotExported] = {
    path: entry for path, entry in TABLE.items() if not isinstance(entry, Each)
}
ARRAYS: dict[str, Each] = {path: entry for path, entry in TABLE.items() if isinstance(entry, Each)}
