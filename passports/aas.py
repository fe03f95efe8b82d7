"""Battery passports as an Asset Administration Shell (AAS metamodel v3.0, JSON).

One shell for the battery and one submodel per Battery Pass 1.2.0 aspect, after the parts of
the IDTA-02035 Digital Battery Passport. The semanticIds follow the
https://admin-shell.io/idta/BatteryPassport/<Part>/1/0 pattern: an approximation. The
published IDTA-02035 templates split the passport differently (Digital Nameplate, Handover
Documentation, Product Carbon Footprint, Technical Data, Product Condition, Material
Composition, Circularity) and use their own ids; this registry keeps the Battery Pass aspects
whole so that an exported environment imports back without loss.

Inside a submodel the aspect's JSON maps one to one: an object is a SubmodelElementCollection
(idShort = key), an array a SubmodelElementList, a scalar a Property whose valueType keeps its
JSON type. Pure functions: the document given is already cut to the requester's tier.
"""

from __future__ import annotations

import math

from aas_core3 import jsonization, verification
from aas_core3 import types as aas

# fmt: off
# (Battery Pass aspect, submodel idShort = the part in the semanticId)
SUBMODELS: tuple[tuple[str, str], ...] = (
    ("GeneralProductInformation", "GeneralInformation"),
    ("CarbonFootprintForBatteries", "CarbonFootprint"),
    ("SupplyChainDueDiligence", "SupplyChainDueDiligence"),
    ("MaterialComposition", "BatteryMaterialsAndComposition"),
    ("Circularity", "Circularity"),
    ("PerformanceAndDurability", "PerformanceAndDurability"),
    ("Labeling", "LabelsAndDeclarations"),
)
# fmt: on
SEMANTIC_BASE = "https://admin-shell.io/idta/BatteryPassport"
VERSION = "1/0"

# JSON scalar type -> xs type; bool before int (a bool is an int in Python).
XSD = aas.DataTypeDefXSD
_TO_XSD: tuple[tuple[type, aas.DataTypeDefXSD], ...] = (
    (bool, XSD.BOOLEAN),
    (int, XSD.INTEGER),
    (float, XSD.DOUBLE),
    (str, XSD.STRING),
)
_FROM_XSD = {
    XSD.BOOLEAN: lambda text: text in ("true", "1"),  # xs:boolean also admits 1 and 0
    XSD.INTEGER: int,
    XSD.DOUBLE: float,
    XSD.STRING: str,
}
# A JSON key that is no valid idShort travels in this extension of its element.
KEY_EXTENSION = "jsonKey"


class AasError(ValueError):
    """An environment this registry cannot read back; the message names where."""


def semantic_id(part: str) -> str:
    return f"{SEMANTIC_BASE}/{part}/{VERSION}"


ASPECT_OF_SEMANTIC = {semantic_id(part): aspect for aspect, part in SUBMODELS}


def _global_ref(value: str) -> aas.Reference:
    return aas.Reference(
        aas.ReferenceTypes.EXTERNAL_REFERENCE, [aas.Key(aas.KeyTypes.GLOBAL_REFERENCE, value)]
    )


def _submodel_ref(identifier: str) -> aas.Reference:
    return aas.Reference(
        aas.ReferenceTypes.MODEL_REFERENCE, [aas.Key(aas.KeyTypes.SUBMODEL, identifier)]
    )


# --- document -> environment -------------------------------------------------------------


def _xsd(value) -> aas.DataTypeDefXSD:
    return next((xsd for kind, xsd in _TO_XSD if isinstance(value, kind)), XSD.STRING)


def _text(value) -> str | None:
    if value is None:  # null: a string Property without a value ("" keeps its value)
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def _element(value, key: str | None, semantic: str | None) -> aas.SubmodelElement:
    """`key` None: an item of a list (AASd-120: no idShort there)."""
    named = {} if key is None else _naming(key)
    ref = _global_ref(semantic) if semantic else None
    if isinstance(value, dict):
        children = [
            _element(v, k, f"{semantic}/{k}" if semantic else None) for k, v in value.items()
        ]
        return aas.SubmodelElementCollection(semantic_id=ref, value=children or None, **named)
    if isinstance(value, list):
        return _list(value, semantic, named)
    return aas.Property(_xsd(value), semantic_id=ref, value=_text(value), **named)


def _naming(key: str) -> dict:
    if verification.matches_id_short(key) and len(key) <= 128:
        return {"id_short": key}
    safe = "k_" + "".join(c if c.isalnum() else "_" for c in key)[:100]
    return {"id_short": safe, "extensions": [aas.Extension(KEY_EXTENSION, value=key)]}


