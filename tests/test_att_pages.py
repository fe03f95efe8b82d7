"""Attestations logged and handled on web pages: log with evidence, see, edit, review."""

import datetime as dt
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from registry.models import Attestation, Evidence, Facility, StatusChange
from registry.services import attestation_create
from taxonomy.models import Cell, Mineral, Standard

from .factories import make_attestation, make_company, make_org, make_user

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def today():
    # Asked at each use: a constant taken when the tests are collected is yesterday once
    # a run crosses midnight.
    return dt.date.today()


def pdf(name="audit.pdf"):
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


def facility(company, name):
    return Facility.objects.create(
        company=company,
        name=name,
        kind="smelter_refiner",
        country="CD",
        stage=Cell.objects.get(code="application.refining"),
    )


@pytest.fixture
def world():
    org = make_org("Automaker compliance")
    supplier = make_company("Kolwezi Refining SA", stages=("refining",), country="CD")
    other = make_company("Other Smelter Ltd", stages=("refining",))
    return {
        "org": org,
        "officer": make_user(org, "compliance_officer", username="officer"),
        "reviewer": make_user(org, "reviewer", username="reviewer"),
        "viewer": make_user(org, "viewer", username="viewer"),
        "supplier": supplier,
        "plant": facility(supplier, "Kolwezi Plant"),
        "other": other,
        "foreign_plant": facility(other, "Foreign Plant"),
    }


def form_body(world, **overrides):
    body = {
        "company": world["supplier"].pk,
        "standard": "rmi-rmap",
        "type": "third_party_audit",
        "minerals": [Mineral.objects.get(code="cobalt").pk],
        "facilities": [world["plant"].pk],
        "valid_from": (today() - dt.timedelta(days=30)).isoformat(),
        "valid_until": (today() + dt.timedelta(days=700)).isoformat(),
        "verifier_name": "Demo Assurance",
        "reference": "AUD-7",
        "visibility": "private",
        "evidence": pdf(),
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def log(client, world, user="officer", **overrides):
    client.force_login(world[user])
    return client.post("/attestations/new/", form_body(world, **overrides))


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def buttons(response) -> list[str]:
    """The lifecycle buttons: those of the forms posting to the transition route."""
    forms = re.findall(r'<form[^>]*/transition/".*?</form>', response.content.decode(), re.S)
    return [b for f in forms for b in re.findall(r'<button type="submit">([^<]+)</button>', f)]


# --- logging through the pages -----------------------------------------------------------


def test_an_officer_finds_the_supplier_then_logs_an_attestation_with_a_pdf_seen_on_the_scorecard(
    client, world
):
    client.force_login(world["officer"])
    found = client.get("/attestations/new/", {"q": "kolwezi"})
    assert found.status_code == 200
    assert f'href="?company={world["supplier"].pk}"' in found.content.decode()
    step_two = client.get("/attestations/new/", {"company": world["supplier"].pk})
    assert 'for="id_standard">Standard<' in step_two.content.decode()
    assert "<optgroup" in step_two.content.decode()

    response = log(client, world, type="self_declaration", visibility="public")
    assert response.status_code == 302, text(response)
    attestation = Attestation.objects.get()
    assert response["Location"] == f"/attestations/{attestation.pk}/"
    assert attestation.status == "submitted" and attestation.submitted_by == world["officer"]
    assert list(attestation.facilities.all()) == [world["plant"]]
    evidence = Evidence.objects.get(attestation=attestation)
    assert evidence.filename == "audit.pdf"

    detail = client.get(response["Location"])
    assert f"/api/registry/attestations/{attestation.pk}/evidence/{evidence.pk}/" in text(detail)
    assert client.get(f"/api/registry/attestations/{attestation.pk}/evidence/{evidence.pk}/")[
        "Content-Type"
    ].startswith("application/pdf")
    scorecard = text(client.get(f"/companies/{world['supplier'].pk}/"))
    assert "Log an attestation for this company" in scorecard
    counted = scorecard.split("Attestations counted")[1]
    assert "RMAP" in counted


def test_the_form_offers_only_the_suppliers_facilities_and_refuses_a_forged_one(client, world):
    client.force_login(world["officer"])
    page = client.get("/attestations/new/", {"company": world["supplier"].pk}).content.decode()
    assert "Kolwezi Plant" in page
    assert "Foreign Plant" not in page
    response = log(client, world, facilities=[world["foreign_plant"].pk])
    assert response.status_code == 400
    assert "is not a facility of Kolwezi Refining SA" in text(response)
    assert not Attestation.objects.exists()


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        ({"valid_until": "2020-01-01", "valid_from": "2021-01-01"}, "valid_until", "before it"),
        ({"valid_from": "not-a-date"}, "valid_from", "valid date"),
        ({"valid_from": None}, "valid_from", "required"),
        ({"standard": "no-such-standard"}, "standard", "valid choice"),
        ({"type": "bribe"}, "type", "valid choice"),
        (
            {"evidence": SimpleUploadedFile("tool.exe", b"MZ")},
            "evidence",
            "are not accepted",
        ),
        (
            {"evidence": SimpleUploadedFile("fake.pdf", b"<html>no</html>")},
            "evidence",
            "not a real .pdf",
        ),
        ({"shared_with": "x"}, "shared_with", "only when the visibility"),
        (
            {"visibility": "shared", "shared_with": "Nobody Known\nAlso Unknown"},
            "shared_with",
            "No organisation named &#x27;Nobody Known&#x27;, &#x27;Also Unknown&#x27;",
        ),
        ({"verifier": "No Such Auditor"}, "verifier", "No organisation named"),
    ],
)
def test_bad_input_is_a_form_error_next_to_its_field_and_nothing_is_saved(
    client, world, overrides, field, message
):
    if overrides.get("shared_with") == "x":
        overrides = {"shared_with": world["org"].name}
    response = log(client, world, **overrides)
    assert response.status_code == 400
    html = text(response)
    # the error is rendered inside the field's paragraph or fieldset
    block = html.split(f'for="id_{field}')[1].split("</p>")[0]
    assert message in block, html
    assert not Attestation.objects.exists()
    assert not Evidence.objects.exists()


