"""Battery passports: what each tier sees, versions, mandatory attributes, exports, import."""

import datetime as dt
import json

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from passports import access, services
from passports import permissions as rules
from passports.catalogue import ATTRIBUTE_PATHS, values_of
from passports.models import BatteryPassport, PassportVersion
from registry.querysets import Requester
from registry.services import Conflict

from .passport_fixtures import EXPECTED_TIERS, attributes_csv, bp_errors, full_document

pytestmark = pytest.mark.django_db


def get(api, user, url, **headers):
    api.force_authenticate(user)
    return api.get(url, **headers)


# --- Access tiers ------------------------------------------------------------------


def test_each_tier_sees_exactly_the_attributes_attributes_csv_grants(api, world):
    passport = world.passport()
    full = passport.document
    rows = attributes_csv()
    for tier, user in world.users.items():
        response = get(api, user, f"/api/passports/{passport.internal_id}/")
        assert response.status_code == 200
        seen = response.json()["document"]
        for row in rows:
            number = int(row["number"])
            if number not in ATTRIBUTE_PATHS or not values_of(full, number):
                continue
            allowed = tier in EXPECTED_TIERS[row["access"]]
            present = bool(values_of(seen, number))
            assert present == allowed, (tier, number, row["attribute"], row["access"])


def restricted_markers(full: dict, public: dict) -> set[str]:
    """Distinctive values of attributes the public may not see, absent from the public view."""
    public_text = json.dumps(public)
    names = " ".join(row["attribute"] for row in attributes_csv())  # shown on the page
    markers = set()
    for row in attributes_csv():
        if row["access"] == "Public" or int(row["number"]) not in ATTRIBUTE_PATHS:
            continue
        for value in values_of(full, int(row["number"])):
            for leaf in _leaves(value):
                text = str(leaf)
                if len(text) >= 5 and text not in public_text and text not in names:
                    markers.add(text)
    return markers


