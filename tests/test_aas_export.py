"""The Asset Administration Shell export and import (passports/aas.py, IDTA-02035 style):

- the export is a valid AAS v3.0 environment (aas-core3's verification) at every tier;
- a tier sees in it exactly what export/batterypass shows it, nothing restricted;
- an exported environment imports back as a passport equal in every attribute;
- an invalid environment is refused with 400 naming its first error.
"""

import copy
import json

import pytest
from aas_core3 import jsonization, verification
from django.db import connection
from django.test.utils import CaptureQueriesContext

from passports import aas
from passports.catalogue import ASPECTS, ATTRIBUTE_PATHS, values_of
from passports.demo import sample
from passports.models import BatteryPassport

from .passport_fixtures import full_document
from .test_api_passports import restricted_markers

pytestmark = pytest.mark.django_db

SAMPLES = ("nmc811_ev_pack", "lfp_stationary_pack", "repurposed_nmc811_pack")


def get(api, user, url):
    api.force_authenticate(user)
    return api.get(url)


def export(api, user, passport) -> dict:
    response = get(api, user, f"/api/passports/{passport.internal_id}/export/aas/")
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    return response.json()


def verify_errors(jsonable: dict) -> list[str]:
    environment = jsonization.environment_from_jsonable(jsonable)
    return [f"{e.path}: {e.cause}" for e in verification.verify(environment)]


def import_body(world, environment, model=None) -> dict:
    return {
        "battery_model": (model or world.model()).pk,
        "economic_operator": world.operator.pk,
        "environment": environment,
    }


def renamed(environment: dict, identifier: str) -> dict:
    """The environment with another Battery Pass identifier (attribute 1): the registry holds
    one passport per identifier, so a copy imported beside its original needs its own."""
    environment = copy.deepcopy(environment)
    general = next(s for s in environment["submodels"] if s["idShort"] == "GeneralInformation")
    element = next(
        e for e in general["submodelElements"] if e["idShort"] == "batteryPassportIdentifier"
    )
    element["value"] = identifier
    return environment


# --- The export ----------------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLES)
def test_the_aas_export_passes_aas_core3_verification_at_the_public_and_full_tier(api, world, name):
    passport = world.passport(name)
    for user in (None, world.owner):
        environment = export(api, user, passport)
        assert verify_errors(environment) == []


def test_the_aas_export_has_one_shell_for_the_battery_and_a_submodel_per_part(api, world):
    passport = world.passport()
    environment = export(api, world.owner, passport)
    (shell,) = environment["assetAdministrationShells"]
    assert shell["assetInformation"]["globalAssetId"] == passport.batterypass_id
    assert shell["assetInformation"]["assetKind"] == "Instance"
    semantic_ids = [s["semanticId"]["keys"][0]["value"] for s in environment["submodels"]]
    assert semantic_ids == [aas.semantic_id(part) for _, part in aas.SUBMODELS]
    assert [r["keys"][0]["value"] for r in shell["submodels"]] == [
        s["id"] for s in environment["submodels"]
    ]


def test_each_tier_reads_in_the_aas_export_what_its_battery_pass_export_shows(api, world):
    passport = world.passport()
    for tier, user in world.users.items():
        environment = export(api, user, passport)
        batterypass = get(api, user, f"/api/passports/{passport.internal_id}/export/batterypass/")
        read = aas.to_document(aas.read_environment(environment))
        assert read == batterypass.json(), tier


def test_the_public_aas_export_holds_no_restricted_value_anywhere(api, world):
    passport = world.passport()
    markers = restricted_markers(passport.document, passport.public_document)
    assert len(markers) > 20  # the check has teeth
    public_text = json.dumps(export(api, None, passport))
    leaked = [m for m in markers if m in public_text]
    assert not leaked, leaked[:5]
    # A restricted tier sees its own attributes (33: material CAS numbers) but not the
    # authorities' ones.
    legit_text = json.dumps(export(api, world.users["legitimate_interest"], passport))
    assert "7440-48-4" in legit_text and "7440-48-4" not in public_text
    hidden = restricted_markers(
        passport.document,
        aas.to_document(aas.read_environment(json.loads(legit_text))),
    )
    assert hidden  # legitimate interest may not see everything
    assert not [m for m in hidden if m in legit_text]


def test_a_draft_aas_export_answers_like_a_missing_passport(api, world):
    draft = world.passport(publish=False)
    missing = get(api, None, "/api/passports/no-such-passport/export/aas/")
    hidden = get(api, None, f"/api/passports/{draft.internal_id}/export/aas/")
    assert hidden.status_code == missing.status_code == 404
    assert set(hidden.json()) == set(missing.json())


def test_the_aas_export_reads_the_same_number_of_queries_however_big_the_passport(api, world):
    small = world.passport()
    big = world.passport(serial="BIG-1")
    document = copy.deepcopy(big.document)
    rows = document["MaterialComposition"]["batteryMaterials"]
    document["MaterialComposition"]["batteryMaterials"] = rows * 20
    BatteryPassport.objects.filter(pk=big.pk).update(document=document)
    counts = []
    for passport in (small, big):
        api.force_authenticate(world.users["legitimate_interest"])
        api.get(f"/api/passports/{passport.internal_id}/export/aas/")  # warm caches
        with CaptureQueriesContext(connection) as queries:
            response = api.get(f"/api/passports/{passport.internal_id}/export/aas/")
        assert response.status_code == 200
        counts.append(len(queries))
    assert len(json.dumps(response.json())) > 5 * len(json.dumps(export(api, None, small)))
    assert counts[0] == counts[1]


