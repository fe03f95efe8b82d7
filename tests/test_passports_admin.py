"""Manufacturers manage models and passports in the admin; versions are read-only there."""

import pytest

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