def test_a_wrong_supplier_id_is_a_clear_400_not_a_500(client, world):
    client.force_login(world["officer"])
    for bad in ("999999", "abc", "1e9"):
        response = client.get("/attestations/new/", {"company": bad})
        assert response.status_code == 400
        assert "No supplier with id" in text(response)
    response = client.post("/attestations/new/", {**form_body(world), "company": "999999"})
    assert response.status_code == 400
    assert not Attestation.objects.exists()


def test_an_evidence_file_refused_leaves_no_attestation_behind(client, world):
    """All or nothing: the file is checked in the same transaction as the attestation."""
    response = log(client, world, evidence=SimpleUploadedFile("big.txt", b"\xff\xfe" * 2000))
    assert response.status_code == 400
    assert "not UTF-8 text" in text(response)
    assert Attestation.objects.count() == 0
    assert StatusChange.objects.count() == 0


def test_a_viewer_may_not_log_and_gets_a_403(client, world):
    client.force_login(world["viewer"])
    assert client.get("/attestations/new/").status_code == 403
    assert client.post("/attestations/new/", form_body(world)).status_code == 403
    assert not Attestation.objects.exists()


# --- the attestation's page ----------------------------------------------------------------


def test_the_detail_page_lists_covered_cells_by_name_including_inherited_ones(client, world):
    attestation = make_attestation(world["supplier"], "rmi-rmap", world["org"])
    html = text(client.get(f"/attestations/{attestation.pk}/"))
    assert "<h3>Content</h3>" in html or "<h3>Content " in html
    oecd = Standard.objects.get(code="oecd-ddg").short_name
    assert f"inherited from {oecd}" in html
    # cell names, not codes
    assert "content.human_rights" not in html
    assert Cell.objects.get(code="content.human_rights").label in html
    assert f'href="/standards/{attestation.standard.code}/"' in html
    assert f'href="/companies/{world["supplier"].pk}/"' in html


