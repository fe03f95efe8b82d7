"""A passport's credential: one signature per version, each tier receives only its own
disclosures, and all of it verifies with another JOSE library than the one that signs."""

from __future__ import annotations

import base64
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from credentials.keys import new_key_set
from credentials.models import IssuedCredential
from passports import services
from passports.models import BatteryStatus

from .credential_verifier import Rejected, status_bit, verify_sd_jwt

pytestmark = pytest.mark.django_db

TIERS = ("public", "legitimate_interest", "commission", "authority", "owner")


def new_version(world, passport):
    """A second published version (the battery is reused: a status change)."""
    revised = services.passport_revise(
        passport=passport, data={}, user=world.owner, battery_status=BatteryStatus.REUSED
    )
    assert revised.version == passport.version + 1


def credential_of(api, passport, user=None) -> dict:
    api.force_authenticate(user)
    response = api.get(f"/api/passports/{passport.internal_id}/credential/")
    assert response.status_code == 200, response.content
    return response.json()


def did(api) -> dict:
    response = api.get("/.well-known/did.json")
    assert response.status_code == 200
    return response.json()


def detail_document(api, passport, user) -> dict:
    api.force_authenticate(user)
    document = api.get(f"/api/passports/{passport.internal_id}/").json()["document"]
    return {aspect: payload for aspect, payload in document.items() if payload}


