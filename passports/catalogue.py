"""Where the 93 Battery Pass attributes live in a canonical passport document.

A passport document is {aspect: payload} for the seven Battery Pass 1.2.0 aspects
(PerformanceAndDurability in its 1.2.0 structure). `ATTRIBUTE_PATHS` maps each attribute
number of the model's attributes.csv to the JSON paths that carry it. A path is
(aspect, key, key, ...), "*" stands for every item of an array, and a path that ends at an
object covers everything below it. Access tiers filter documents by these paths, so every
leaf of every aspect schema is claimed (the check is `claimants(leaf)` over `leaf_paths`).

A leaf is claimed by exactly one attribute, except in `SHARED_PATHS`: there the model
gives one field, or one array of rows told apart by a key, to several attributes (e.g. one
`recycledContent` row per material holds four of the eight recycled-content attributes).
All claimants of a shared path have the same access right, so filtering is unaffected;
`ITEM_SELECTORS` says which rows belong to which attribute and `values_of` applies it.

Pure data and small helpers: no Django imports.
"""

from __future__ import annotations

from typing import Any

ASPECTS: tuple[str, ...] = (
    "GeneralProductInformation",
    "CarbonFootprintForBatteries",
    "Circularity",
    "MaterialComposition",
    "PerformanceAndDurability",
    "Labeling",
    "SupplyChainDueDiligence",
)

# Aspect -> schema file in the interop folder batterypass-1.2.0/ (PerformanceAndDurability:
# the 1.2.0 file, not PerformanceAndDurability121-schema.json).
SCHEMA_FILES: dict[str, str] = {aspect: f"{aspect}-schema.json" for aspect in ASPECTS}

_G = "GeneralProductInformation"
_CF = "CarbonFootprintForBatteries"
_C = "Circularity"
_M = "MaterialComposition"
_L = "Labeling"
_S = "SupplyChainDueDiligence"
_TP = ("PerformanceAndDurability", "batteryTechicalProperties")  # sic, the model's spelling
_BC = ("PerformanceAndDurability", "batteryCondition")

_STAGES = (_CF, "carbonFootprintPerLifecycleStage", "*")
_RECYCLED = (_C, "recycledContent", "*")
_MATERIALS = (_M, "batteryMaterials", "*")
_HAZARDOUS = (_M, "hazardousSubstances", "*")
_LABELS = (_L, "labels", "*")
_SPARES = (_C, "sparePartSources", "*")

