"""Who may do and see what, at the edges an independent review probed."""

import datetime as dt
import json

import pytest
from django.contrib.auth.models import Permission

from passports import access, services
from passports.models import AccessGrant, BatteryModel
from registry.models import Attestation, SupplyRelationship
from registry.querysets import Requester

from .factories import make_attestation, make_company, make_org, make_user

pytestmark = pytest.mark.django_db


def get(api, user, url):
    api.force_authenticate(user)
    return api.get(url)


# --- Registry ----------------------------------------------------------------------------


def test_only_a_reviewer_or_the_nightly_job_may_mark_an_attestation_expired(api):
    org = make_org("Logger")
    attestation = make_attestation(make_company("Co"), "irma", org)
    api.force_authenticate(make_user(make_org("Stranger"), "compliance_officer"))
    response = api.post(
        f"/api/registry/attestations/{attestation.pk}/transition/", {"to": "expired"}, format="json"
    )
    assert response.status_code == 403
    assert Attestation.objects.get(pk=attestation.pk).status == "verified"


def test_an_officer_adds_companies_but_changes_only_their_own(api):
    own = make_company("Own Co")
    other = make_company("Other Co")
    officer = make_user(make_org("Own compliance", company=own), "compliance_officer")
    api.force_authenticate(officer)

    def patch(company, data):
        url = f"/api/registry/companies/{company.pk}/"
        return api.patch(url, data, format="json", HTTP_IF_MATCH=api.get(url)["ETag"])

    assert patch(own, {"website": "https://own.example"}).status_code == 200
    assert patch(other, {"legal_name": "Mine now"}).status_code == 403
    assert (
        api.post(
            "/api/registry/companies/", {"legal_name": "Supplier X", "country": "CD"}, format="json"
        ).status_code
        == 201
    )


def test_admin_transition_actions_need_the_change_permission(client):
    attestation = make_attestation(
        make_company("Co"), "irma", make_org("Org"), timeline=[("under_review", "2025-01-02")]
    )
    requester = make_user(None, is_staff=True)
    requester.user_permissions.add(Permission.objects.get(codename="view_attestation"))
    client.force_login(requester)
    client.post(
        "/admin/registry/attestation/",
        {"action": "make_verified", "_selected_action": [attestation.pk]},
    )
    assert Attestation.objects.get(pk=attestation.pk).status == "under_review"


def test_what_if_with_an_odd_company_reference_is_a_400_not_a_500(api):
    from registry.reference import load_rules

    load_rules()
    buyer = make_company("Buyer")
    for ref in ("²", "9" * 40):
        response = api.post(
            f"/api/registry/companies/{buyer.pk}/what-if/",
            {
                "mineral": "cobalt",
                "add": [
                    {"supplier": ref, "buyer": str(buyer.pk), "stage": "refining", "volume_t": 1}
                ],
            },
            format="json",
        )
        assert response.status_code == 400, ref


def test_recycled_flows_are_counted_once_as_pre_or_post_consumer():
    from registry.models import Facility, MinedSource, SourceLink
    from registry.querysets import Requester
    from registry.reference import load_rules
    from registry.supply import supply_chain
    from taxonomy.models import Cell, Mineral

    load_rules()
    cobalt = Mineral.objects.get(code="cobalt")
    buyer, recycler = make_company("Buyer"), make_company("Recycler", stages=("recycling",))
    SupplyRelationship.objects.create(
        supplier=recycler,
        buyer=buyer,
        mineral=cobalt,
        material="refined_chemical",
        stage=Cell.objects.get(code="application.recycling"),
        volume_t=10,
    )
    plant = Facility.objects.create(
        company=recycler,
        name="R",
        kind="recycling",
        country="DE",
        stage=Cell.objects.get(code="application.recycling"),
    )
    scrap = MinedSource.objects.create(
        name="Scrap", country="DE", method="black_mass", recycled_origin="pre_consumer"
    )
    scrap.minerals.add(cobalt)
    SourceLink.objects.create(mine=scrap, facility=plant, mineral=cobalt, volume_t=10)
    trace = supply_chain(buyer, cobalt, requester=Requester.anonymous()).trace
    assert trace.predicate_pct["recycled"] == pytest.approx(100.0)
    assert trace.predicate_pct["recycled_pre"] == pytest.approx(100.0)  # post = 100 - 100 = 0


# --- Passports ----------------------------------------------------------------------------


def test_an_outsider_cannot_create_import_or_repurpose_someone_elses_passports(api, world):
    passport = world.passport()
    outsider_company = make_company("Outsider Co")
    outsider = make_user(
        make_org("Outsider compliance", company=outsider_company), "compliance_officer"
    )
    api.force_authenticate(outsider)
    model = passport.battery_model.pk
    assert (
        api.post(
            "/api/passports/",
            {
                "battery_model": model,
                "battery_identifier": "X",
                "economic_operator": outsider_company.pk,
            },
            format="json",
        ).status_code
        == 403
    )
    assert (
        api.post(
            "/api/passports/import/",
            {
                "battery_model": model,
                "economic_operator": outsider_company.pk,
                "document": passport.document,
            },
            format="json",
        ).status_code
        == 403
    )
    response = api.post(
        f"/api/passports/{passport.internal_id}/repurpose/",
        {
            "battery_status": "repurposed",
            "battery_identifier": "2L",
            "economic_operator": outsider_company.pk,
        },
        format="json",
    )
    assert response.status_code == 403
    assert (
        get(api, world.owner, f"/api/passports/{passport.internal_id}/").json()["battery_status"]
        == "original"
    )


