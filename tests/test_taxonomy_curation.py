"""Curation that keeps the taxonomy true: a change to reference data is a proposal with its
source and reason, applies only when a second person approves it, shows who, when and
why on the standard's page, and survives reloads of the reference files."""

import datetime as dt
import re
import shutil

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.utils import timezone

from taxonomy.models import (
    ProposalStatus,
    ReferenceProposal,
    Standard,
    StandardCell,
    StandardLink,
    StandardStatusChange,
)
from taxonomy.services import STANDARDS_FILE, TIME_FILE, approve, load_standards, propose, reject

from .factories import make_org, make_user

pytestmark = pytest.mark.django_db

CELL = "content.labor_rights"  # IRMA covers it: Ch. 3.1, 3.2 in standards.yaml
NEW_JUDGEMENT = {"cell": CELL, "clause": "Ch. 3.1-3.3", "basis": "Fair labour, OHS, child labour"}


@pytest.fixture
def org():
    return make_org("Curators")


@pytest.fixture
def officer(org):
    return make_user(org, username="olga", first_name="Olga", last_name="Officer")


@pytest.fixture
def reviewer(org):
    return make_user(org, "reviewer", username="rita", first_name="Rita", last_name="Reviewer")


@pytest.fixture
def irma():
    return Standard.objects.get(code="irma")


def judgement(standard, cell=CELL):
    found = StandardCell.objects.filter(standard=standard, cell__code=cell).first()
    return (found.clause, found.basis) if found else None


def propose_labour(user, standard, reason="The 2.0 text adds child labour to Ch. 3.3"):
    return propose(
        user, standard, "cell_set", NEW_JUDGEMENT, "https://responsiblemining.net/irma-2", reason
    )


# --- Four eyes ------------------------------------------------------------------------


def test_a_proposal_changes_nothing_until_approved(officer, irma, client):
    before = judgement(irma)
    proposal = propose_labour(officer, irma)
    assert proposal.status == ProposalStatus.PROPOSED
    assert judgement(irma) == before
    html = client.get("/standards/irma/").content.decode()
    assert "Ch. 3.1-3.3" not in html
    assert "1 proposal waiting for review" in html


def test_the_proposer_cannot_approve_their_own_proposal(irma):
    staff = make_user(None, username="sam", is_staff=True)  # even staff need a second person
    proposal = propose_labour(staff, irma)
    with pytest.raises(PermissionDenied):
        approve(staff, proposal.pk)
    client = Client()
    client.force_login(staff)
    response = client.post(f"/standards/proposals/{proposal.pk}/approve/")
    assert response.status_code == 403
    page = client.get("/standards/proposals/").content.decode()
    assert "another reviewer decides" in page
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.PROPOSED
    assert judgement(irma) != (NEW_JUDGEMENT["clause"], NEW_JUDGEMENT["basis"])


def test_an_approved_proposal_changes_the_judgement_and_shows_who_when_and_why(
    officer, reviewer, irma, client
):
    proposal = propose_labour(officer, irma)
    approve(reviewer, proposal.pk, note="Checked against the 2.0 text")
    assert judgement(irma) == ("Ch. 3.1-3.3", "Fair labour, OHS, child labour")
    proposal.refresh_from_db()
    assert proposal.reviewed_by == reviewer and proposal.reviewed_at is not None
    html = client.get("/standards/irma/").content.decode()
    assert "Ch. 3.1-3.3" in html  # the judgement in the matrix
    when = f"{timezone.localtime(proposal.reviewed_at):%Y-%m-%d}"
    assert re.search(rf"Last reviewed:\s*<strong>{when}</strong>", html)
    assert "by Rita Reviewer, approving proposal" in html
    assert "The 2.0 text adds child labour to Ch. 3.3" in html  # why
    assert "Olga Officer" in html  # who proposed
    assert "Checked against the 2.0 text" in html


