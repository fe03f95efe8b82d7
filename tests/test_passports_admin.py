"""Manufacturers manage models and passports in the admin; versions are read-only there."""

import json

import pytest

from passports import services
from passports.models import BatteryModel

pytestmark = pytest.mark.django_db


def test_admin_lists_and_publishes_and_shows_versions_read_only(client, admin_user, world):
    client.force_login(admin_user)
    draft = world.passport(publish=False)
    assert client.get("/admin/passports/batterypassport/").status_code == 200
    response = client.post(
        "/admin/passports/batterypassport/",
        {"action": "publish", "_selected_action": [draft.pk]},
        follow=True,
    )
    assert "published" in response.content.decode()
    draft.refresh_from_db()
    assert draft.lifecycle == "published"
    version = draft.versions.get()
    page = client.get(f"/admin/passports/passportversion/{version.pk}/change/")
    assert page.status_code == 200
    assert 'name="note"' not in page.content.decode()  # no editable field
    assert client.post(f"/admin/passports/passportversion/{version.pk}/delete/").status_code == 403
    assert client.get("/admin/passports/batterymodel/").status_code == 200
    assert client.get("/admin/passports/passportattribute/").status_code == 200


# --- Battery models: one GTIN, one model ---------------------------------------------------

GTIN14 = "09520000000011"  # GS1 prefix 952: for examples
GTIN13 = "9520000000011"


def model_form(world, identifier: str, gtin: str) -> dict:
    return {
        "manufacturer": world.manufacturer.pk,
        "model_identifier": identifier,
        "name": identifier,
        "category": "ev",
        "chemistry": "NMC811",
        "gtin": gtin,
        "data": "{}",
        "catenax_extra": "{}",
    }


def test_admin_refuses_a_gtin_another_model_has_in_any_length(client, admin_user, world):
    client.force_login(admin_user)
    holder = world.model(identifier="HOLDER-1")
    BatteryModel.objects.filter(pk=holder.pk).update(gtin=GTIN14)
    response = client.post(
        "/admin/passports/batterymodel/add/", model_form(world, "SECOND-1", GTIN13)
    )
    assert response.status_code == 200  # the form again, with the error
    assert f"GTIN {GTIN14} is already the GTIN of battery model HOLDER-1" in (
        response.content.decode()
    )
    assert not BatteryModel.objects.filter(model_identifier="SECOND-1").exists()


def test_admin_gtin_taken_while_the_form_is_saved_is_a_form_error(
    client, admin_user, world, monkeypatch
):
    """Another model takes the GTIN after this form was checked (two saves at once)."""
    from passports.admin import BatteryModelAdmin

    client.force_login(admin_user)
    rival = world.model(identifier="RIVAL-2")
    checked = BatteryModelAdmin.save_form

    def then_taken(self, request, form, change):
        BatteryModel.objects.filter(pk=rival.pk).update(gtin=GTIN14)
        return checked(self, request, form, change)

    monkeypatch.setattr(BatteryModelAdmin, "save_form", then_taken)
    response = client.post(
        "/admin/passports/batterymodel/add/", model_form(world, "RACER-3", GTIN13)
    )
    assert response.status_code == 200  # the form again, with the error
    page = response.content.decode()
    assert f"GTIN {GTIN14} is already the GTIN" in page
    assert 'name="model_identifier" value="RACER-3"' in page  # what was typed is kept
    assert not BatteryModel.objects.filter(model_identifier="RACER-3").exists()


# --- Passports: predecessors make no cycle -------------------------------------------------


def passport_form(passport, predecessor) -> dict:
    form = {
        "battery_model": passport.battery_model_id,
        "battery_identifier": passport.battery_identifier,
        "economic_operator": passport.economic_operator_id,
        "battery_status": passport.battery_status,
        "predecessor": predecessor.pk,
        "data": json.dumps(passport.data),
    }
    for prefix in ("versions", "readings"):
        form |= {
            f"{prefix}-TOTAL_FORMS": 0,
            f"{prefix}-INITIAL_FORMS": 0,
            f"{prefix}-MIN_NUM_FORMS": 0,
            f"{prefix}-MAX_NUM_FORMS": 1000,
        }
    return form


@pytest.mark.parametrize("loop", ["itself", "its successor"])
def test_admin_refuses_a_predecessor_that_would_make_a_cycle(client, admin_user, world, loop):
    client.force_login(admin_user)
    first = world.passport(publish=False)
    second = services.passport_create(
        battery_model=first.battery_model,
        battery_identifier="NEXT-1",
        economic_operator=world.operator,
        predecessor=first,
    )
    chosen = first if loop == "itself" else second
    response = client.post(
        f"/admin/passports/batterypassport/{first.pk}/change/", passport_form(first, chosen)
    )
    assert response.status_code == 200  # the form again, with the error
    page = response.content.decode()
    assert f"{chosen.internal_id} cannot be the predecessor of {first.internal_id}" in page
    assert "cycle" in page
    first.refresh_from_db()
    assert first.predecessor_id is None


def test_admin_still_sets_a_predecessor_that_makes_no_cycle(client, admin_user, world):
    client.force_login(admin_user)
    first = world.passport(publish=False)
    other = world.passport(publish=False, model=first.battery_model, serial="OTHER-1")
    response = client.post(
        f"/admin/passports/batterypassport/{other.pk}/change/", passport_form(other, first)
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    other.refresh_from_db()
    assert other.predecessor_id == first.pk
