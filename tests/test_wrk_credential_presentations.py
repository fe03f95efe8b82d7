"""A passport credential's presentation is cut once per version and tier and kept in the
cache: a tier only ever receives its own cut (whoever asked first), nothing is signed or
loaded again on later reads, and a new version gets new presentations."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from credentials import presentations, sdjwt
from credentials.models import IssuedCredential
from passports import access, services
from passports.models import BatteryStatus

from .credential_verifier import verify_sd_jwt

pytestmark = pytest.mark.django_db


def credential_of(api, passport, user=None) -> dict:
    api.force_authenticate(user)
    response = api.get(f"/api/passports/{passport.internal_id}/credential/")
    assert response.status_code == 200, response.content
    return response.json()


def batterypass(api, passport, user) -> dict:
    """The document the tier reads on the detail route (its credential must say the same)."""
    api.force_authenticate(user)
    document = api.get(f"/api/passports/{passport.internal_id}/").json()["document"]
    return {aspect: payload for aspect, payload in document.items() if payload}


@pytest.fixture
def signatures(monkeypatch):
    """How many times a credential is signed (the real signer, counted)."""
    calls = []
    sign = sdjwt.sign

    def counted(*args, **kwargs):
        calls.append(args[0].get("id"))
        return sign(*args, **kwargs)

    monkeypatch.setattr(sdjwt, "sign", counted)
    return calls


def test_the_owner_asking_first_leaves_the_public_and_a_recycler_their_own_cut(api, world):
    passport = world.passport()
    did = api.get("/.well-known/did.json").json()
    owner = credential_of(api, passport, world.owner)["credential"]  # cached first
    public = credential_of(api, passport)["credential"]
    recycler_user = world.users["legitimate_interest"]
    recycler = credential_of(api, passport, recycler_user)["credential"]
    assert public.split("~")[1:-1] == []  # the public tier receives no restricted disclosure
    assert set(public.split("~")) < set(recycler.split("~")) < set(owner.split("~"))
    for user, presentation in ((None, public), (recycler_user, recycler)):
        # again, now from the cache: the same cut, holding exactly what the tier may see
        assert credential_of(api, passport, user)["credential"] == presentation
        _, claims = verify_sd_jwt(presentation, did)
        assert claims["credentialSubject"]["batteryPass"] == batterypass(api, passport, user)


def test_a_second_read_neither_signs_nor_loads_the_credential_again(api, world, signatures):
    passport = world.passport()
    first = credential_of(api, passport)
    assert len(signatures) == 1  # issued on the first read
    with CaptureQueriesContext(connection) as queries:
        again = api.get(f"/api/passports/{passport.internal_id}/credential/").json()
    assert again == first
    assert len(queries) == 1  # the passport row
    assert len(signatures) == 1
    assert not [q for q in queries if "credentials_issuedcredential" in q["sql"]]
    credential_of(api, passport, world.users["authority"])  # another tier: cut, not signed
    assert len(signatures) == 1
    assert IssuedCredential.objects.count() == 1


def test_the_presentation_is_kept_under_its_version_and_the_tier_roles(api, world):
    passport = world.passport()
    answer = credential_of(api, passport, world.users["commission"])
    roles = access.roles_for(
        access.requester_for(world.users["commission"]),
        passport.battery_model.manufacturer_id,
        passport.economic_operator_id,
    )
    assert cache.get(presentations.cache_key(passport.uuid, 1, roles)) == answer["credential"]
    assert cache.get(presentations.cache_key(passport.uuid, 1, access.PUBLIC)) is None


def test_a_new_version_is_presented_with_its_own_signature(api, world, signatures):
    passport = world.passport()
    before = credential_of(api, passport)
    services.passport_revise(
        passport=passport, data={}, user=world.owner, battery_status=BatteryStatus.REUSED
    )
    after = credential_of(api, passport)
    assert (before["version"], after["version"]) == (1, 2)
    assert before["credential"].split("~")[0] != after["credential"].split("~")[0]
    assert len(signatures) == 2


@pytest.mark.parametrize("count", [1, 4])
def test_a_cached_credential_read_is_one_query_however_many_credentials(api, world, count):
    passports = [world.passport(serial=f"SN-P-{i}") for i in range(count)]
    for passport in passports:
        credential_of(api, passport)  # issued, and cut for the public
    for passport in passports:
        with CaptureQueriesContext(connection) as queries:
            response = api.get(f"/api/passports/{passport.internal_id}/credential/")
        assert response.status_code == 200
        assert len(queries) == 1, [q["sql"] for q in queries]  # the passport row, no more