def test_an_approved_change_is_kept_in_history_with_its_reviewer_and_reason(
    officer, reviewer, irma
):
    proposal = propose_labour(officer, irma)
    approve(reviewer, proposal.pk)
    row = StandardCell.objects.get(standard=irma, cell__code=CELL).history.first()
    assert row.history_user == reviewer
    assert row.history_change_reason.startswith(f"proposal #{proposal.pk}: The 2.0 text")
    assert [h.status for h in proposal.history.order_by("history_date")] == [
        "proposed",
        "approved",
    ]


def test_a_rejected_proposal_changes_nothing(officer, reviewer, irma, client):
    before = judgement(irma)
    proposal = propose_labour(officer, irma)
    with pytest.raises(ValidationError):
        reject(reviewer, proposal.pk, note="  ")  # a rejection says why
    reject(reviewer, proposal.pk, note="The 2.0 text is still a draft")
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.REJECTED
    assert proposal.review_note == "The 2.0 text is still a draft"
    assert judgement(irma) == before
    assert "Ch. 3.1-3.3" not in client.get("/standards/irma/").content.decode()
    with pytest.raises(ValidationError):
        approve(reviewer, proposal.pk)  # decided once


def test_every_kind_of_change_applies_on_approval(officer, reviewer, irma):
    changes = [
        ("cell_set", {"cell": "application.refining", "clause": "", "basis": "Processing draft"}),
        ("cell_remove", {"cell": "content.climate_change"}),
        ("criterion", {"criterion": "transparent", "value": False, "basis": "Reports lag"}),
        ("link_set", {"target": "rmi-rmap", "kind": "references", "note": "Mutual recognition"}),
        ("link_remove", {"target": "oecd-ddg", "kind": "references"}),
        ("status_add", {"date": "2026-06-01", "status": "in_force", "note": "IRMA 2.0 adopted"}),
        ("status_remove", {"date": "2018-06-28", "status": "in_force"}),
    ]
    for kind, payload in changes:
        approve(reviewer, propose(officer, irma, kind, payload, "irma.org", "Re-read").pk)
    irma.refresh_from_db()
    assert judgement(irma, "application.refining") == ("", "Processing draft")
    assert judgement(irma, "content.climate_change") is None
    assert (irma.transparent, irma.transparent_basis) == (False, "Reports lag")
    links = set(StandardLink.objects.filter(source=irma).values_list("target__code", "note"))
    assert ("rmi-rmap", "Mutual recognition") in links
    assert "oecd-ddg" not in {target for target, _ in links}
    changes_on = set(StandardStatusChange.objects.filter(standard=irma).values_list("on", "note"))
    assert (dt.date(2026, 6, 1), "IRMA 2.0 adopted") in changes_on
    assert dt.date(2018, 6, 28) not in {on for on, _ in changes_on}
    added = StandardStatusChange.objects.get(standard=irma, on="2026-06-01")
    assert added.source == "irma.org"  # a status change cites the proposal's source


# --- Checked by the reference file's rules ----------------------------------------------


@pytest.mark.parametrize(
    "kind, payload, problem",
    [
        ("cell_remove", {"cell": "scope.universal"}, "exactly one scope cell"),
        ("cell_set", {"cell": "scope.limited", "clause": "", "basis": "x"}, "one scope cell"),
        ("cell_set", {"cell": "content.nonsense", "clause": "", "basis": "x"}, "is not one of"),
        ("cell_set", {"cell": CELL, "clause": "Ch. 3.1", "basis": ""}, "should be non-empty"),
        ("cell_remove", {"cell": "application.cell"}, "does not cover it"),
        ("criterion", {"criterion": "popular", "value": True, "basis": "x"}, "is not one of"),
        ("criterion", {"criterion": "transparent", "value": True, "basis": " "}, "only spaces"),
        ("link_set", {"target": "irma", "kind": "references"}, "links to itself"),
        ("link_set", {"target": "no-such", "kind": "references"}, "unknown standard"),
        ("link_remove", {"target": "rmi-rmap", "kind": "incorporates"}, "no such link"),
        ("status_add", {"date": "2026-13-45", "status": "in_force"}, "is not a date"),
        ("status_add", {"date": "2018-06-28", "status": "in_force"}, "already recorded"),
        ("status_remove", {"date": "2019-01-01", "status": "ended"}, "no such status change"),
        ("cell_set", {**NEW_JUDGEMENT, "extra": 1}, "Additional properties"),
        ("rename", {}, "not a kind of change"),
    ],
)
def test_a_proposal_is_checked_by_the_rules_of_the_reference_file(
    officer, irma, kind, payload, problem
):
    with pytest.raises(ValidationError) as refused:
        propose(officer, irma, kind, payload, "a source", "a reason")
    assert problem in " ".join(refused.value.messages)
    assert not ReferenceProposal.objects.exists()