# fmt: off
# Number -> paths. For a dynamic attribute the first path is where a new reading goes
# (an object {value, lastUpdate} replaces the old one; a path ending in "*" appends a row).
ATTRIBUTE_PATHS: dict[int, tuple[tuple[str, ...], ...]] = {
    # --- Identifiers and product data (GeneralProductInformation) ---
    1: ((_G, "batteryPassportIdentifier"),),  # Battery passport identifier
    2: ((_G, "productIdentifier"),),  # Battery identifier
    3: ((_G, "operatorInformation"),),  # Operator identifier and information
    4: ((_G, "manufacturerInformation"),),  # Manufacturer identifier and information
    5: ((_G, "manufacturingPlace"),),  # Manufacturing place
    6: ((_G, "manufacturingDate"),),  # Manufacturing date
    7: ((_G, "puttingIntoService"),),  # Date of putting the battery into service
    8: ((_G, "warrentyPeriod"),),  # Warranty period of the battery (sic)
    9: ((_G, "batteryCategory"),),  # Battery category
    10: ((_G, "batteryMass"),),  # Battery mass
    11: ((_G, "batteryStatus"),),  # Battery status
    # --- Symbols, labels and documentation of conformity (Labeling; 15 also Circularity) ---
    12: ((*_LABELS, "labelingSymbol"), (*_LABELS, "labelingSubject")),  # Separate collection symbol
    13: ((*_LABELS, "labelingSymbol"), (*_LABELS, "labelingSubject")),  # Symbols for Cd and Pb
    14: ((*_LABELS, "labelingSymbol"), (*_LABELS, "labelingSubject")),  # Carbon footprint label
    15: ((_C, "safetyMeasures", "extinguishingAgent"),  # Extinguishing agent
         (*_LABELS, "labelingSymbol"), (*_LABELS, "labelingSubject")),
    16: ((*_LABELS, "labelingMeaning"),),  # Meaning of labels and symbols
    17: ((_L, "declarationOfConformity"),),  # EU declaration of conformity
    18: ((_L, "resultOfTestReport"),),  # Results of test reports proving compliance
    # --- Battery carbon footprint (CarbonFootprintForBatteries) ---
    19: ((_CF, "batteryCarbonFootprint"),),  # Battery carbon footprint per functional unit
    20: (_STAGES,),  # Contribution of raw material acquisition and pre-processing
    21: (_STAGES,),  # Contribution of main product production/manufacturing
    22: (_STAGES,),  # Contribution of distribution
    23: (_STAGES,),  # Contribution of end of life and recycling
    24: ((_CF, "carbonFootprintPerformanceClass"),),  # Carbon footprint performance class
    25: ((_CF, "carbonFootprintStudy"),),  # Web link to public carbon footprint study
    27: ((_CF, "absoluteCarbonFootprint"),),  # Absolute battery carbon footprint
    # --- Supply chain due diligence (SupplyChainDueDiligence) ---
    28: ((_S, "supplyChainDueDiligenceReport"),),  # Information of due diligence report
    29: ((_S, "thirdPartyAussurances"),),  # Third party assurances of recognised schemes (sic)
    30: ((_S, "supplyChainIndicies"),),  # Supply chain indices (sic)
    # --- Battery materials and composition (MaterialComposition) ---
    31: ((_M, "batteryChemistry"),),  # Battery chemistry
    32: ((*_MATERIALS, "batteryMaterialName"),  # Critical raw materials (public: which ones)
         (*_MATERIALS, "isCriticalRawMaterial")),
    33: ((*_MATERIALS, "batteryMaterialLocation"),  # Materials in cathode, anode, electrolyte
         (*_MATERIALS, "batteryMaterialIdentifier"),
         (*_MATERIALS, "batteryMaterialMass")),
    34: ((*_HAZARDOUS, "hazardousSubstanceName"),  # Hazardous substances
         (*_HAZARDOUS, "hazardousSubstanceIdentifier"),
         (*_HAZARDOUS, "hazardousSubstanceClass"),
         (*_HAZARDOUS, "hazardousSubstanceConcentration"),
         (*_HAZARDOUS, "hazardousSubstanceLocation")),
    35: ((*_HAZARDOUS, "hazardousSubstanceImpact"),),  # Impact of substances on health, env.
    # --- Circularity and resource efficiency (Circularity) ---
    36: ((_C, "dismantlingAndRemovalInformation"),),  # Dismantling and removal manuals
    37: ((*_SPARES, "components"),),  # Part numbers for components
    38: ((*_SPARES, "nameOfSupplier"),  # Information on sources of spare parts
         (*_SPARES, "addressOfSupplier"),
         (*_SPARES, "emailAddressOfSupplier"),
         (*_SPARES, "supplierWebAddress")),
    39: ((_C, "safetyMeasures", "safetyInstructions"),),  # Safety measures
    40: ((*_RECYCLED, "preConsumerShare"), (*_RECYCLED, "recycledMaterial")),  # Pre-cons. Ni
    41: ((*_RECYCLED, "preConsumerShare"), (*_RECYCLED, "recycledMaterial")),  # Pre-cons. Co
    42: ((*_RECYCLED, "preConsumerShare"), (*_RECYCLED, "recycledMaterial")),  # Pre-cons. Li
    43: ((*_RECYCLED, "preConsumerShare"), (*_RECYCLED, "recycledMaterial")),  # Pre-cons. Pb
    44: ((*_RECYCLED, "postConsumerShare"), (*_RECYCLED, "recycledMaterial")),  # Post-cons. Ni
    45: ((*_RECYCLED, "postConsumerShare"), (*_RECYCLED, "recycledMaterial")),  # Post-cons. Co
    46: ((*_RECYCLED, "postConsumerShare"), (*_RECYCLED, "recycledMaterial")),  # Post-cons. Li
    47: ((*_RECYCLED, "postConsumerShare"), (*_RECYCLED, "recycledMaterial")),  # Post-cons. Pb
    48: ((_C, "renewableContent"),),  # Renewable content share
    49: ((_C, "endOfLifeInformation", "wastePrevention"),),  # End-users: waste prevention
    50: ((_C, "endOfLifeInformation", "separateCollection"),),  # End-users: separate collection
    51: ((_C, "endOfLifeInformation", "informationOnCollection"),),  # Collection, 2nd life, EoL
    # --- Performance and durability (PerformanceAndDurability 1.2.0) ---
    52: ((*_TP, "ratedCapacity"),),  # Rated capacity
    53: ((*_BC, "remainingCapacity"),),  # Remaining capacity
    54: ((*_BC, "capacityFade"),),  # Capacity fade
    55: ((*_TP, "ratedEnergy"),),  # Certified usable battery energy
    56: ((*_BC, "remainingEnergy"),),  # Remaining usable battery energy
    57: ((*_BC, "stateOfCertifiedEnergy"),),  # State of certified energy (SOCE)
    58: ((*_BC, "stateOfCharge"),),  # State of charge (SoC)
    59: ((*_TP, "minimumVoltage"),),  # Minimum voltage
    60: ((*_TP, "maximumVoltage"),),  # Maximum voltage
    61: ((*_TP, "nominalVoltage"),),  # Nominal voltage
    62: ((*_TP, "originalPowerCapability"),),  # Original power capability (at SoC 80 % / 20 %)
    63: ((*_BC, "remainingPowerCapability"),),  # Remaining power capability
    64: ((*_BC, "powerFade"),),  # Power fade
    65: ((*_TP, "ratedMaximumPower"),),  # Maximum permitted battery power
    66: ((*_TP, "powerCapabilityRatio"), (*_TP, "cRate")),  # Ratio nominal power / energy
    67: ((*_TP, "roundtripEfficiency"),),  # Initial round trip energy efficiency
    68: ((*_BC, "roundTripEfficiencyat50PerCentCycleLife"),),  # RTE at 50 % of cycle life
    69: ((*_BC, "remainingRoundTripEnergyEfficiency"),),  # Remaining round trip efficiency
    70: ((*_BC, "roundTripEfficiencyFade"),),  # Energy round trip efficiency fade
    71: ((*_TP, "initialSelfDischarge"),),  # Initial self-discharge rate
    72: ((*_BC, "currentSelfDischargingRate"),),  # Current self-discharge rate
    73: ((*_BC, "evolutionOfSelfDischarge"),),  # Evolution of self-discharge rates
    74: ((*_TP, "initialInternalResistance"),),  # Initial internal resistance (pack/module/cell)
    75: ((*_BC, "internalResistanceIncrease"),),  # Internal resistance increase
    76: ((*_TP, "expectedLifetime"),),  # Expected lifetime in calendar years
    77: ((*_TP, "expectedNumberOfCycles"),),  # Expected lifetime: charge-discharge cycles
    78: ((*_BC, "numberOfFullCycles"),),  # Number of full charging and discharging cycles
    79: ((*_TP, "lifetimeReferenceTest"),),  # Cycle-life reference test
    80: ((*_TP, "cRateLifeCycleTest"),),  # C-rate of relevant cycle-life test
    81: ((*_BC, "energyThroughput"),),  # Energy throughput
    82: ((*_BC, "capacityThroughput"),),  # Capacity throughput
    83: ((*_TP, "capacityThresholdForExhaustion"),),  # Capacity threshold for exhaustion
    84: ((*_BC, "temperatureInformation", "lastUpdate"),),  # Temperature information (see note)
    85: ((*_TP, "temperatureRangeIdleState"),),  # Idle temperature range, lower boundary
    86: ((*_TP, "temperatureRangeIdleState"),),  # Idle temperature range, upper boundary
    87: ((*_BC, "temperatureInformation", "timeExtremeHighTemp"),),  # Time above boundary
    88: ((*_BC, "temperatureInformation", "timeExtremeLowTemp"),),  # Time below boundary
    89: ((*_BC, "temperatureInformation", "timeExtremeHighTempCharging"),),  # Charging, above
    90: ((*_BC, "temperatureInformation", "timeExtremeLowTempCharging"),),  # Charging, below
    91: ((*_BC, "negativeEvents", "*"),),  # Number of deep discharge events
    92: ((*_BC, "negativeEvents", "*"),),  # Number of overcharge events
    93: ((*_BC, "negativeEvents", "*"),),  # Information on accidents
}
# Notes on judgement calls:
# - 32/33: the public attribute 32 gets each material's name and critical-raw-material flag,
#   so the public learns which critical raw materials are present; location, CAS number and
#   mass stay with 33 (legitimate interest and the Commission).
# - 84: 1.2.0 has no field for recorded temperatures, only the time-in-extreme-temperature
#   counters (87-90); 84 gets the timestamp of that record.
# - 85/86: 1.2.0 has one number for the idle temperature range (1.2.1 splits it into
#   minimum/maximum), so both boundaries claim it.
# - 91/92/93: the model keeps all negative events (category 6.7.8) in one free-text log.
# - 66: both `powerCapabilityRatio` and the optional `cRate` describe the ratio of nominal
#   power (W) to energy (Wh); `cRateLifeCycleTest` is 80.