def _list(values: list, semantic: str | None, named: dict) -> aas.SubmodelElementList:
    # The items share the list's semanticId (AASd-107/114: the same for every item).
    items = [_element(v, None, semantic) for v in values]
    ref = _global_ref(semantic) if semantic else None
    kinds = {type(item) for item in items}
    value_types = {item.value_type for item in items if isinstance(item, aas.Property)}
    if kinds == {aas.Property} and len(value_types) == 1:
        kind, value_type = aas.AASSubmodelElements.PROPERTY, value_types.pop()
    elif len(kinds) == 1 and aas.Property not in kinds:
        kind, value_type = _LIST_KINDS[kinds.pop()], None
    else:  # mixed (or empty): AASd-108 admits any element under the abstract type
        kind, value_type = aas.AASSubmodelElements.SUBMODEL_ELEMENT, None
    return aas.SubmodelElementList(
        kind,
        semantic_id=ref,
        semantic_id_list_element=ref,
        value_type_list_element=value_type,
        value=items or None,
        **named,
    )


_LIST_KINDS = {
    aas.SubmodelElementCollection: aas.AASSubmodelElements.SUBMODEL_ELEMENT_COLLECTION,
    aas.SubmodelElementList: aas.AASSubmodelElements.SUBMODEL_ELEMENT_LIST,
}


def _submodel(shell_id: str, aspect: str, part: str, payload: dict) -> aas.Submodel:
    semantic = semantic_id(part)
    return aas.Submodel(
        f"{shell_id}/submodels/{part}",
        id_short=part,
        kind=aas.ModellingKind.INSTANCE,
        semantic_id=_global_ref(semantic),
        submodel_elements=[_element(v, k, f"{semantic}/{k}") for k, v in payload.items()] or None,
    )


def to_environment(document: dict, global_asset_id: str) -> aas.Environment:
    """The tier-cut Battery Pass document as an AAS environment: one shell for the battery
    (`global_asset_id`: the passport's identifier), one submodel per aspect present."""
    shell_id = f"{global_asset_id}/aas"
    submodels = [
        _submodel(shell_id, aspect, part, document[aspect])
        for aspect, part in SUBMODELS
        if aspect in document
    ]
    shell = aas.AssetAdministrationShell(
        shell_id,
        aas.AssetInformation(aas.AssetKind.INSTANCE, global_asset_id=global_asset_id),
        id_short="BatteryPassport",
        submodels=[_submodel_ref(s.id) for s in submodels] or None,
    )
    return aas.Environment(asset_administration_shells=[shell], submodels=submodels or None)


def to_jsonable(document: dict, global_asset_id: str) -> dict:
    return jsonization.to_jsonable(to_environment(document, global_asset_id))


# --- environment -> document ---------------------------------------------------------------


def read_environment(jsonable) -> aas.Environment:
    """A JSON environment, deserialized and verified; AasError names the first problem."""
    try:
        environment = jsonization.environment_from_jsonable(jsonable)
    except jsonization.DeserializationException as exc:
        raise AasError(f"{exc.path or '(root)'}: {exc.cause}") from exc
    for error in verification.verify(environment):
        raise AasError(f"{error.path or '(root)'}: {error.cause}")
    return environment


def _key(element: aas.SubmodelElement) -> str:
    for extension in element.extensions or ():
        if extension.name == KEY_EXTENSION and extension.value is not None:
            return extension.value
    return element.id_short


def _value(element: aas.SubmodelElement, where: str):
    if isinstance(element, aas.SubmodelElementCollection):
        return {_key(e): _value(e, f"{where}/{_key(e)}") for e in element.value or ()}
    if isinstance(element, aas.SubmodelElementList):
        return [_value(e, f"{where}/{i}") for i, e in enumerate(element.value or ())]
    if isinstance(element, aas.Property):
        if element.value is None:
            return None
        parse = _FROM_XSD.get(element.value_type)
        if parse is None:
            raise AasError(f"{where}: valueType {element.value_type.value} is not read back")
        try:
            value = parse(element.value)
        except ValueError as exc:  # e.g. an xs:integer past Python's digit limit
            raise AasError(f"{where}: {element.value_type.value} {exc}") from None
        if isinstance(value, float) and not math.isfinite(value):
            # JSON (and the database's jsonb) holds no INF or NaN.
            raise AasError(f"{where}: {element.value!r} is not a finite number")
        return value
    raise AasError(
        f"{where}: a {type(element).__name__} is not read back (Property, "
        "SubmodelElementCollection and SubmodelElementList are)"
    )


def _aspect_of(submodel: aas.Submodel) -> str | None:
    keys = submodel.semantic_id.keys if submodel.semantic_id else ()
    return next((ASPECT_OF_SEMANTIC[k.value] for k in keys if k.value in ASPECT_OF_SEMANTIC), None)


def to_document(environment: aas.Environment) -> dict:
    """The Battery Pass document an environment holds: the submodels with a Battery Passport
    semanticId (others, e.g. a Nameplate of the same asset, are not passport data)."""
    document: dict = {}
    for submodel in environment.submodels or ():
        aspect = _aspect_of(submodel)
        if aspect is None:
            continue
        if aspect in document:
            raise AasError(f"submodels: two submodels for {aspect} ({submodel.id})")
        document[aspect] = {
            _key(e): _value(e, f"{submodel.id_short}/{_key(e)}")
            for e in submodel.submodel_elements or ()
        }
    if not document:
        known = ", ".join(sorted(ASPECT_OF_SEMANTIC))
        raise AasError(f"submodels: none has a Battery Passport semanticId ({known})")
    return document
