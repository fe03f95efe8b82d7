"""Compliance officers log attestations; reviewers move them through their lifecycle."""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from registry.models import Attestation, Evidence, StatusChange

from .factories import make_attestation, make_company, make_org, make_user

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def world():
    org = make_org("Automaker compliance")
    auditor = make_org("Demo Assurance", kind="auditor")
    return {
        "org": org,
        "auditor": auditor,
        "officer": make_user(org, "compliance_officer", username="officer"),
        "reviewer": make_user(org, "reviewer", username="reviewer"),
        "outsider": make_user(make_org("Elsewhere"), "compliance_officer", username="outsider"),
        "supplier": make_company("Supplier Refining Co"),
    }


def create(api, world, **overrides):
    api.force_authenticate(world["officer"])
    body = {
        "company": world["supplier"].pk,
        "standard": "rmi-rmap",
        "type": "third_party_audit",
        "valid_from": "2025-01-01",
        "valid_until": "2027-12-31",
        "minerals": ["cobalt"],
        "visibility": "private",
        "reference": "AUD-1",
    }
    body.update(overrides)
    return api.post("/api/registry/attestations/", body, format="json")


def move(api, user, attestation_id, to, **extra):
    api.force_authenticate(user)
    return api.post(
        f"/api/registry/attestations/{attestation_id}/transition/",
        {"to": to, **extra},
        format="json",
    )


def test_an_officer_logs_an_attestation_as_their_own_organisation(api, world):
    response = create(api, world)
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["status"] == "submitted"
    assert data["owner"] == world["org"].pk
    assert data["submitted_by"] == "officer"
    assert data["status_changes"][0]["to_status"] == "submitted"


def test_logging_as_another_organisation_is_forbidden(api, world):
    response = create(api, world, owner=world["auditor"].pk)
    assert response.status_code == 403
    assert Attestation.objects.count() == 0


def test_viewers_and_anonymous_users_cannot_log(api, world):
    assert api.post("/api/registry/attestations/", {}, format="json").status_code in (401, 403)
    viewer = make_user(world["org"], "viewer")
    api.force_authenticate(viewer)
    response = api.post(
        "/api/registry/attestations/",
        {
            "company": world["supplier"].pk,
            "standard": "irma",
            "type": "certification",
            "valid_from": "2025-01-01",
        },
        format="json",
    )
    assert response.status_code == 403


def test_full_review_lifecycle(api, world):
    aid = create(api, world).json()["id"]
    assert move(api, world["reviewer"], aid, "under_review").status_code == 200
    verified = move(api, world["reviewer"], aid, "verified", reason="audit report checked")
    assert verified.status_code == 200
    assert verified.json()["status"] == "verified"
    assert verified.json()["reviewed_by"] == "reviewer"
    assert move(api, world["reviewer"], aid, "suspended").json()["status"] == "suspended"
    assert move(api, world["reviewer"], aid, "verified").json()["status"] == "verified"
    assert move(api, world["reviewer"], aid, "revoked").json()["status"] == "revoked"
    history = [c.to_status for c in StatusChange.objects.filter(attestation_id=aid)]
    assert history == ["submitted", "under_review", "verified", "suspended", "verified", "revoked"]


@pytest.mark.parametrize(
    ("path", "forbidden"),
    [
        ([], "verified"),
        ([], "expired"),
        (["under_review", "verified", "revoked"], "verified"),
        (["under_review", "rejected"], "verified"),
        (["under_review", "verified"], "submitted"),
    ],
)
def test_transitions_outside_the_lifecycle_are_refused_with_409(api, world, path, forbidden):
    aid = create(api, world).json()["id"]
    for status in path:
        assert move(api, world["reviewer"], aid, status).status_code == 200
    before = Attestation.objects.get(pk=aid).status
    response = move(api, world["reviewer"], aid, forbidden)
    assert response.status_code == 409
    assert f"to {forbidden}" in response.json()["detail"]
    assert Attestation.objects.get(pk=aid).status == before


def test_the_submitter_cannot_verify_their_own_attestation(api, world):
    aid = create(api, world).json()["id"]
    move(api, world["reviewer"], aid, "under_review")
    assert move(api, world["officer"], aid, "verified").status_code == 403


def test_a_member_of_the_named_verifier_may_review(api, world):
    aid = create(api, world, verifier=world["auditor"].pk).json()["id"]
    auditor = make_user(world["auditor"], "reviewer")
    assert move(api, auditor, aid, "under_review").status_code == 200
    assert move(api, auditor, aid, "verified").status_code == 200


