"""The whole life of a battery (Regulation (EU) 2023/1542 Art. 77(6)-(7)): recycling ends
its passport while the history stays readable, repurposing hands it over to the new economic
operator, and the chain of its passports is walked both ways as each tier may see it."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from passports import services
from passports.models import AccessGrant, BatteryModel, BatteryPassport

from .credential_verifier import status_bit, verify_sd_jwt
from .factories import make_company, make_org, make_user

pytestmark = pytest.mark.django_db


def today() -> str:
    # Asked at each use: a constant taken when the tests are collected is yesterday once
    # a run crosses midnight, before the passports' publication.
    return dt.date.today().isoformat()


_names = itertools.count(1)


def as_waste(world, passport=None):
    passport = passport or world.passport()
    return services.passport_revise(
        passport=passport, data={}, user=world.owner, battery_status="waste", note="collected"
    )


def post(api, user, url, body):
    api.force_authenticate(user)
    return api.post(url, body, format="json")


def get(api, user, url):
    api.force_authenticate(user)
    return api.get(url)


def recycle_url(passport) -> str:
    return f"/api/passports/{passport.internal_id}/recycle/"


def recycler_org(manufacturer=None, role="compliance_officer", tier="legitimate_interest"):
    org = make_org(f"Recycling GmbH {next(_names)}", kind="research")
    AccessGrant.objects.create(
        organisation=org,
        tier=tier,
        purpose="recycler",
        valid_from="2020-01-01",
        manufacturer=manufacturer,
    )
    return org, make_user(org, role)


# --- Recycling: the passport ceases -----------------------------------------------------------


def test_recycled_battery_passport_ceases_but_history_stays_readable(api, world):
    passport = as_waste(world)
    response = post(api, world.owner, recycle_url(passport), {"recycled_on": today()})
    assert response.status_code == 200, response.json()
    assert response.json()["ceased_at"] is not None

    pid = passport.internal_id
    for user in (None, world.users["legitimate_interest"]):
        detail = get(api, user, f"/api/passports/{pid}/")
        assert detail.status_code == 200
        assert detail.json()["ceased_at"] is not None
        assert detail.json()["document"]  # the data stays readable
        versions = get(api, user, f"/api/passports/{pid}/versions/").json()
        assert [v["number"] for v in versions] == [1, 2]
        assert get(api, user, f"/api/passports/{pid}/versions/1/").status_code == 200
    assert get(api, None, f"/p/{pid}/").status_code == 200
    feed = get(api, None, "/api/passports/changes/?since=0").json()["events"]
    assert feed[-1]["kind"] == "ceased" and feed[-1]["passport"] == pid


def test_recycling_is_refused_until_the_battery_is_waste(api, world):
    passport = world.passport()
    response = post(api, world.owner, recycle_url(passport), {"recycled_on": today()})
    assert response.status_code == 409
    assert "waste" in response.json()["detail"]
    assert BatteryPassport.objects.get(pk=passport.pk).ceased_at is None


def test_a_recycler_refused_before_waste_is_told_the_status_only_if_its_tier_sees_it(api, world):
    passport = world.passport()  # status original
    _, blind = recycler_org(world.manufacturer, tier="authority")  # attribute 11 is not its
    _, seeing = recycler_org(world.manufacturer)
    refused = post(api, blind, recycle_url(passport), {"recycled_on": today()})
    assert refused.status_code == 409, refused.json()
    assert "waste" in refused.json()["detail"]
    assert "original" not in refused.content.decode().lower()
    told = post(api, seeing, recycle_url(passport), {"recycled_on": today()})
    assert told.status_code == 409, told.json()
    assert "'Original'" in told.json()["detail"]
    assert BatteryPassport.objects.get(pk=passport.pk).ceased_at is None


def test_a_recycler_refused_a_repurposed_passport_is_told_why_only_if_its_tier_sees_the_status(
    api, world
):
    original = world.passport()
    company, model, _ = second_life()
    services.passport_repurpose(
        passport=original,
        new_status="repurposed",
        battery_identifier="2L-R",
        economic_operator=company,
        battery_model=model,
    )
    _, blind = recycler_org(world.manufacturer, tier="authority")
    _, seeing = recycler_org(world.manufacturer)
    refused = post(api, blind, recycle_url(original), {"recycled_on": today()})
    assert refused.status_code == 409, refused.json()
    assert "repurposed" not in refused.content.decode().lower()
    told = post(api, seeing, recycle_url(original), {"recycled_on": today()})
    assert told.status_code == 409 and "repurposed" in told.json()["detail"]


def test_recycling_twice_is_refused_naming_that_the_passport_ceased(api, world):
    passport = as_waste(world)
    first = post(api, world.owner, recycle_url(passport), {"recycled_on": today()})
    assert first.status_code == 200
    again = post(api, world.owner, recycle_url(passport), {"recycled_on": today()})
    assert again.status_code == 409
    assert "ceased" in again.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "recycled_on"),
        ({"recycled_on": "yesterday"}, "recycled_on"),
        ({"recycled_on": (dt.date.today() + dt.timedelta(days=2)).isoformat()}, "recycled_on"),
        ({"recycled_on": today(), "recycler": 10**9}, "recycler"),
    ],
)
def test_a_bad_recycling_record_is_refused_naming_the_field(api, world, body, field):
    passport = as_waste(world)
    response = post(api, world.owner, recycle_url(passport), body)
    assert response.status_code == 400
    assert field in response.json()
    assert BatteryPassport.objects.get(pk=passport.pk).ceased_at is None


def test_a_ceased_passport_takes_no_new_versions_readings_or_successor(api, world):
    passport = as_waste(world)
    post(api, world.owner, recycle_url(passport), {"recycled_on": today()})
    pid = passport.internal_id
    attempts = {
        "revise": {
            "data": {"GeneralProductInformation": {"batteryMass": 1.0}},
            "note": "x",
            "version": 2,
        },
        "readings": {
            "attribute": 58,
            "measured_at": "2026-01-01T08:00:00Z",
            "value": {"stateOfChargeValue": 90.0, "lastUpdate": "2026-01-01T08:00:00Z"},
        },
        "repurpose": {
            "battery_status": "repurposed",
            "battery_identifier": "2L-ceased",
            "economic_operator": world.operator.pk,
        },
    }
    for action, body in attempts.items():
        response = post(api, world.owner, f"/api/passports/{pid}/{action}/", body)
        assert response.status_code == 409, (action, response.json())
        assert "ceased" in response.json()["detail"], action
    assert BatteryPassport.objects.get(pk=passport.pk).version == 2


def test_a_ceased_passports_credential_reads_revoked_in_the_status_list(api, world):
    passport = as_waste(world)
    api.force_authenticate(None)
    credential = api.get(f"/api/passports/{passport.internal_id}/credential/").json()
    did = api.get("/.well-known/did.json").json()
    _, claims = verify_sd_jwt(credential["credential"], did)
    (entry,) = claims["credentialStatus"]
    path = entry["statusListCredential"].split("127.0.0.1:8000", 1)[-1]
    assert status_bit(api.get(path).content.decode(), did, entry) is False
    post(api, world.owner, recycle_url(passport), {"recycled_on": today()})
    api.force_authenticate(None)
    assert status_bit(api.get(path).content.decode(), did, entry) is True


def test_a_recycler_with_a_grant_records_its_own_recycling_only(api, world):
    org, officer = recycler_org(world.manufacturer)
    _, viewer = recycler_org(world.manufacturer, role="viewer")
    _, elsewhere = recycler_org(make_company("Other maker"))
    passport = as_waste(world)
    assert post(api, viewer, recycle_url(passport), {"recycled_on": today()}).status_code == 403
    assert post(api, elsewhere, recycle_url(passport), {"recycled_on": today()}).status_code == 403
    other = make_org("Someone else")
    naming_other = post(
        api, officer, recycle_url(passport), {"recycled_on": today(), "recycler": other.pk}
    )
    assert naming_other.status_code == 400 and "recycler" in naming_other.json()
    response = post(api, officer, recycle_url(passport), {"recycled_on": today()})
    assert response.status_code == 200, response.json()
    recycled = BatteryPassport.objects.get(pk=passport.pk)
    assert recycled.recycler_id == org.pk and recycled.recycled_on == dt.date.today()


def test_the_owner_names_the_recycler_and_the_public_sees_only_that_it_ceased(api, world):
    org, _ = recycler_org()
    passport = as_waste(world)
    body = {"recycled_on": today(), "recycler": org.pk}
    assert post(api, world.owner, recycle_url(passport), body).status_code == 200
    url = f"/api/passports/{passport.internal_id}/chain/"
    public = get(api, None, url).json()["passport"]
    assert public["ceased_at"] is not None
    assert public["recycler"] is None and public["recycled_on"] is None  # follow attribute 11
    granted = get(api, world.users["legitimate_interest"], url).json()["passport"]
    assert granted["recycler"] == org.name and granted["recycled_on"] == today()


# --- Repurposing hands over ---------------------------------------------------------------------


def second_life():
    company = make_company("Second Life BV")
    org = make_org("Second Life compliance", company=company)
    AccessGrant.objects.create(
        organisation=org, tier="legitimate_interest", purpose="second_life", valid_from="2020-01-01"
    )
    model = BatteryModel.objects.create(
        manufacturer=company,
        model_identifier="2L",
        name="Second-life unit",
        category="stationary",
        chemistry="NMC811",
    )
    return company, model, make_user(org, "compliance_officer")


def test_repurposing_hands_the_battery_over_and_closes_the_original(api, world):
    original = world.passport()
    company, model, repurposer = second_life()
    response = post(
        api,
        repurposer,
        f"/api/passports/{original.internal_id}/repurpose/",
        {
            "battery_status": "repurposed",
            "battery_identifier": "2L-1",
            "economic_operator": company.pk,
            "battery_model": model.pk,
        },
    )
    assert response.status_code == 201, response.json()
    successor = BatteryPassport.objects.get(internal_id=response.json()["internal_id"])
    assert successor.economic_operator_id == company.pk
    assert successor.predecessor_id == original.pk
    # The original's owners no longer change it: the successor's operator answers now.
    revise = post(
        api,
        world.owner,
        f"/api/passports/{original.internal_id}/revise/",
        {
            "data": {"GeneralProductInformation": {"batteryMass": 1.0}},
            "note": "late",
            "version": 2,
        },
    )
    assert revise.status_code == 409
    # A draft successor stays unseen by the original's owners, like a missing passport.
    assert "continues on a successor passport" in revise.json()["detail"]
    assert successor.internal_id not in revise.json()["detail"]
    waste = post(
        api,
        world.owner,
        f"/api/passports/{original.internal_id}/revise/",
        {"battery_status": "waste", "version": 2},
    )
    assert waste.status_code == 409
    # Its history stays: the hand-over is its last version.
    versions = get(api, world.owner, f"/api/passports/{original.internal_id}/versions/").json()
    assert versions[-1]["battery_status"] == "repurposed"
    assert successor.internal_id in versions[-1]["note"]
    # The successor is the repurposer's to change.
    api.force_authenticate(repurposer)
    patch = api.patch(
        f"/api/passports/{successor.internal_id}/",
        {"data": successor.data, "revision": successor.revision},
        format="json",
    )
    assert patch.status_code == 200, patch.json()


# --- The chain, both ways ----------------------------------------------------------------------


def lives(world, count: int) -> list[BatteryPassport]:
    """A battery with `count` published passports, each the successor of the one before."""
    chain = [world.passport()]
    for n in range(1, count):
        successor = services.passport_repurpose(
            passport=chain[-1],
            new_status="repurposed" if n % 2 else "remanufactured",
            battery_identifier=f"LIFE-{chain[0].pk}-{n}",
            economic_operator=world.operator,
        )
        chain.append(services.passport_publish(passport=successor))
    return chain


def ids(entries) -> list[str]:
    return [entry["internal_id"] for entry in entries]


def test_the_chain_is_walked_both_ways_from_any_passport(api, world):
    first, middle, last = lives(world, 3)
    owner = world.owner
    seen = get(api, owner, f"/api/passports/{middle.internal_id}/chain/").json()
    assert seen["passport"]["internal_id"] == middle.internal_id
    assert ids(seen["predecessors"]) == [first.internal_id]
    assert ids(seen["successors"]) == [last.internal_id]
    from_first = get(api, owner, f"/api/passports/{first.internal_id}/chain/").json()
    assert ids(from_first["predecessors"]) == []
    assert ids(from_first["successors"]) == [middle.internal_id, last.internal_id]
    from_last = get(api, owner, f"/api/passports/{last.internal_id}/chain/").json()
    assert ids(from_last["predecessors"]) == [first.internal_id, middle.internal_id]
    assert [e["battery_status"] for e in from_last["predecessors"]] == [
        "repurposed",
        "remanufactured",
    ]


def test_the_public_sees_no_links_and_a_grantee_sees_them(api, world):
    first, last = lives(world, 2)
    url = f"/api/passports/{last.internal_id}/chain/"
    public = get(api, None, url).json()
    assert public["predecessors"] == [] and public["successors"] == []
    assert public["passport"]["battery_status"] is None  # attribute 11
    assert public["passport"]["internal_id"] == last.internal_id
    granted = get(api, world.users["legitimate_interest"], url).json()
    assert ids(granted["predecessors"]) == [first.internal_id]
    assert granted["passport"]["battery_status"] == "repurposed"


def test_another_companys_draft_successor_is_not_in_the_chain(api, world):
    original = world.passport()
    company, model, repurposer = second_life()
    draft = services.passport_repurpose(
        passport=original,
        new_status="repurposed",
        battery_identifier="2L-draft",
        economic_operator=company,
        battery_model=model,
    )
    url = f"/api/passports/{original.internal_id}/chain/"
    for user in (world.users["legitimate_interest"], world.users["commission"]):
        assert get(api, user, url).json()["successors"] == []
    assert ids(get(api, repurposer, url).json()["successors"]) == [draft.internal_id]


@pytest.mark.parametrize("length", [2, 6])
def test_the_chain_reads_the_same_number_of_queries_however_long(api, world, length):
    chain = lives(world, length)
    api.force_authenticate(world.users["legitimate_interest"])
    url = f"/api/passports/{chain[length // 2].internal_id}/chain/"
    with CaptureQueriesContext(connection) as queries:
        response = api.get(url)
    assert response.status_code == 200
    assert len(response.json()["predecessors"]) + len(response.json()["successors"]) == length - 1
    # the requester's grants, the passport, the walk, the rows
    assert len(queries) == 4, [q["sql"] for q in queries]


@pytest.mark.parametrize("length", [1, 2, 3])
def test_a_cycle_of_passports_written_into_the_data_still_gets_its_chain(api, world, length):
    """Around the admin's check (SQL, an old import): the walk stops where it has been."""
    chain = lives(world, length)
    BatteryPassport.objects.filter(pk=chain[0].pk).update(predecessor=chain[-1])
    everyone = sorted(p.internal_id for p in chain)
    for passport in chain:
        response = get(api, world.owner, f"/api/passports/{passport.internal_id}/chain/")
        assert response.status_code == 200
        seen = response.json()
        assert seen["passport"]["internal_id"] == passport.internal_id
        listed = ids(seen["predecessors"]) + [passport.internal_id] + ids(seen["successors"])
        assert sorted(listed) == everyone  # each passport once


def test_an_import_naming_someone_elses_passport_neither_closes_it_nor_takes_its_successor(
    api, world
):
    """A grantee that may see the status of a manufacturer's passport cannot import a
    successor of it for another operator: the original stays open to its owners, and its
    real repurposing is not blocked."""
    from passports import services
    from passports.demo import sample

    original = world.passport()
    company, model, outsider = second_life()
    document = sample("repurposed_nmc811_pack")
    document["GeneralProductInformation"]["batteryPassportIdentifier"] = "urn:x:outsider1"
    response = post(
        api,
        outsider,
        "/api/passports/import/",
        {
            "battery_model": model.pk,
            "economic_operator": world.operator.pk,  # not the importer's own company
            "predecessor": original.internal_id,
            "document": document,
        },
    )
    assert response.status_code in (400, 403), response.content[:300]
    assert not BatteryPassport.objects.filter(predecessor=original).exists()
    revised = services.passport_revise(  # no 409: the original is still its owners'
        passport=original,
        data={"GeneralProductInformation": {"batteryMass": 1.0}},
        user=world.owner,
        note="still the owner's",
    )
    assert revised.version == original.version + 1