# Attributes that the Battery Pass 1.2.0 aspects do not carry: number -> reason.
UNMAPPED: dict[int, str] = {
    26: "General battery and manufacturer information: a cross-reference (DIN DKE SPEC 99100 "
        "6.3.9 'see 6.1 and 6.2') to attributes 1-18, carried by GeneralProductInformation "
        "and Labeling; the carbon footprint aspect has no field of its own for it.",
}
# fmt: on

# Paths that several attributes claim. Every claimant has the same access right.
SHARED_PATHS: dict[tuple[str, ...], tuple[int, ...]] = {
    (*_LABELS, "labelingSymbol"): (12, 13, 14, 15),  # one label row per subject
    (*_LABELS, "labelingSubject"): (12, 13, 14, 15),
    _STAGES: (20, 21, 22, 23),  # one row per lifecycle stage
    (*_RECYCLED, "recycledMaterial"): (40, 41, 42, 43, 44, 45, 46, 47),  # one row per material
    (*_RECYCLED, "preConsumerShare"): (40, 41, 42, 43),
    (*_RECYCLED, "postConsumerShare"): (44, 45, 46, 47),
    (*_TP, "temperatureRangeIdleState"): (85, 86),  # one number for both boundaries
    (*_BC, "negativeEvents", "*"): (91, 92, 93),  # one free-text event log
}