def test_a_proposal_needs_a_source_and_a_reason(officer, irma):
    with pytest.raises(ValidationError) as refused:
        propose(officer, irma, "cell_set", NEW_JUDGEMENT, " ", "")
    assert {"source", "reason"} <= {m.split(":")[0] for m in refused.value.messages}


def test_a_proposal_that_no_longer_applies_is_not_approved(officer, reviewer, irma, client):
    first = propose(officer, irma, "cell_remove", {"cell": CELL}, "src", "Not covered")
    second = propose(officer, irma, "cell_remove", {"cell": CELL}, "src", "Same, again")
    approve(reviewer, first.pk)
    client.force_login(reviewer)
    response = client.post(f"/standards/proposals/{second.pk}/approve/")
    assert response.status_code == 409
    assert "no longer applies" in response.content.decode()
    second.refresh_from_db()
    assert second.status == ProposalStatus.PROPOSED


# --- Reloads keep approved edits --------------------------------------------------------


def test_reloading_the_reference_file_keeps_an_approved_edit(officer, reviewer, irma):
    proposal = propose_labour(officer, irma)
    approve(reviewer, proposal.pk)
    report = load_standards()
    assert judgement(irma) == ("Ch. 3.1-3.3", "Fair labour, OHS, child labour")
    assert "irma" in dict(report.standards_report.kept)


def test_a_new_version_of_the_file_does_not_undo_an_approved_edit(
    officer, reviewer, irma, tmp_path
):
    """Even an approved edit back to the loaded values stays a person's edit."""
    original = judgement(irma)
    approve(reviewer, propose_labour(officer, irma).pk)
    back = {"cell": CELL, "clause": original[0], "basis": original[1]}
    approve(reviewer, propose(officer, irma, "cell_set", back, "src", "Draft withdrawn").pk)
    changed = tmp_path / "standards.yaml"
    text = STANDARDS_FILE.read_text()
    assert text.count('clause: "Ch. 3.1, 3.2"') == 1
    changed.write_text(text.replace('clause: "Ch. 3.1, 3.2"', 'clause: "Ch. 3.1"'))
    shutil.copy(TIME_FILE, tmp_path / TIME_FILE.name)
    report = load_standards(changed)
    assert judgement(irma) == original
    assert "irma" in dict(report.standards_report.kept)


def test_reloading_keeps_an_approved_status_change(officer, reviewer, irma):
    payload = {"date": "2026-06-01", "status": "suspended", "note": "Paused for the merger"}
    approve(reviewer, propose(officer, irma, "status_add", payload, "irma.org", "News").pk)
    report = load_standards()
    assert StandardStatusChange.objects.filter(standard=irma, status="suspended").exists()
    assert "irma" in dict(report.time_report.kept)


# --- The pages --------------------------------------------------------------------------

FORM = {
    "kind": "cell_set",
    "cell": CELL,
    "clause": "Ch. 3.1-3.3",
    "basis": "Fair labour, OHS, child labour",
    "source": "https://responsiblemining.net/irma-2",
    "reason": "The 2.0 text adds child labour",
}


def test_an_anonymous_user_cannot_propose(client, irma):
    response = client.post("/standards/irma/propose/", FORM)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not ReferenceProposal.objects.exists()
    assert "to propose a change" in client.get("/standards/irma/").content.decode()
    with pytest.raises(PermissionDenied):
        propose_labour(None, irma)


