"""Data keepers manage attestations in the admin: evidence, status actions, history."""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from registry.models import Attestation, Evidence

from .factories import make_attestation, make_company, make_org

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n%%EOF\n"


@pytest.fixture
def attestation():
    return make_attestation(
        make_company("Admin Co"),
        "irma",
        make_org("Admin org"),
        timeline=[("under_review", "2025-01-02")],
    )


def test_status_actions_follow_the_lifecycle(client, admin_user, attestation):
    client.force_login(admin_user)
    url = "/admin/registry/attestation/"
    response = client.post(
        url, {"action": "make_verified", "_selected_action": [attestation.pk]}, follow=True
    )
    assert response.status_code == 200
    attestation.refresh_from_db()
    assert attestation.status == "verified"
    assert attestation.reviewed_by == admin_user
    # An action outside the lifecycle is reported and changes nothing.
    response = client.post(
        url, {"action": "make_submitted", "_selected_action": [attestation.pk]}, follow=True
    )
    assert "cannot go from verified to submitted" in response.content.decode()
    attestation.refresh_from_db()
    assert attestation.status == "verified"


def test_evidence_uploaded_in_the_admin_is_hashed(client, admin_user, attestation):
    client.force_login(admin_user)
    url = f"/admin/registry/attestation/{attestation.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    form = {
        "company": attestation.company_id,
        "standard": attestation.standard_id,
        "type": attestation.type,
        "valid_from": "2024-01-01",
        "owner": attestation.owner_id,
        "visibility": attestation.visibility,
        "notes": "checked",
        "reference": "",
        "verifier_name": "",
        "evidence-TOTAL_FORMS": "1",
        "evidence-INITIAL_FORMS": "0",
        "evidence-0-file": SimpleUploadedFile("report.pdf", PDF),
        "status_changes-TOTAL_FORMS": "2",
        "status_changes-INITIAL_FORMS": "2",
    }
    for i, change in enumerate(attestation.status_changes.all()):
        form[f"status_changes-{i}-id"] = change.pk
        form[f"status_changes-{i}-attestation"] = attestation.pk
    response = client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    evidence = Evidence.objects.get()
    assert evidence.sha256 == hashlib.sha256(PDF).hexdigest()
    assert Attestation.objects.get(pk=attestation.pk).notes == "checked"


def test_a_forbidden_evidence_file_is_a_form_error_in_the_admin(client, admin_user, attestation):
    client.force_login(admin_user)
    url = f"/admin/registry/attestation/{attestation.pk}/change/"
    response = client.post(
        url,
        {
            "company": attestation.company_id,
            "standard": attestation.standard_id,
            "type": attestation.type,
            "valid_from": "2024-01-01",
            "owner": attestation.owner_id,
            "visibility": attestation.visibility,
            "evidence-TOTAL_FORMS": "1",
            "evidence-INITIAL_FORMS": "0",
            "evidence-0-file": SimpleUploadedFile("tool.exe", b"MZ"),
            "status_changes-TOTAL_FORMS": "0",
            "status_changes-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "not accepted" in response.content.decode()
    assert not Evidence.objects.exists()


def test_history_page_lists_every_change(client, admin_user, attestation):
    client.force_login(admin_user)
    client.post(
        "/admin/registry/attestation/",
        {"action": "make_verified", "_selected_action": [attestation.pk]},
    )
    html = client.get(f"/admin/registry/attestation/{attestation.pk}/history/").content.decode()
    assert admin_user.username in html


def test_attestations_cannot_be_deleted_in_the_admin(client, admin_user, attestation):
    client.force_login(admin_user)
    response = client.get(f"/admin/registry/attestation/{attestation.pk}/delete/")
    assert response.status_code == 403


def test_mine_owner_shares_over_100_are_refused_in_the_admin(client, admin_user):
    a, b = make_company("Owner A"), make_company("Owner B")
    client.force_login(admin_user)
    response = client.post(
        "/admin/registry/minedsource/add/",
        {
            "name": "Admin JV",
            "country": "ID",
            "method": "industrial",
            "region": "",
            "cahra_basis": "",
            "minerals": [],
            "ownerships-TOTAL_FORMS": "2",
            "ownerships-INITIAL_FORMS": "0",
            "ownerships-0-company": a.pk,
            "ownerships-0-share_pct": "70",
            "ownerships-1-company": b.pk,
            "ownerships-1-share_pct": "40",
        },
    )
    assert response.status_code == 200
    assert "over 100%" in response.content.decode()


def test_each_listed_attestation_has_a_labelled_checkbox_for_the_actions(
    client, admin_user, attestation
):
    client.force_login(admin_user)
    page = client.get("/admin/registry/attestation/?q=Admin").content.decode()
    assert (
        f'<input type="checkbox" name="_selected_action" value="{attestation.pk}" '
        'class="action-select" aria-label="Select this object for an action - '
    ) in page
    assert 'id="action-toggle"' in page  # the select-all box in the header