def test_a_second_life_operator_repurposes_and_copies_only_what_it_may_see(api, world):
    passport = world.passport()
    operator = make_company("Second Life BV")
    org = make_org("Second Life compliance", company=operator)
    AccessGrant.objects.create(
        organisation=org, tier="legitimate_interest", purpose="second_life", valid_from="2020-01-01"
    )
    api.force_authenticate(make_user(org, "compliance_officer"))
    url = f"/api/passports/{passport.internal_id}/repurpose/"
    body = {
        "battery_status": "repurposed",
        "battery_identifier": "2L-1",
        "economic_operator": operator.pk,
    }
    assert api.post(url, body, format="json").status_code == 400  # needs its own model
    own = BatteryModel.objects.create(
        manufacturer=operator,
        model_identifier="2L",
        name="Second-life unit",
        category="stationary",
        chemistry="NMC811",
    )
    assert (
        api.post(
            url, {**body, "battery_model": passport.battery_model.pk}, format="json"
        ).status_code
        == 403
    )
    response = api.post(url, {**body, "battery_model": own.pk}, format="json")
    assert response.status_code == 201, response.json()
    successor = response.json()["document"]
    # Attribute 18 (test reports) is for notified bodies, authorities and the Commission.
    assert "resultOfTestReport" not in successor.get("Labeling", {})
    assert "resultOfTestReport" in passport.document["Labeling"]


def test_battery_models_show_the_public_only_public_model_data(api, world):
    model = world.model()
    data = get(api, None, f"/api/passports/models/{model.pk}/").json()["data"]
    assert "resultOfTestReport" not in data.get("Labeling", {})  # attribute 18
    assert "dismantlingAndRemovalInformation" not in data.get("Circularity", {})  # 36
    owner = get(api, world.owner, f"/api/passports/models/{model.pk}/").json()["data"]
    assert "resultOfTestReport" in owner["Labeling"]


def test_a_battery_model_keeps_its_manufacturer_and_links_only_its_own_supplies(api, world):
    model = world.model()
    api.force_authenticate(world.owner)
    other = make_company("Another maker")
    url = f"/api/passports/models/{model.pk}/"

    def patch(data):
        return api.patch(url, data, format="json", HTTP_IF_MATCH=api.get(url)["ETag"])

    assert patch({"manufacturer": other.pk}).status_code == 400
    from taxonomy.models import Cell, Mineral

    foreign = SupplyRelationship.objects.create(
        supplier=make_company("S"),
        buyer=other,
        mineral=Mineral.objects.get(code="cobalt"),
        stage=Cell.objects.get(code="application.refining"),
        material="intermediate",
        volume_t=1,
    )
    assert patch({"supply_relationships": [foreign.pk]}).status_code == 400
    assert BatteryModel.objects.get(pk=model.pk).manufacturer_id == world.manufacturer.pk


def test_status_and_predecessor_are_hidden_from_the_public_on_every_route(api, world):
    original = world.passport()
    successor = services.passport_repurpose(
        passport=original,
        new_status="repurposed",
        battery_identifier="2L-H",
        economic_operator=world.operator,
    )
    successor = services.passport_publish(passport=successor)
    for passport in (original, successor):
        pid = passport.internal_id
        api.force_authenticate(None)
        detail = api.get(f"/api/passports/{pid}/").json()
        listed = next(
            p for p in api.get("/api/passports/").json()["results"] if p["internal_id"] == pid
        )
        bulk = api.post("/api/passports/bulk/", {"identifiers": [pid]}, format="json").json()[
            "results"
        ][0]
        version = api.get(f"/api/passports/{pid}/versions/1/").json()
        for answer in (detail, listed, bulk, version):
            assert answer["battery_status"] is None and answer["predecessor"] is None
        for row in api.get(f"/api/passports/{pid}/versions/").json():
            assert row["battery_status"] is None and row["note"] is None
    public_cx = get(api, None, f"/api/passports/{successor.internal_id}/export/catenax/").json()
    owner_cx = get(
        api, world.owner, f"/api/passports/{successor.internal_id}/export/catenax/"
    ).json()
    assert str(original.uuid) not in json.dumps(public_cx)
    assert owner_cx["metadata"]["predecessor"].endswith(str(original.uuid))