def _leaves(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for value in node:
            yield from _leaves(value, (*path, "*"))
    else:
        yield path


def test_each_tier_receives_a_credential_that_verifies_and_holds_exactly_what_it_may_see(
    api, world
):
    passport = world.passport()
    document = did(api)
    seen = {}
    for tier in TIERS:
        user = world.users[tier]
        answer = credential_of(api, passport, user)
        header, claims = verify_sd_jwt(answer["credential"], document)
        assert header["kid"].startswith(document["id"] + "#")
        assert claims["type"] == ["VerifiableCredential", "DigitalProductPassport"]
        assert claims["issuer"]["id"] == document["id"]
        assert claims["credentialSubject"]["id"] == f"urn:uuid:{passport.uuid}"
        assert claims["credentialSubject"]["batteryPass"] == detail_document(api, passport, user)
        assert answer["tier"] == tier
        seen[tier] = set(_leaves(claims["credentialSubject"]["batteryPass"]))
    # Wider tiers see more, and what the public sees every tier sees.
    assert seen["public"] < seen["legitimate_interest"] < seen["owner"]
    assert seen["public"] < seen["authority"] < seen["owner"]
    assert not seen["authority"] >= seen["legitimate_interest"]


def test_one_signature_per_version_every_tier_shares_it(api, world):
    passport = world.passport()
    tokens = {
        credential_of(api, passport, world.users[tier])["credential"].split("~")[0]
        for tier in TIERS
    }
    assert len(tokens) == 1
    assert IssuedCredential.objects.count() == 1


def _digest_only(node, path=""):
    """Objects (and array items) of a signed payload holding nothing but digests."""
    if isinstance(node, dict):
        if set(node) == {"_sd"}:
            yield path
        for key, value in node.items():
            if key != "_sd":
                yield from _digest_only(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _digest_only(value, f"{path}[{index}]")


def test_what_the_public_may_not_see_is_absent_and_cannot_be_counted(api, world):
    passport = world.passport()
    public = credential_of(api, passport)["credential"]
    recycler = credential_of(api, passport, world.users["legitimate_interest"])["credential"]
    owner = credential_of(api, passport, world.owner)["credential"]
    assert public.split("~")[1:-1] == []  # restricted attributes only travel as disclosures
    assert set(public.split("~")) < set(recycler.split("~")) < set(owner.split("~"))
    # The signed part shows no object or list made only of hidden members (how many
    # spare-part sources a battery has is not public).
    payload = json.loads(base64.urlsafe_b64decode(public.split(".")[1] + "=="))
    assert list(_digest_only(payload)) == []


def test_a_tampered_disclosure_fails(api, world):
    passport = world.passport()
    presentation = credential_of(api, passport, world.owner)["credential"]
    token, first, *rest = presentation.split("~")
    salt, name, value = json.loads(base64.urlsafe_b64decode(first + "=="))
    forged = base64.urlsafe_b64encode(json.dumps([salt, name, "forged"]).encode()).decode()
    with pytest.raises(Rejected):
        verify_sd_jwt("~".join([token, forged.rstrip("="), *rest]), did(api))


def test_a_tampered_payload_or_a_wrong_key_fails(api, world, settings):
    passport = world.passport()
    presentation = credential_of(api, passport)["credential"]
    header, payload, signature = presentation.split("~")[0].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["credentialSubject"]["id"] = "urn:uuid:someone-else"
    altered = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    with pytest.raises(Rejected):
        verify_sd_jwt(presentation.replace(payload, altered), did(api))
    # A DID document with the same ids but another key: the signature does not verify.
    kid = json.loads(base64.urlsafe_b64decode(header + "=="))["kid"]
    settings.CREDENTIAL_SIGNING_KEYS = json.dumps(new_key_set())
    impostor = did(api)
    impostor["verificationMethod"][0]["id"] = kid
    with pytest.raises(Rejected, match="bad signature"):
        verify_sd_jwt(presentation, impostor)


def test_a_superseded_version_is_revoked_in_the_status_list(api, world):
    passport = world.passport()
    first = credential_of(api, passport)
    _, claims = verify_sd_jwt(first["credential"], did(api))
    (entry,) = claims["credentialStatus"]
    assert entry["type"] == "BitstringStatusListEntry"
    assert entry["statusPurpose"] == "revocation"
    path = entry["statusListCredential"].split("127.0.0.1:8000", 1)[-1]

    def bit():
        response = api.get(path)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/vc+jwt"
        return status_bit(response.content.decode(), did(api), entry)

    assert bit() is False
    new_version(world, passport)
    assert bit() is True
    second = credential_of(api, passport)
    assert second["version"] == 2
    _, claims = verify_sd_jwt(second["credential"], did(api))
    assert (
        status_bit(api.get(path).content.decode(), did(api), claims["credentialStatus"][0]) is False
    )


def test_rotation_signs_with_the_new_key_and_old_credentials_still_verify(api, world, settings):
    first = credential_of(api, world.passport())["credential"]
    rotated = new_key_set(json.loads(settings.CREDENTIAL_SIGNING_KEYS))
    settings.CREDENTIAL_SIGNING_KEYS = json.dumps(rotated)
    document = did(api)
    assert len(document["verificationMethod"]) == 2
    second = credential_of(api, world.passport(serial="SN-ROTATED"))["credential"]
    old_kid = verify_sd_jwt(first, document)[0]["kid"]
    new_kid = verify_sd_jwt(second, document)[0]["kid"]
    assert new_kid.endswith("#" + rotated["keys"][-1]["kid"])
    assert old_kid != new_kid


def test_a_draft_or_a_missing_passport_answers_404_alike(api, world):
    draft = world.passport(publish=False)
    api.force_authenticate(world.owner)
    hidden = api.get(f"/api/passports/{draft.internal_id}/credential/")
    missing = api.get("/api/passports/no-such-passport/credential/")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"].replace(draft.internal_id, "X") == missing.json()[
        "detail"
    ].replace("no-such-passport", "X")


def test_without_a_signing_key_the_routes_answer_503_saying_so(api, world, settings):
    passport = world.passport()
    settings.CREDENTIAL_SIGNING_KEYS = ""
    settings.CREDENTIAL_SIGNING_KEYS_FILE = ""
    for url in (
        f"/api/passports/{passport.internal_id}/credential/",
        "/.well-known/did.json",
        "/credentials/status/1",
    ):
        response = api.get(url)
        assert response.status_code == 503, url
        assert "CREDENTIAL_SIGNING_KEYS" in response.json()["detail"]


@pytest.mark.parametrize("count", [1, 4])
def test_the_credential_route_reads_a_flat_number_of_queries(api, world, count):
    passports = [world.passport(serial=f"SN-Q-{i}") for i in range(count)]
    user = world.users["legitimate_interest"]
    for passport in passports:
        credential_of(api, passport, user)  # issued once
    api.force_authenticate(user)
    for passport in passports:
        with CaptureQueriesContext(connection) as queries:
            assert api.get(f"/api/passports/{passport.internal_id}/credential/").status_code == 200
        # the requester's access grants, the passport (the tier's presentation is cached:
        # credentials/presentations.py)
        assert len(queries) == 2, [q["sql"] for q in queries]
    with CaptureQueriesContext(connection) as queries:
        assert api.get("/credentials/status/1").status_code == 200
    assert len(queries) == 1  # the set bits (list 1 always exists)


def test_verify_credential_command_says_verified_or_not(api, world, tmp_path, settings):
    passport = world.passport()
    answer = credential_of(api, passport, world.users["legitimate_interest"])
    (tmp_path / "credential.json").write_text(json.dumps(answer))
    (tmp_path / "did.json").write_text(json.dumps(did(api)))
    (tmp_path / "status.jwt").write_text(api.get("/credentials/status/1").content.decode())
    args = [str(tmp_path / "credential.json"), "--did-document", str(tmp_path / "did.json")]
    call_command("verify_credential", *args, "--status-list", str(tmp_path / "status.jwt"))

    token, first, *rest = answer["credential"].split("~")
    (tmp_path / "tampered.txt").write_text("~".join([token, first[:-2] + "xx", *rest]))
    with pytest.raises(CommandError, match="NOT VERIFIED") as failure:
        call_command("verify_credential", str(tmp_path / "tampered.txt"), *args[1:])
    assert failure.value.returncode == 1

    ours = settings.CREDENTIAL_SIGNING_KEYS
    settings.CREDENTIAL_SIGNING_KEYS = json.dumps(new_key_set())
    (tmp_path / "other.json").write_text(json.dumps(did(api)))
    with pytest.raises(CommandError, match="not in the DID document|signature"):
        call_command("verify_credential", args[0], "--did-document", str(tmp_path / "other.json"))
    settings.CREDENTIAL_SIGNING_KEYS = ours

    new_version(world, passport)
    (tmp_path / "status.jwt").write_text(api.get("/credentials/status/1").content.decode())
    with pytest.raises(CommandError, match="revocation"):
        call_command("verify_credential", *args, "--status-list", str(tmp_path / "status.jwt"))