# Number -> (array path, key, value): of the rows of that array, the attribute's are those
# whose `key` equals `value` (its other paths are not filtered).
ITEM_SELECTORS: dict[int, tuple[tuple[str, ...], str, Any]] = {
    12: ((_L, "labels"), "labelingSubject", "SeparateCollection"),
    13: ((_L, "labels"), "labelingSubject", "HazardousMaterial"),
    14: ((_L, "labels"), "labelingSubject", "CarbonFootPrint"),
    15: ((_L, "labels"), "labelingSubject", "ExtinguishingAgent"),
    20: (_STAGES[:-1], "lifecycleStage", "RawMaterialExtraction"),
    21: (_STAGES[:-1], "lifecycleStage", "MainProduction"),
    22: (_STAGES[:-1], "lifecycleStage", "Distribution"),
    23: (_STAGES[:-1], "lifecycleStage", "Recycling"),
    32: (_MATERIALS[:-1], "isCriticalRawMaterial", True),
    40: (_RECYCLED[:-1], "recycledMaterial", "Nickel"),
    41: (_RECYCLED[:-1], "recycledMaterial", "Cobalt"),
    42: (_RECYCLED[:-1], "recycledMaterial", "Lithium"),
    43: (_RECYCLED[:-1], "recycledMaterial", "Lead"),
    44: (_RECYCLED[:-1], "recycledMaterial", "Nickel"),
    45: (_RECYCLED[:-1], "recycledMaterial", "Cobalt"),
    46: (_RECYCLED[:-1], "recycledMaterial", "Lithium"),
    47: (_RECYCLED[:-1], "recycledMaterial", "Lead"),
}


