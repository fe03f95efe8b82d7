"""Export of the canonical battery passport as a Catena-X BatteryPass 6.1.0 object.

Modules: ``mapping`` (the table: one row per Catena-X leaf), ``build`` (walks it), ``convert``,
``materials`` and ``performance`` (the converters it names), ``values`` (readers that never
raise), ``context`` (``CatenaXContext``, ``EXTRA_FIELDS``), ``entries`` (the kinds of row).

The canonical document is ``{aspect_name: payload}`` with the seven Battery Pass 1.2.0 aspects
(``GeneralProductInformation``, ``CarbonFootprintForBatteries``, ``Circularity``,
``MaterialComposition``, ``PerformanceAndDurability`` (1.2.0, not 1.2.1), ``Labeling``,
``SupplyChainDueDiligence``). Access tiers may have removed any aspect, key or sub-object, so
every read is defensive: a missing or malformed source value leaves the Catena-X field out and
never raises. ``to_catenax`` never invents a value; a partial document gives a partial (and then
schema-invalid) Catena-X object. Only a malformed ``context.passport_uuid`` or
``context.predecessor_uuid`` raises ``ValueError``: those are our own identifiers, not data.

Sources, in this order of trust:

- the document, for every Catena-X field that has a Battery Pass counterpart;
- ``context`` for ``metadata`` (identifier, predecessor, version, dates, operator, status);
- ``context.extra`` for facts Battery Pass has no attribute for (``EXTRA_FIELDS``). Extra does
  not replace or back-fill an attribute the Battery Pass model carries (so a value an access
  tier removed from the document does not come back through extra), except ``warranty`` (see
  below), the cadmium/mercury/lead facts of extra ``materials``, which Battery Pass's
  hazardousSubstances leaves out by definition, and the location and critical flag of the
  nickel/lithium/cobalt slots when batteryMaterials has no row for the element (an LFP pack holds
  its lithium in a compound). Per-material extra facts attach only to materials the document lists
  (the Catena-X slots aside). The rows of ``mapping.MAPPING`` name the extras each leaf reads.
  Extra values are exported whatever the requester's tier, so give ``to_catenax`` only the
  extra that requester may see (``access.project_extra``, as ``selectors.catenax_export`` does).

Units come from the Battery Pass SAMM models (``samm-c:unit`` in the 1.2.0 ``.ttl`` files of
batterypass/BatteryPassDataModel, commit 4c96de29, the commit the shared schemas come from);
where a unit there contradicts the quantity, the attribute longlist (``attributes.csv``) wins.

Where each leaf of the Catena-X schema comes from (Battery Pass paths, ``context``, model
extras) or why it is not exported is the table in ``mapping.py`` (``MAPPING``), which the export
walks (``build.py``); tests/test_passports_catenax.py checks that it holds every leaf of the
6.1.0 schema once and that exports hold only the leaves it fills. Among the required Catena-X
fields, the model extras fill identification.identification, the BPNA facility (Battery Pass
has only a postal address), the footprint rulebook and plant, the idle temperature range (1.2.0
``temperatureRangeIdleState`` is one number), the cycle-life test conditions, the fire class,
the purpose and the spare-part producers' BPNLs; ``characteristics.warranty`` comes from extra
when given, because ``warrentyPeriod`` is an xsd:gMonth measured in months (per the SAMM model,
``--06`` = 6 months) and cannot hold more than 12 months.

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

from .build import to_catenax
from .context import EXTRA_FIELDS, CatenaXContext
from .convert import CX_SPEC_VERSION
from .entries import MAPPED, MODEL_EXTRA, NOT_EXPORTED, Each, Mapped, ModelExtra, NotExported
from .mapping import ARRAYS, MAPPING

__all__ = [
    "ARRAYS",
    "CX_SPEC_VERSION",
    "EXTRA_FIELDS",
    "MAPPED",
    "MAPPING",
    "MODEL_EXTRA",
    "NOT_EXPORTED",
    "CatenaXContext",
    "Each",
    "Mapped",
    "ModelExtra",
    "NotExported",
    "to_catenax",
]