def test_filtering_by_status_reveals_nothing_beyond_the_grant(api, world):
    passport = world.passport()
    outsider = make_company("Grant holder's other maker")
    org = make_org("Scoped recycler")
    AccessGrant.objects.create(
        organisation=org,
        tier="legitimate_interest",
        purpose="recycler",
        valid_from="2020-01-01",
        manufacturer=outsider,
    )
    user = make_user(org, "requester")
    found = get(api, user, "/api/passports/?status=original").json()["results"]
    assert passport.internal_id not in [p["internal_id"] for p in found]
    public = get(api, None, "/api/passports/?status=original").json()["results"]
    assert public == []
    owner = get(api, world.owner, "/api/passports/?status=original").json()["results"]
    assert passport.internal_id in [p["internal_id"] for p in owner]


def test_readings_survive_revisions_and_late_readings_do_not_replace_newer_ones(world):
    passport = world.passport()

    def soc(at, value):
        return services.append_reading(
            passport=passport,
            number=58,
            measured_at=at,
            value={"stateOfChargeValue": value, "lastUpdate": at.isoformat()},
        )

    soc(dt.datetime(2026, 11, 2, tzinfo=dt.UTC), 70.0)
    soc(dt.datetime(2026, 11, 1, tzinfo=dt.UTC), 99.0)  # measured earlier, arrives later
    passport.refresh_from_db()
    condition = passport.document["PerformanceAndDurability"]["batteryCondition"]
    assert condition["stateOfCharge"]["stateOfChargeValue"] == 70.0
    assert passport.readings.count() == 2
    services.passport_revise(
        passport=passport,
        user=world.owner,
        data={"GeneralProductInformation": {"batteryMass": 455}},
    )
    passport.refresh_from_db()
    condition = passport.document["PerformanceAndDurability"]["batteryCondition"]
    assert condition["stateOfCharge"]["stateOfChargeValue"] == 70.0
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="revision"):
        services.append_reading(
            passport=passport,
            number=11,
            value="Waste",
            measured_at=dt.datetime(2026, 11, 3, tzinfo=dt.UTC),
        )


def test_an_etag_never_outlives_a_change_of_grant(api, world):
    passport = world.passport()
    user = world.users["legitimate_interest"]
    url = f"/api/passports/{passport.internal_id}/"
    tag = get(api, user, url)["ETag"]
    org = user.membership.organisation
    AccessGrant.objects.create(
        organisation=org, tier="authority", purpose="authority", valid_from="2020-01-01"
    )
    api.force_authenticate(user)
    assert api.get(url, HTTP_IF_NONE_MATCH=tag).status_code == 200


def test_bulk_matches_a_uuid_in_any_case(api, world):
    passport = world.passport()
    upper = str(passport.uuid).upper()
    data = api.post("/api/passports/bulk/", {"identifiers": [upper]}, format="json").json()
    assert [r["internal_id"] for r in data["results"]] == [passport.internal_id]
    assert data["not_found"] == []


def test_an_import_cannot_link_to_a_predecessor_the_importer_may_not_see(api, world):
    draft = world.passport(publish=False)
    other_maker = make_company("Other maker")
    org = make_org("Other maker compliance", company=other_maker)
    model = BatteryModel.objects.create(
        manufacturer=other_maker,
        model_identifier="OM",
        name="OM",
        category="stationary",
        chemistry="NMC811",
    )
    api.force_authenticate(make_user(org, "compliance_officer"))
    from passports.demo import sample

    response = api.post(
        "/api/passports/import/",
        {
            "battery_model": model.pk,
            "economic_operator": other_maker.pk,
            "predecessor": draft.internal_id,
            "document": sample("repurposed_nmc811_pack"),
        },
        format="json",
    )
    assert response.status_code == 400
    assert "predecessor" in response.json()


def test_viewer_without_grants_is_public():
    assert access.is_public(Requester.anonymous())


def test_an_organisation_without_a_company_manages_no_manufacturers_passports(api, world):
    """The defect: `None in (manufacturer, None)` let any company-less organisation in."""
    model = world.model()
    for kind in ("ngo", "auditor", "research"):
        api.force_authenticate(make_user(make_org(f"A {kind}", kind=kind), "compliance_officer"))
        created = api.post(
            "/api/passports/",
            {
                "battery_model": model.pk,
                "economic_operator": world.manufacturer.pk,
                "battery_identifier": f"SN-{kind}",
                "data": {},
            },
            format="json",
        )
        assert created.status_code == 403
        url = f"/api/passports/models/{model.pk}/"
        tag = api.get(url)["ETag"]
        changed = api.patch(url, {"catenax_extra": {}}, format="json", HTTP_IF_MATCH=tag)
        assert changed.status_code == 403
    assert not model.passports.exists()


def test_linking_an_attestation_you_may_not_see_answers_as_one_that_does_not_exist(api, world):
    model = world.model()
    hidden = make_attestation(
        world.manufacturer, "irma", make_org("Someone's auditor"), visibility="private"
    )
    api.force_authenticate(world.owner)
    url = f"/api/passports/models/{model.pk}/"

    def link(pk):
        tag = api.get(url)["ETag"]
        response = api.patch(url, {"attestations": [pk]}, format="json", HTTP_IF_MATCH=tag)
        return response.status_code, json.dumps(response.json()).replace(str(pk), "<id>")

    assert link(hidden.pk) == link(999999)
    assert link(hidden.pk)[0] == 400
    assert not model.attestations.exists()