def test_a_viewer_cannot_propose_and_sees_no_form(org, client, irma):
    client.force_login(make_user(org, "viewer"))
    assert (
        'action="/standards/irma/propose/"' not in client.get("/standards/irma/").content.decode()
    )
    assert client.post("/standards/irma/propose/", FORM).status_code == 403
    assert not ReferenceProposal.objects.exists()


def test_a_member_proposes_on_the_standards_page_with_csrf(officer, irma):
    client = Client(enforce_csrf_checks=True)
    client.force_login(officer)
    page = client.get("/standards/irma/")
    assert 'action="/standards/irma/propose/"' in page.content.decode()
    assert client.post("/standards/irma/propose/", FORM).status_code == 403  # no token
    token = page.cookies["csrftoken"].value
    response = client.post("/standards/irma/propose/", {**FORM, "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    proposal = ReferenceProposal.objects.get()
    assert (proposal.kind, proposal.payload, proposal.proposed_by) == (
        "cell_set",
        NEW_JUDGEMENT,
        officer,
    )


def test_a_proposal_the_rules_refuse_is_shown_back_with_why(officer, client):
    client.force_login(officer)
    response = client.post(
        "/standards/irma/propose/", {**FORM, "kind": "cell_remove", "cell": "scope.universal"}
    )
    assert response.status_code == 400
    assert "exactly one scope cell" in response.content.decode()
    missing = client.post("/standards/irma/propose/", {**FORM, "cell": "", "basis": ""})
    assert missing.status_code == 400 and "Needed for this change." in missing.content.decode()
    assert not ReferenceProposal.objects.exists()


def test_reviewers_approve_and_reject_on_the_review_page(officer, reviewer, irma):
    first, second = propose_labour(officer, irma), propose_labour(officer, irma, "Twice")
    client = Client(enforce_csrf_checks=True)
    client.force_login(reviewer)
    page = client.get("/standards/proposals/")
    assert page.status_code == 200 and "The 2.0 text adds child labour" in page.content.decode()
    assert client.post(f"/standards/proposals/{first.pk}/approve/").status_code == 403  # CSRF
    token = {"csrfmiddlewaretoken": page.cookies["csrftoken"].value}
    approved = client.post(f"/standards/proposals/{first.pk}/approve/", token)
    assert approved.status_code == 302
    no_reason = client.post(f"/standards/proposals/{second.pk}/reject/", token)
    assert no_reason.status_code == 409
    rejected = client.post(
        f"/standards/proposals/{second.pk}/reject/", {**token, "note": "Duplicate"}
    )
    assert rejected.status_code == 302
    statuses = dict(ReferenceProposal.objects.values_list("pk", "status"))
    assert statuses == {first.pk: "approved", second.pk: "rejected"}
    decided = client.get("/standards/proposals/?status=all").content.decode()
    assert "Duplicate" in decided


def test_the_review_page_does_not_exist_for_non_reviewers(officer, client, irma):
    proposal = propose_labour(officer, irma)
    assert client.get("/standards/proposals/").status_code == 404
    client.force_login(officer)
    assert client.get("/standards/proposals/").status_code == 404
    assert client.post(f"/standards/proposals/{proposal.pk}/approve/").status_code == 404
    assert client.post(f"/standards/proposals/{proposal.pk}/reject/").status_code == 404


def test_the_standards_page_names_the_reference_file_when_no_proposal_was_approved(client):
    html = client.get("/standards/irma/").content.decode()
    assert "with the load of the reference file" in html
    assert "Log in</a> as a compliance officer" in html


def test_the_admin_lists_proposals_read_only(officer, irma, client, admin_user):
    proposal = propose_labour(officer, irma)
    client.force_login(admin_user)
    listing = client.get("/admin/taxonomy/referenceproposal/")
    assert listing.status_code == 200 and "IRMA" in listing.content.decode()
    detail = client.get(f"/admin/taxonomy/referenceproposal/{proposal.pk}/change/")
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
