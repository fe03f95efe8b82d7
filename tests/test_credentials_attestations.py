"""A verified attestation's credential (a UNTP Digital Conformity Credential), and its bits
in the revocation and suspension status lists, checked with an independent verifier."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry.models import Attestation
from registry.services import attestation_transition

from .credential_verifier import status_bit, verify_sd_jwt
from .factories import make_attestation, make_company, make_org, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene():
    company = make_company("Refiner SA", stages=("refining",), country="CD")
    owner = make_org("Refiner compliance", company=company)
    return {
        "company": company,
        "owner": owner,
        "member": make_user(owner, "viewer"),
        "reviewer": make_user(None, is_staff=True),
        "outsider": make_user(make_org("Someone else", kind="ngo")),
    }


def get(api, url, user=None):
    api.force_authenticate(user)
    return api.get(url)


def credential(api, attestation, user=None) -> str:
    response = get(api, f"/api/registry/attestations/{attestation.pk}/credential/", user)
    assert response.status_code == 200, response.content
    return response.json()["credential"]


def bits(api, claims) -> dict[str, bool]:
    did = get(api, "/.well-known/did.json").json()
    out = {}
    for entry in claims["credentialStatus"]:
        path = entry["statusListCredential"].split("127.0.0.1:8000", 1)[-1]
        out[entry["statusPurpose"]] = status_bit(get(api, path).content.decode(), did, entry)
    return out


def test_a_verified_attestation_is_a_conformity_credential_that_verifies(api, scene):
    attestation = make_attestation(scene["company"], "irma", scene["owner"], reference="C-42")
    did = get(api, "/.well-known/did.json").json()
    _, claims = verify_sd_jwt(credential(api, attestation), did)
    assert claims["type"] == ["VerifiableCredential", "DigitalConformityCredential"]
    subject = claims["credentialSubject"]
    assert subject["type"] == ["ConformityAttestation", "Attestation"]
    assert subject["issuedToParty"]["name"] == "Refiner SA"
    assert subject["assessment"][0]["referenceStandard"]["code"] == "irma"
    assert subject["assessorLevel"] == "3rdParty"
    assert subject["reference"] == "C-42"
    assert claims["validFrom"] == "2024-01-01T00:00:00Z"
    assert bits(api, claims) == {"revocation": False, "suspension": False}


def test_only_verified_attestations_have_one_and_private_ones_only_for_who_sees_them(api, scene):
    submitted = make_attestation(scene["company"], "irma", scene["owner"], timeline=())
    private = make_attestation(scene["company"], "irma", scene["owner"], visibility="private")
    missing = get(api, "/api/registry/attestations/999999/credential/")
    assert missing.status_code == 404
    for attestation, user in ((submitted, scene["member"]), (private, scene["outsider"])):
        response = get(api, f"/api/registry/attestations/{attestation.pk}/credential/", user)
        assert (response.status_code, response.json()) == (404, missing.json())
    assert credential(api, private, scene["member"])


def test_revocation_suspension_and_expiry_flip_the_bits(api, scene):
    revoked = make_attestation(scene["company"], "irma", scene["owner"])
    suspended = make_attestation(scene["company"], "rmi-rmap", scene["owner"])
    ending = make_attestation(
        scene["company"], "irma", scene["owner"], valid_until=dt.date.today().isoformat()
    )
    did = get(api, "/.well-known/did.json").json()
    claims = {a.pk: verify_sd_jwt(credential(api, a), did)[1] for a in (revoked, suspended, ending)}
    attestation_transition(attestation=revoked, to_status="revoked", user=scene["reviewer"])
    attestation_transition(attestation=suspended, to_status="suspended", user=scene["reviewer"])
    assert bits(api, claims[revoked.pk]) == {"revocation": True, "suspension": False}
    assert bits(api, claims[suspended.pk]) == {"revocation": False, "suspension": True}
    assert bits(api, claims[ending.pk]) == {"revocation": False, "suspension": False}
    Attestation.objects.filter(pk=ending.pk).update(valid_until=dt.date.today() - dt.timedelta(1))
    assert bits(api, claims[ending.pk]) == {"revocation": True, "suspension": False}
    # Suspension is lifted: the same credential is good again.
    attestation_transition(attestation=suspended, to_status="verified", user=scene["reviewer"])
    assert bits(api, claims[suspended.pk]) == {"revocation": False, "suspension": False}
    assert verify_sd_jwt(credential(api, suspended), did)[1] == claims[suspended.pk]


def test_a_changed_attestation_gets_a_new_credential_and_the_old_one_is_revoked(api, scene):
    attestation = make_attestation(scene["company"], "irma", scene["owner"], reference="A")
    did = get(api, "/.well-known/did.json").json()
    _, old = verify_sd_jwt(credential(api, attestation), did)
    Attestation.objects.filter(pk=attestation.pk).update(reference="B")
    _, new = verify_sd_jwt(credential(api, attestation), did)
    assert new["credentialSubject"]["reference"] == "B"
    assert bits(api, old)["revocation"] is True
    assert bits(api, new)["revocation"] is False


@pytest.mark.parametrize("count", [1, 5])
def test_the_attestation_credential_route_reads_a_flat_number_of_queries(api, scene, count):
    attestations = [
        make_attestation(scene["company"], "irma", scene["owner"]) for _ in range(count)
    ]
    for attestation in attestations:
        credential(api, attestation, scene["member"])
    api.force_authenticate(scene["member"])
    for attestation in attestations:
        with CaptureQueriesContext(connection) as queries:
            url = f"/api/registry/attestations/{attestation.pk}/credential/"
            assert api.get(url).status_code == 200
        # the attestation (the requester's membership is cached on the user), its minerals,
        # its credential
        assert len(queries) == 3, [q["sql"] for q in queries]
    with CaptureQueriesContext(connection) as queries:
        assert api.get("/credentials/status/1/suspension").status_code == 200
    assert len(queries) == 1