# --- Import back -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["nmc811_ev_pack", "lfp_stationary_pack"])
def test_an_exported_shell_imports_back_as_a_passport_equal_in_every_attribute(api, world, name):
    passport = world.passport(name)
    original = get(api, world.owner, f"/api/passports/{passport.internal_id}/export/batterypass/")
    environment = renamed(export(api, world.owner, passport), "urn:aas:copy0001")
    api.force_authenticate(world.owner)
    response = api.post(
        "/api/passports/import/aas/", import_body(world, environment, world.model(name)), "json"
    )
    assert response.status_code == 201, response.json()
    pid = response.json()["internal_id"]
    assert api.post(f"/api/passports/{pid}/publish/", {}, format="json").status_code == 200
    copied = get(api, world.owner, f"/api/passports/{pid}/export/batterypass/").json()
    for number in ATTRIBUTE_PATHS:
        if number == 1:
            assert values_of(copied, 1) == ["urn:aas:copy0001"]
        else:
            assert values_of(copied, number) == values_of(original.json(), number), number


@pytest.mark.parametrize("name", SAMPLES)
def test_environment_to_document_is_lossless_for_every_sample(name):
    document = sample(name)
    jsonable = json.loads(json.dumps(aas.to_jsonable(document, "urn:example:1")))
    assert aas.to_document(aas.read_environment(jsonable)) == document


def test_json_types_nulls_and_odd_keys_survive_the_round_trip():
    document = {
        "GeneralProductInformation": {
            "none": None,
            "empty": "",
            "flag": False,
            "count": 3,
            "share": 0.1,
            "tiny": 1.5e-07,
            "odd key/1": [1, "x", {"nested": []}, [2.0]],
            "nothing": {},
        }
    }
    environment = aas.to_environment(document, "urn:example:2")
    assert list(verification.verify(environment)) == []
    back = aas.to_document(aas.read_environment(jsonization.to_jsonable(environment)))
    assert back == document
    assert type(back["GeneralProductInformation"]["count"]) is int
    assert type(back["GeneralProductInformation"]["share"]) is float


def test_the_same_shell_imported_twice_is_refused_as_a_conflict(api, world):
    passport = world.passport()
    environment = export(api, world.owner, passport)
    api.force_authenticate(world.owner)
    response = api.post("/api/passports/import/aas/", import_body(world, environment), "json")
    assert response.status_code == 409
    assert passport.batterypass_id in json.dumps(response.json())


def test_an_invalid_environment_is_refused_naming_its_first_error(api, world):
    environment = aas.to_jsonable(full_document(), "urn:example:3")
    environment["submodels"][0]["idShort"] = "1 not an idShort"
    api.force_authenticate(world.owner)
    before = BatteryPassport.objects.count()
    response = api.post("/api/passports/import/aas/", import_body(world, environment), "json")
    assert response.status_code == 400
    (error,) = response.json()["environment"]
    assert "submodels[0].id_short" in error and "ID-short" in error
    broken = api.post(
        "/api/passports/import/aas/",
        import_body(world, {"submodels": [{"modelType": "Submodel"}]}),
        "json",
    )
    assert broken.status_code == 400
    assert "submodels[0]" in broken.json()["environment"][0]
    assert BatteryPassport.objects.count() == before


def test_an_environment_without_battery_passport_submodels_is_refused(api, world):
    environment = aas.to_jsonable(full_document(), "urn:example:4")
    for submodel in environment["submodels"]:
        submodel["semanticId"]["keys"][0]["value"] = "https://example.com/other/1/0"
    api.force_authenticate(world.owner)
    response = api.post("/api/passports/import/aas/", import_body(world, environment), "json")
    assert response.status_code == 400
    assert "semanticId" in response.json()["environment"][0]


def test_an_environment_with_an_invalid_battery_pass_document_lists_its_schema_errors(api, world):
    document = full_document()
    document["GeneralProductInformation"]["batteryMass"] = "heavy"
    environment = aas.to_jsonable(document, "urn:example:5")
    api.force_authenticate(world.owner)
    response = api.post("/api/passports/import/aas/", import_body(world, environment), "json")
    assert response.status_code == 400
    assert any("batteryMass" in e for e in response.json()["document"])


def test_only_the_manufacturers_people_import_a_shell(api, world):
    environment = aas.to_jsonable(full_document(), "urn:example:6")
    api.force_authenticate(world.users["commission"])
    response = api.post("/api/passports/import/aas/", import_body(world, environment), "json")
    assert response.status_code == 403
    assert not BatteryPassport.objects.exists()


def test_every_aspect_has_its_submodel():
    assert sorted(aspect for aspect, _ in aas.SUBMODELS) == sorted(ASPECTS)


@pytest.mark.parametrize("value", ["INF", "NaN", "1e999", "9" * 5000])
def test_a_number_json_cannot_hold_is_refused_naming_where_not_a_500(api, world, value):
    document = {"GeneralProductInformation": {"batteryMass": 1.0}}
    environment = aas.to_jsonable(document, "urn:example:9")
    prop = environment["submodels"][0]["submodelElements"][0]
    prop["valueType"] = "xs:integer" if value.isdigit() else "xs:double"
    prop["value"] = value
    api.force_authenticate(world.owner)
    response = api.post("/api/passports/import/aas/", import_body(world, environment), "json")
    assert response.status_code == 400, response.content[:300]
    (error,) = response.json()["environment"]
    assert "batteryMass" in error or "submodel_elements[0]" in error