# --- Helpers -------------------------------------------------------------------------


def _resolve(node: dict, root: dict) -> dict:
    """Follow internal `$ref`s ("#/components/schemas/X") and merge `allOf` properties."""
    while "$ref" in node:
        node = root["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    if "allOf" not in node:
        return node
    merged = {k: v for k, v in node.items() if k != "allOf"}
    properties = dict(merged.get("properties", {}))
    for part in node["allOf"]:
        properties.update(_resolve(part, root).get("properties", {}))
    merged["properties"] = properties
    return merged


def leaf_paths(schema: dict, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Paths of every leaf of a Battery Pass JSON Schema ("*" for array items).

    A leaf is a scalar, or an object without declared properties (e.g. MultiLanguageText).
    Pass the aspect name as `prefix` to get document paths."""

    def walk(node: dict, path: tuple[str, ...]) -> list[tuple[str, ...]]:
        node = _resolve(node, schema)
        if node.get("properties"):
            return [
                leaf
                for key, child in node["properties"].items()
                for leaf in walk(child, (*path, key))
            ]
        if node.get("type") == "array" and "items" in node:
            return walk(node["items"], (*path, "*"))
        return [path]

    return walk(schema, tuple(prefix))


def covers(path: tuple[str, ...], leaf: tuple[str, ...]) -> bool:
    """Whether `path` is `leaf` or one of its ancestors."""
    return leaf[: len(path)] == tuple(path)


def claimants(leaf: tuple[str, ...]) -> tuple[int, ...]:
    """The attributes whose paths cover `leaf` (a document path, aspect first)."""
    return tuple(n for n, paths in ATTRIBUTE_PATHS.items() if any(covers(p, leaf) for p in paths))


def _values_at(node: Any, path: tuple[str, ...]) -> list:
    if not path:
        return [node]
    head, rest = path[0], path[1:]
    if head == "*":
        items = node if isinstance(node, list) else []
        return [v for item in items for v in _values_at(item, rest)]
    if isinstance(node, dict) and head in node:
        return _values_at(node[head], rest)
    return []


def values_of(document: dict, number: int) -> list:
    """The values a document holds for one attribute, keeping only the attribute's own rows
    of arrays listed in `ITEM_SELECTORS` (e.g. only the cobalt row for attribute 41)."""
    selector = ITEM_SELECTORS.get(number)
    values: list = []
    for path in ATTRIBUTE_PATHS.get(number, ()):
        if selector and path[: len(selector[0]) + 1] == (*selector[0], "*"):
            array_path, key, wanted = selector
            rest = path[len(array_path) + 1 :]
            for rows in _values_at(document, array_path):
                for row in rows if isinstance(rows, list) else ():
                    if isinstance(row, dict) and row.get(key) == wanted:
                        values += _values_at(row, rest)
        else:
            values += _values_at(document, path)
    return values