def _leaves(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    elif value not in (None, "", True, False):
        yield value


def test_a_restricted_attribute_never_reaches_the_public_by_any_route(api, client, world):
    passport = world.passport()
    services.append_reading(
        passport=passport,
        number=58,
        value={"stateOfChargeValue": 42.4242, "lastUpdate": "2026-11-01T10:00:00+00:00"},
        measured_at=dt.datetime(2026, 11, 1, 10, tzinfo=dt.UTC),
    )
    passport.refresh_from_db()
    markers = restricted_markers(passport.document, passport.public_document)
    assert len(markers) > 20  # the check has teeth
    assert "42.4242" in markers
    pid = passport.internal_id
    api.force_authenticate(None)
    routes = {
        "detail": api.get(f"/api/passports/{pid}/"),
        "list": api.get("/api/passports/"),
        "bulk": api.post("/api/passports/bulk/", {"identifiers": [pid]}, format="json"),
        "versions": api.get(f"/api/passports/{pid}/versions/"),
        "version": api.get(f"/api/passports/{pid}/versions/1/"),
        "feed": api.get("/api/passports/changes/?since=0"),
        "readings": api.get(f"/api/passports/{pid}/readings/"),
        "export-bp": api.get(f"/api/passports/{pid}/export/batterypass/"),
        "page": client.get(f"/p/{pid}/"),
    }
    for name, response in routes.items():
        assert response.status_code == 200, name
        text = response.content.decode()
        leaked = [m for m in markers if m in text]
        assert not leaked, (name, leaked[:5])


def test_the_public_change_feed_omits_readings_the_public_may_not_see(api, world):
    passport = world.passport()
    services.append_reading(
        passport=passport,
        number=58,
        value={"stateOfChargeValue": 50.0, "lastUpdate": "2026-11-01T10:00:00+00:00"},
        measured_at=dt.datetime(2026, 11, 1, 10, tzinfo=dt.UTC),
    )
    public = get(api, None, "/api/passports/changes/?since=0").json()["events"]
    owner = get(api, world.owner, "/api/passports/changes/?since=0").json()["events"]
    assert [e["kind"] for e in public] == ["published"]
    assert [e["kind"] for e in owner] == ["published", "reading"]
    assert owner[1]["attributes"] == [58]


def test_drafts_are_seen_only_by_their_owners(api, world):
    draft = world.passport(publish=False)
    assert get(api, None, f"/api/passports/{draft.internal_id}/").status_code == 404
    assert (
        get(api, world.users["commission"], f"/api/passports/{draft.internal_id}/").status_code
        == 404
    )
    assert get(api, world.owner, f"/api/passports/{draft.internal_id}/").status_code == 200


def test_a_revoked_or_lapsed_grant_gives_no_access(api, world):
    from passports.models import AccessGrant

    passport = world.passport()
    AccessGrant.objects.filter(tier="legitimate_interest").update(revoked=True)
    data = get(
        api, world.users["legitimate_interest"], f"/api/passports/{passport.internal_id}/"
    ).json()
    assert data["tier"] == "public"


# --- Versions -------------------------------------------------------------------------


def test_revisions_make_new_versions_and_earlier_ones_stay_readable(api, world):
    passport = world.passport()
    first = PassportVersion.objects.get(passport=passport, number=1).document
    api.force_authenticate(world.owner)
    response = api.post(
        f"/api/passports/{passport.internal_id}/revise/",
        {
            "data": {"GeneralProductInformation": {"batteryMass": 451.5}},
            "note": "re-weighed",
            "version": 1,
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["version"] == 2
    assert response.json()["document"]["GeneralProductInformation"]["batteryMass"] == 451.5
    versions = api.get(f"/api/passports/{passport.internal_id}/versions/").json()
    assert [v["number"] for v in versions] == [1, 2]
    assert versions[1]["changed_attributes"] == [10]
    assert versions[1]["created_by"] == "maker"
    old = api.get(f"/api/passports/{passport.internal_id}/versions/1/").json()
    assert (
        old["document"]["GeneralProductInformation"]["batteryMass"]
        == first["GeneralProductInformation"]["batteryMass"]
    )
    stale = api.post(
        f"/api/passports/{passport.internal_id}/revise/",
        {"data": {"GeneralProductInformation": {"batteryMass": 452}}, "version": 1},
        format="json",
    )
    assert stale.status_code == 409


def test_published_versions_cannot_be_changed_or_deleted(world):
    passport = world.passport()
    version = passport.versions.get()
    version.note = "tampered"
    with pytest.raises(Exception, match="cannot be changed"):
        version.save()
    with pytest.raises(Exception, match="cannot be deleted"):
        version.delete()
    assert PassportVersion.objects.get(pk=version.pk).note != "tampered"


def test_a_published_passport_is_not_edited_in_place(api, world):
    passport = world.passport()
    api.force_authenticate(world.owner)
    response = api.patch(
        f"/api/passports/{passport.internal_id}/",
        {"data": {"GeneralProductInformation": {"batteryMass": 1}}, "revision": passport.revision},
        format="json",
    )
    assert response.status_code == 409
    assert api.delete(f"/api/passports/{passport.internal_id}/").status_code == 405


def test_only_the_manufacturer_or_operator_may_revise(api, world):
    passport = world.passport()
    for user in (None, world.users["commission"]):
        api.force_authenticate(user)
        assert api.post(
            f"/api/passports/{passport.internal_id}/revise/", {"data": {}}, format="json"
        ).status_code in (401, 403)


# --- Mandatory attributes per category ---------------------------------------------------


COLUMNS = {
    "ev": "ev",
    "lmt": "lmt",
    "industrial": "industrial_over_2kwh",
    "stationary": "stationary_over_2kwh",
}


def category_specific_attributes():
    """Attributes mandatory for some categories and not others, which the schemas do not
    force: (number, a category requiring it, a category not requiring it, the document
    without it)."""
    from passports.access import _GONE, _without

    found = []
    for row in attributes_csv():
        number = int(row["number"])
        required = [c for c, col in COLUMNS.items() if row[col] == "x"]
        optional = [c for c, col in COLUMNS.items() if row[col] != "x"]
        if number not in ATTRIBUTE_PATHS or not required or not optional:
            continue
        # Removed where the schemas allow it, else its text blanked (still schema-valid).
        for mode in ("remove", "blank"):
            stripped = full_document()
            for path in ATTRIBUTE_PATHS[number]:
                if mode == "remove":
                    result = _without(stripped, path)
                    stripped = {} if result is _GONE else result
                else:
                    _blank(stripped, path)
            from passports.schemas import schema_errors

            if not schema_errors(stripped, category=optional[0]) and not any(
                v not in (None, "", [], {}) for v in values_of(stripped, number)
            ):
                found.append((number, required[0], optional[0], stripped))
                break
    return found


def _blank(node, path):
    if not path:
        return
    head, rest = path[0], path[1:]
    items = node if head == "*" else [node.get(head)] if isinstance(node, dict) else []
    for item in items if isinstance(items, list) else []:
        if not rest and head != "*" and isinstance(node.get(head), str):
            node[head] = ""
        elif isinstance(item, (dict, list)):
            _blank(item, rest)


def test_some_attributes_are_mandatory_only_for_some_categories():
    assert category_specific_attributes(), "attributes.csv has category-specific attributes"


def test_mandatory_attributes_are_enforced_per_category(api, world):
    from passports.demo import split

    for number, required, optional, stripped in category_specific_attributes():
        for category, expect in ((optional, 200), (required, 400)):
            stripped["GeneralProductInformation"]["batteryCategory"] = category
            model = world.model(category=category, identifier=f"m-{category}-{number}")
            model.data, own = split(stripped)
            model.save()
            draft = services.passport_create(
                battery_model=model,
                battery_identifier="S1",
                economic_operator=world.operator,
                data=own,
            )
            api.force_authenticate(world.owner)
            response = api.post(f"/api/passports/{draft.internal_id}/publish/", {}, format="json")
            assert response.status_code == expect, (number, category, response.json())
            if expect == 400:
                assert any(
                    m.startswith(f"{number}. ") for m in response.json()["missing_attributes"]
                )
                assert BatteryPassport.objects.get(pk=draft.pk).lifecycle == "draft"


def test_a_passport_missing_a_mandatory_attribute_is_not_published(api, world):
    draft = world.passport(publish=False)
    data = json.loads(json.dumps(draft.data))
    model = draft.battery_model
    model.data["GeneralProductInformation"].pop("batteryMass", None)
    model.save()
    data.get("GeneralProductInformation", {}).pop("batteryMass", None)
    services.passport_update_draft(passport=draft, data=data)
    api.force_authenticate(world.owner)
    response = api.post(f"/api/passports/{draft.internal_id}/publish/", {}, format="json")
    assert response.status_code == 400
    assert any(m.startswith("10. Battery mass") for m in response.json()["missing_attributes"])


# --- Exports and import ------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["nmc811_ev_pack", "lfp_stationary_pack", "repurposed_nmc811_pack"]
)
def test_battery_pass_export_validates_against_all_seven_schemas(api, world, name):
    passport = world.passport(name)
    for tier, user in world.users.items():
        export = get(api, user, f"/api/passports/{passport.internal_id}/export/batterypass/")
        assert export.status_code == 200
        # Full access: the published schemas as they are. Restricted tiers: the same
        # schemas, less the `required` of fields the tier may not see.
        errors = bp_errors(export.json(), strict=tier in ("owner", "commission"))
        assert errors == [], (tier, errors[:3])


@pytest.mark.parametrize("name", ["nmc811_ev_pack", "lfp_stationary_pack"])
def test_import_then_export_keeps_every_attribute(api, world, name):
    original = full_document(name)
    model = world.model(name)
    api.force_authenticate(world.owner)
    response = api.post(
        "/api/passports/import/",
        {"battery_model": model.pk, "economic_operator": world.operator.pk, "document": original},
        format="json",
    )
    assert response.status_code == 201, response.json()
    pid = response.json()["internal_id"]
    assert api.post(f"/api/passports/{pid}/publish/", {}, format="json").status_code == 200
    exported = api.get(f"/api/passports/{pid}/export/batterypass/").json()
    for number in ATTRIBUTE_PATHS:
        assert values_of(exported, number) == values_of(original, number), number


def test_an_invalid_battery_pass_document_is_rejected_with_every_schema_error(api, world):
    document = full_document()
    document["GeneralProductInformation"]["batteryPassportIdentifier"] = "urn:uuid:not-ours"
    document["GeneralProductInformation"]["batteryMass"] = "heavy"
    del document["Circularity"]["recycledContent"]
    document["Labeling"]["labels"] = "none"
    model = world.model()
    api.force_authenticate(world.owner)
    response = api.post(
        "/api/passports/import/",
        {"battery_model": model.pk, "economic_operator": world.operator.pk, "document": document},
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()["document"]
    assert len(errors) == 4
    joined = " ".join(errors)
    for needle in ("batteryPassportIdentifier", "batteryMass", "recycledContent", "labels"):
        assert needle in joined
    assert not BatteryPassport.objects.exists()


# --- Repurposing ------------------------------------------------------------------------


def test_a_repurposed_battery_gets_a_new_passport_linked_to_its_predecessor(api, world):
    original = world.passport()
    api.force_authenticate(world.owner)
    response = api.post(
        f"/api/passports/{original.internal_id}/repurpose/",
        {
            "battery_status": "repurposed",
            "battery_identifier": "2L-0001",
            "economic_operator": world.operator.pk,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    successor = response.json()
    assert successor["predecessor"] == original.internal_id
    assert successor["battery_status"] == "repurposed"
    assert successor["lifecycle"] == "draft"
    old = api.get(f"/api/passports/{original.internal_id}/").json()
    assert old["battery_status"] == "repurposed"
    assert old["version"] == 2
    again = api.post(
        f"/api/passports/{original.internal_id}/repurpose/",
        {
            "battery_status": "repurposed",
            "battery_identifier": "2L-0002",
            "economic_operator": world.operator.pk,
        },
        format="json",
    )
    assert again.status_code == 409
    assert (
        api.post(
            f"/api/passports/{successor['internal_id']}/publish/", {}, format="json"
        ).status_code
        == 200
    )
    public = get(api, None, f"/api/passports/{successor['internal_id']}/").json()
    assert public["predecessor"] is None and public["battery_status"] is None  # attribute 11
    legit = get(
        api, world.users["legitimate_interest"], f"/api/passports/{successor['internal_id']}/"
    ).json()
    assert legit["predecessor"] == original.internal_id


def test_a_repurposed_status_without_a_predecessor_is_refused(world):
    from django.core.exceptions import ValidationError

    model = world.model()
    with pytest.raises(ValidationError, match="predecessor"):
        services.passport_create(
            battery_model=model,
            battery_identifier="X",
            economic_operator=world.operator,
            battery_status="repurposed",
        )


# --- Reading over the API -------------------------------------------------------------------


def test_conditional_get_answers_304_until_something_changes(api, world):
    passport = world.passport()
    url = f"/api/passports/{passport.internal_id}/"
    tag = get(api, None, url)["ETag"]
    assert get(api, None, url, HTTP_IF_NONE_MATCH=tag).status_code == 304
    services.passport_revise(
        passport=passport,
        data={"GeneralProductInformation": {"batteryMass": 460}},
        user=world.owner,
    )
    assert get(api, None, url, HTTP_IF_NONE_MATCH=tag).status_code == 200
    # Another tier has another ETag for the same passport.
    assert get(api, world.owner, url)["ETag"] != get(api, None, url)["ETag"]


def test_a_passport_is_found_by_each_of_its_identifiers(api, world):
    passport = world.passport()
    for identifier in (
        passport.internal_id,
        passport.batterypass_id,
        str(passport.uuid),
        f"urn:uuid:{passport.uuid}",
    ):
        assert (
            get(api, None, f"/api/passports/{identifier}/").json()["internal_id"]
            == passport.internal_id
        )


def test_lists_filter_and_page_with_a_cursor(api, world):
    model = world.model()
    made = [world.passport(model=model, serial=f"S{i}") for i in range(5)]
    world.passport("lfp_stationary_pack")
    seen, url = [], "/api/passports/?category=ev&page_size=2"
    while url:
        page = get(api, None, url).json()
        seen += [p["internal_id"] for p in page["results"]]
        url = page["next"]
    assert seen == [p.internal_id for p in made]
    assert (
        get(api, None, "/api/passports/?chemistry=lfp").json()["results"][0]["chemistry"] == "LFP"
    )
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert get(api, None, f"/api/passports/?updated_since={future}").json()["results"] == []


def test_bulk_fetch_lists_unknown_identifiers(api, world):
    a, b = world.passport(), world.passport()
    data = (
        get(api, None, "/").wsgi_request
        and api.post(
            "/api/passports/bulk/",
            {"identifiers": [a.internal_id, str(b.uuid), "nope"]},
            format="json",
        ).json()
    )
    assert {r["internal_id"] for r in data["results"]} == {a.internal_id, b.internal_id}
    assert data["not_found"] == ["nope"]
    too_many = api.post("/api/passports/bulk/", {"identifiers": ["x"] * 501}, format="json")
    assert too_many.status_code == 400


@pytest.mark.parametrize("url", ["/api/passports/", "/api/passports/changes/?since=0"])
def test_passport_lists_run_a_fixed_number_of_queries(api, world, url):
    world.passport()

    api.force_authenticate(None)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert api.get(url).status_code == 200
        return len(ctx.captured_queries)

    before = count()
    model = world.model(identifier="many")
    for i in range(8):
        world.passport(model=model, serial=f"M{i}")
    assert count() == before


def test_detail_and_bulk_run_a_fixed_number_of_queries(api, world):
    passports = [world.passport() for _ in range(3)]
    api.force_authenticate(None)
    with CaptureQueriesContext(connection) as ctx:
        api.get(f"/api/passports/{passports[0].internal_id}/")
    assert len(ctx.captured_queries) == 1, [q["sql"][:90] for q in ctx.captured_queries]
    with CaptureQueriesContext(connection) as few:
        api.post("/api/passports/bulk/", {"identifiers": [passports[0].internal_id]}, format="json")
    with CaptureQueriesContext(connection) as many:
        api.post(
            "/api/passports/bulk/",
            {"identifiers": [p.internal_id for p in passports]},
            format="json",
        )
    assert len(few.captured_queries) == len(many.captured_queries)


def test_dynamic_readings_are_a_time_series_and_static_ones_are_refused(api, world):
    passport = world.passport()
    api.force_authenticate(world.owner)
    url = f"/api/passports/{passport.internal_id}/readings/"
    for day, soc in ((1, 90.0), (2, 85.5)):
        response = api.post(
            url,
            {
                "attribute": 58,
                "measured_at": f"2026-11-0{day}T08:00:00Z",
                "value": {"stateOfChargeValue": soc, "lastUpdate": f"2026-11-0{day}T08:00:00Z"},
            },
            format="json",
        )
        assert response.status_code == 201, response.json()
    series = api.get(url).json()
    assert [r["value"]["stateOfChargeValue"] for r in series] == [90.0, 85.5]
    detail = api.get(f"/api/passports/{passport.internal_id}/").json()
    condition = detail["document"]["PerformanceAndDurability"]["batteryCondition"]
    assert condition["stateOfCharge"]["stateOfChargeValue"] == 85.5
    static = api.post(
        url, {"attribute": 10, "value": 1, "measured_at": "2026-11-01T08:00:00Z"}, format="json"
    )
    assert static.status_code == 400
    bad = api.post(
        url,
        {
            "attribute": 58,
            "value": {"stateOfChargeValue": "full"},
            "measured_at": "2026-11-01T08:00:00Z",
        },
        format="json",
    )
    assert bad.status_code == 400


def test_a_draft_cannot_receive_readings_or_be_published_twice(world):
    draft = world.passport(publish=False)
    with pytest.raises(Conflict):
        services.append_reading(
            passport=draft, number=58, value={}, measured_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        )
    published = services.passport_publish(passport=draft)
    with pytest.raises(Conflict):
        services.passport_publish(passport=published)


def test_public_page_shows_public_attributes_and_the_qr_code(client, world):
    passport = world.passport()
    html = client.get(f"/p/{passport.internal_id}/").content.decode()
    assert "Battery passport" in html and "qr.svg" in html
    assert "Battery mass" in html  # public
    assert "State of Charge" not in html  # legitimate interest only
    qr = client.get(f"/p/{passport.internal_id}/qr.svg")
    assert qr["Content-Type"] == "image/svg+xml" and b"<svg" in qr.content
    draft = world.passport(publish=False)
    assert client.get(f"/p/{draft.internal_id}/").status_code == 404


def test_catenax_export_of_a_repurposed_battery_names_its_predecessor(api, world):
    original = world.passport()
    successor = services.passport_repurpose(
        passport=original,
        new_status="repurposed",
        battery_identifier="2L-CX",
        economic_operator=world.operator,
    )
    successor = services.passport_publish(passport=successor)
    data = get(api, world.owner, f"/api/passports/{successor.internal_id}/export/catenax/").json()
    assert data["metadata"]["predecessor"].endswith(str(original.uuid))


def test_catenax_export_holds_no_restricted_value_for_the_public(api, world):
    passport = world.passport()
    markers = restricted_markers(passport.document, passport.public_document)
    text = get(api, None, f"/api/passports/{passport.internal_id}/export/catenax/").content.decode()
    assert not [m for m in markers if m in text]


# --- Who may do what: decided in passports/services.py -------------------------------------


def test_who_may_write_is_decided_by_the_services(world):
    passport = world.passport()
    model = passport.battery_model
    grantee, commission = world.users["legitimate_interest"], world.users["commission"]
    staff = type(world.owner).objects.create_user("staff-member", is_staff=True)
    for user in (world.owner, staff):
        assert rules.can_change(user, passport)
        rules.authorize_create(user, model)
        rules.authorize_import(user, model)
        rules.authorize_repurpose(
            user, passport, economic_operator=world.operator, battery_model=None
        )
    for user in (AnonymousUser(), grantee, commission):
        assert not rules.can_change(user, passport)
        for authorize in (rules.authorize_create, rules.authorize_import):
            with pytest.raises(PermissionDenied):
                authorize(user, model)
        with pytest.raises(PermissionDenied):
            rules.authorize_change(user, passport)
    with pytest.raises(ValidationError, match="keeps its manufacturer"):
        rules.authorize_model_change(world.owner, model, world.operator)
    # An import may name a predecessor only where the importer sees its status (attribute 11).
    assert services.predecessor_for(access.requester_for(grantee), passport.internal_id) == passport
    with pytest.raises(ValidationError, match="predecessor"):
        services.predecessor_for(Requester.anonymous(), passport.internal_id)