def test_from_submitted_a_reviewer_is_offered_start_review_not_verify_and_told_why(client, world):
    client.force_login(world["officer"])
    log(client, world)
    attestation = Attestation.objects.get()
    client.force_login(world["reviewer"])
    page = client.get(f"/attestations/{attestation.pk}/")
    assert buttons(page) == ["Start review"]
    assert "Verify becomes available once it is under review." in text(page)
    # the officer who logged it may not review it at all
    client.force_login(world["officer"])
    assert buttons(client.get(f"/attestations/{attestation.pk}/")) == []


def test_verify_posted_too_early_shows_the_lifecycle_message_not_a_500(client, world):
    attestation = make_attestation(world["supplier"], "irma", world["org"], timeline=())
    client.force_login(world["reviewer"])
    response = client.post(f"/attestations/{attestation.pk}/transition/", {"to": "verified"})
    assert response.status_code == 409
    assert "cannot go from submitted to verified" in text(response)
    for bad in ({"to": "banana"}, {}, {"to": "under_review", "note": "x" * 501}):
        assert client.post(f"/attestations/{attestation.pk}/transition/", bad).status_code == 400
    assert Attestation.objects.get(pk=attestation.pk).status == "submitted"


def test_a_reviewer_verifies_through_the_buttons_and_the_scorecard_changes(client, world):
    client.force_login(world["officer"])
    log(client, world, visibility="public")
    attestation = Attestation.objects.get()
    scorecard_url = f"/companies/{world['supplier'].pk}/"
    before = text(client.get(scorecard_url)).split("Attestations counted")[1]
    assert "None you may see on this date" in before

    client.force_login(world["reviewer"])
    url = f"/attestations/{attestation.pk}/transition/"
    moved = client.post(url, {"to": "under_review", "note": "looking"}, follow=True)
    assert "Start review: done" in text(moved)
    assert buttons(moved) == ["Verify", "Reject"]
    done = client.post(url, {"to": "verified"}, follow=True)
    assert "now verified" in text(done)
    history = text(done).split("Status history")[1]
    assert "reviewer" in history and "looking" in history

    after = text(client.get(scorecard_url)).split("Attestations counted")[1]
    assert "None you may see on this date" not in after
    assert "RMAP" in after


def test_the_submitter_cannot_verify_on_the_page_even_as_staff(client, world):
    staff = make_user(world["org"], "reviewer", username="staffer", is_staff=True)
    attestation = attestation_create(
        user=staff,
        company=world["supplier"],
        standard=Standard.objects.get(code="irma"),
        type="third_party_audit",
        valid_from=today() - dt.timedelta(days=3),
    )
    client.force_login(staff)
    client.post(f"/attestations/{attestation.pk}/transition/", {"to": "under_review"})
    page = client.get(f"/attestations/{attestation.pk}/")
    assert "Verify" not in buttons(page)
    assert "cannot verify it" in text(page)
    refused = client.post(f"/attestations/{attestation.pk}/transition/", {"to": "verified"})
    assert refused.status_code == 403
    assert "The person who submitted an attestation cannot verify it." in text(refused)
    assert Attestation.objects.get(pk=attestation.pk).status == "under_review"