def test_an_unknown_status_is_a_400(api, world):
    aid = create(api, world).json()["id"]
    assert move(api, world["reviewer"], aid, "approved").status_code == 400


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"valid_from": "2026-01-01", "valid_until": "2025-01-01"}, "valid_until"),
        ({"standard": "no-such-standard"}, "standard"),
        ({"minerals": ["unobtainium"]}, "minerals"),
        ({"type": "rumour"}, "type"),
        ({"company": 999999}, "company"),
        ({"shared_with": [1], "visibility": "public"}, "shared_with"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_nothing_is_saved(api, world, overrides, field):
    response = create(api, world, **overrides)
    assert response.status_code == 400
    assert field in response.json()
    assert Attestation.objects.count() == 0
    assert StatusChange.objects.count() == 0


def test_a_stale_version_is_refused_so_no_edit_is_lost(api, world):
    data = create(api, world).json()
    url = f"/api/registry/attestations/{data['id']}/"
    first = api.patch(url, {"notes": "first", "version": data["version"]}, format="json")
    assert first.status_code == 200
    assert first.json()["version"] == data["version"] + 1
    stale = api.patch(url, {"notes": "second", "version": data["version"]}, format="json")
    assert stale.status_code == 409
    assert Attestation.objects.get(pk=data["id"]).notes == "first"
    via_header = api.patch(
        url, {"notes": "third"}, format="json", HTTP_IF_MATCH=f'"{data["version"]}"'
    )
    assert via_header.status_code == 409


def edit(api, aid, data):
    """A change as a client makes it: with the version it read."""
    url = f"/api/registry/attestations/{aid}/"
    return api.patch(url, {**data, "version": api.get(url).json()["version"]}, format="json")


def test_an_edit_that_names_no_version_is_428_and_changes_nothing(api, world):
    aid = create(api, world).json()["id"]
    url = f"/api/registry/attestations/{aid}/"
    response = api.patch(url, {"notes": "last writer wins?"}, format="json")
    assert response.status_code == 428
    assert "version" in response.json()["detail"]
    assert api.get(url).json()["notes"] != "last writer wins?"


def test_an_owner_cannot_hand_an_attestation_to_another_organisation(api, world):
    aid = create(api, world).json()["id"]
    stranger = make_org("Somebody else")
    response = edit(api, aid, {"owner": stranger.pk})
    assert response.status_code == 403
    assert Attestation.objects.get(pk=aid).owner_id != stranger.pk


def test_what_was_verified_cannot_be_rewritten(api, world):
    aid = create(api, world).json()["id"]
    move(api, world["reviewer"], aid, "under_review")
    move(api, world["reviewer"], aid, "verified")
    api.force_authenticate(world["officer"])
    response = edit(api, aid, {"valid_until": "2030-01-01"})
    assert response.status_code == 409
    assert edit(api, aid, {"notes": "fine"}).status_code == 200


def test_every_change_is_kept_with_who_and_when(api, world):
    aid = create(api, world).json()["id"]
    assert edit(api, aid, {"notes": "typo fixed"}).status_code == 200
    move(api, world["reviewer"], aid, "under_review")
    api.force_authenticate(world["officer"])
    history = api.get(f"/api/registry/attestations/{aid}/history/").json()
    assert [h["status"] for h in history] == ["under_review", "submitted", "submitted"]
    assert history[0]["changed_by"] == "reviewer"
    assert history[1]["changed_by"] == "officer"


def test_attestations_cannot_be_deleted(api, world):
    aid = create(api, world).json()["id"]
    assert api.delete(f"/api/registry/attestations/{aid}/").status_code == 405


def test_visibility_of_attestations_for_each_kind_of_requester(api, world):
    partner = make_org("Partner NGO", kind="ngo")
    private = make_attestation(world["supplier"], "irma", world["org"], visibility="private")
    shared = make_attestation(
        world["supplier"], "rmi-rmap", world["org"], visibility="shared", shared_with=[partner]
    )
    public = make_attestation(world["supplier"], "lme-rsr", world["org"], visibility="public")

    def seen(user):
        api.force_authenticate(user)
        return {a["id"] for a in api.get("/api/registry/attestations/").json()["results"]}

    assert seen(None) == {public.pk}
    assert seen(world["outsider"]) == {public.pk}
    assert seen(make_user(partner, "viewer")) == {public.pk, shared.pk}
    assert seen(world["officer"]) == {public.pk, shared.pk, private.pk}
    api.force_authenticate(world["outsider"])
    assert api.get(f"/api/registry/attestations/{private.pk}/").status_code == 404


# --- Evidence -------------------------------------------------------------


def upload(api, user, aid, name, content):
    api.force_authenticate(user)
    return api.post(
        f"/api/registry/attestations/{aid}/evidence/",
        {"file": SimpleUploadedFile(name, content)},
        format="multipart",
    )


def test_evidence_is_stored_with_its_sha256_size_and_type(api, world):
    aid = create(api, world).json()["id"]
    response = upload(api, world["officer"], aid, "audit-report.pdf", PDF)
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert data["size"] == len(PDF)
    assert data["content_type"] == "application/pdf"
    download = api.get(data["download"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF
    assert download["Digest"] == f"sha-256={data['sha256']}"


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("malware.exe", b"MZ\x90\x00", ".exe"),
        ("fake.pdf", b"<html>not a pdf</html>", "not a real .pdf"),
        ("noext", b"hello", "(none)"),
    ],
)
def test_evidence_of_a_forbidden_or_disguised_type_is_refused(api, world, name, content, needle):
    aid = create(api, world).json()["id"]
    response = upload(api, world["officer"], aid, name, content)
    assert response.status_code == 400
    assert needle in str(response.json())
    assert Evidence.objects.count() == 0


def test_evidence_over_the_size_limit_is_refused(api, world, settings):
    settings.EVIDENCE_MAX_BYTES = 1000
    aid = create(api, world).json()["id"]
    response = upload(api, world["officer"], aid, "big.csv", b"a,b\n" * 500)
    assert response.status_code == 400
    assert "limit is 1000 bytes" in str(response.json())
    assert Evidence.objects.count() == 0


def test_the_same_file_twice_is_a_409(api, world):
    aid = create(api, world).json()["id"]
    assert upload(api, world["officer"], aid, "a.pdf", PDF).status_code == 201
    assert upload(api, world["officer"], aid, "copy.pdf", PDF).status_code == 409


def test_evidence_of_an_attestation_you_cannot_see_is_not_served(api, world):
    aid = create(api, world).json()["id"]
    data = upload(api, world["officer"], aid, "a.pdf", PDF).json()
    api.force_authenticate(world["outsider"])
    assert api.get(data["download"]).status_code == 404
    assert upload(api, world["outsider"], aid, "b.pdf", PDF + b" ").status_code == 404