def test_the_submitter_cannot_verify_through_the_api_even_as_staff(world):
    staff = make_user(None, username="staffer", is_staff=True)
    attestation = attestation_create(
        user=staff,
        owner_id=world["org"].pk,
        company=world["supplier"],
        standard=Standard.objects.get(code="irma"),
        type="third_party_audit",
        valid_from=today() - dt.timedelta(days=3),
    )
    api = APIClient()
    api.force_authenticate(staff)
    url = f"/api/registry/attestations/{attestation.pk}/"
    assert api.post(url + "transition/", {"to": "under_review"}, format="json").status_code == 200
    assert api.get(url).json()["allowed_transitions"] == ["rejected"]
    refused = api.post(url + "transition/", {"to": "verified"}, format="json")
    assert refused.status_code == 403
    assert "cannot verify" in refused.content.decode()
    other = APIClient()
    other.force_authenticate(make_user(None, username="other-staff", is_staff=True))
    assert other.get(url).json()["allowed_transitions"] == ["verified", "rejected"]
    assert other.post(url + "transition/", {"to": "verified"}, format="json").status_code == 200


def test_another_organisations_private_attestation_is_a_404_like_a_missing_id(client, world):
    private = make_attestation(
        world["supplier"], "irma", make_org("Someone else"), visibility="private"
    )
    client.force_login(world["officer"])
    hidden = client.get(f"/attestations/{private.pk}/")
    missing = client.get("/attestations/999999/")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.content.decode().replace(
        f"/attestations/{private.pk}/", "/attestations/<id>/"
    ) == (missing.content.decode().replace("/attestations/999999/", "/attestations/<id>/"))
    for suffix, method in (("edit/", "get"), ("transition/", "post")):
        assert getattr(client, method)(f"/attestations/{private.pk}/{suffix}").status_code == 404
    assert f"/attestations/{private.pk}/" not in text(client.get("/attestations/"))


# --- editing -------------------------------------------------------------------------------


def test_an_officer_edits_the_attestation_prefilled_and_adds_evidence(client, world):
    client.force_login(world["officer"])
    log(client, world)
    attestation = Attestation.objects.get()
    url = f"/attestations/{attestation.pk}/edit/"
    page = client.get(url).content.decode()
    assert 'value="AUD-7"' in page
    assert 'value="rmi-rmap" selected' in page
    body = form_body(world, reference="AUD-8", evidence=pdf("second.pdf"))
    body["version"] = attestation.version
    body["evidence"] = SimpleUploadedFile("second.txt", b"second report")
    response = client.post(url, body)
    assert response.status_code == 302, text(response)
    attestation.refresh_from_db()
    assert attestation.reference == "AUD-8"
    assert attestation.evidence.count() == 2
    stale = client.post(url, {**form_body(world, reference="AUD-9"), "version": 1})
    assert stale.status_code == 409
    assert "changed since you read it" in text(stale)


def test_a_verified_attestations_substance_is_locked_on_the_edit_page(client, world):
    attestation = make_attestation(world["supplier"], "irma", world["org"])
    client.force_login(world["officer"])
    url = f"/attestations/{attestation.pk}/edit/"
    assert "cannot change any more" in text(client.get(url))
    body = form_body(world, reference="CHANGED", visibility="public", evidence=None)
    body["version"] = attestation.version
    assert client.post(url, body).status_code == 302
    attestation.refresh_from_db()
    assert attestation.visibility == "public"
    assert attestation.reference == ""  # locked field: the posted value is ignored


def test_verifier_and_sharing_are_named_not_picked_from_a_menu_of_every_organisation(client, world):
    auditor = make_org("Kivu Assurance", kind="auditor")
    ngo = make_org("Watch Group", kind="ngo")
    client.force_login(world["officer"])
    page = client.get("/attestations/new/", {"company": world["supplier"].pk}).content.decode()
    assert "<option" not in page.split('id="id_verifier"')[1].split("</p>")[0]
    response = log(
        client,
        world,
        verifier="kivu assurance",
        visibility="shared",
        shared_with="Watch Group\n  \nAutomaker compliance",
    )
    assert response.status_code == 302, text(response)
    attestation = Attestation.objects.get()
    assert attestation.verifier == auditor
    assert set(attestation.shared_with.all()) == {ngo, world["org"]}
    edit = client.get(f"/attestations/{attestation.pk}/edit/").content.decode()
    assert 'value="Kivu Assurance"' in edit
    assert "Automaker compliance\nWatch Group" in edit
