"""Import jobs through the API, the pages and the command line."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from intake.models import ImportJob
from intake.services import progress_key
from registry.models import Company, ProductionStatistic

from .factories import make_company, make_org, make_user
from .intake_helpers import PRODUCTION_HEADER, csv_bytes, production_row, upload

pytestmark = pytest.mark.django_db

COMPANIES = csv_bytes(
    [
        ["name", "country", "lei", "stages", "parent", "website"],
        ["Kokkola Cobalt Oy", "FI", "", "refining", "", ""],
        ["Nowhere Ltd", "XX", "", "refining", "", ""],
    ]
)
GOOD_COMPANIES = csv_bytes(
    [
        ["name", "country", "lei", "stages", "parent", "website"],
        ["Kokkola Cobalt Oy", "FI", "", "", "", ""],
    ]
)


def client_of(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def officer():
    return make_user(make_org("Maker compliance", company=make_company("Maker", stages=("cell",))))


@pytest.fixture(autouse=True)
def jobs_run(monkeypatch):
    """Jobs are enqueued on commit; in these (rolled back) tests they run at once, in-process
    (Celery is eager here), as they would after a real commit."""
    from config import jobs

    def enqueue_now(task, *args, **kwargs):
        task.delay(*args, **kwargs)

    monkeypatch.setattr(jobs, "enqueue", enqueue_now)
    monkeypatch.setattr("intake.services.enqueue", enqueue_now)


def post(client, data, name="companies.csv", **fields):
    return client.post("/api/intake/", {"file": upload(data, name), **fields}, format="multipart")


def test_an_upload_returns_the_dry_run_job_with_every_row_error(officer):
    response = post(client_of(officer), COMPANIES)
    assert response.status_code == 201, response.content
    job = response.json()
    assert (job["kind"], job["status"], job["dry_run"], job["written"]) == (
        "companies",
        "done",
        True,
        False,
    )
    assert job["percent"] == 100 and job["rows_done"] == 2
    assert job["problems"] == [
        {
            "severity": "error",
            "message": "'XX' is not an ISO country code (e.g. CD, CN, AU).",
            "sheet": "companies",
            "row": 3,
            "column": "country",
        }
    ]
    assert job["summary"]["tables"]["companies"]["created"] == 1
    assert not Company.objects.filter(legal_name="Kokkola Cobalt Oy").exists()


def test_a_clean_dry_run_is_committed_as_a_new_job_that_writes(officer):
    client = client_of(officer)
    dry = post(client, GOOD_COMPANIES).json()
    commit = client.post(f"/api/intake/{dry['id']}/commit/")
    assert commit.status_code == 201, commit.content
    assert commit.json()["written"] is True and commit.json()["dry_run_of"] == dry["id"]
    assert Company.objects.filter(legal_name="Kokkola Cobalt Oy").count() == 1
    # A dry run with errors cannot be committed.
    bad = post(client, COMPANIES).json()
    refused = client.post(f"/api/intake/{bad['id']}/commit/")
    assert refused.status_code == 400
    assert "errors" in refused.json()["job"][0]


def test_an_upload_with_dry_run_false_writes_at_once(officer):
    response = post(client_of(officer), GOOD_COMPANIES, dry_run="false")
    assert response.json()["written"] is True
    assert Company.objects.filter(legal_name="Kokkola Cobalt Oy").exists()


def test_a_refused_file_answers_400_naming_the_problem(officer):
    response = post(client_of(officer), b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "x.xlsx")
    assert response.status_code == 400
    assert "password-protected" in response.json()["file"][0]
    response = post(client_of(officer), csv_bytes([["a"], ["b"]]), kind="nope")
    assert response.status_code == 400 and "not a kind" in response.json()["kind"][0]
    assert not ImportJob.objects.exists()


def test_viewers_and_people_without_an_organisation_may_not_import():
    viewer = make_user(make_org("Org"), role="viewer")
    assert post(client_of(viewer), GOOD_COMPANIES).status_code == 403
    assert post(client_of(make_user(None)), GOOD_COMPANIES).status_code == 403
    assert post(client_of(None), GOOD_COMPANIES).status_code == 401


def test_a_job_is_seen_by_its_organisation_and_staff_only_others_get_404(officer):
    job = post(client_of(officer), GOOD_COMPANIES).json()
    colleague = make_user(officer.membership.organisation, role="viewer")
    outsider = make_user(make_org("Elsewhere"))
    staff = make_user(None, is_staff=True)
    assert client_of(colleague).get(f"/api/intake/{job['id']}/").status_code == 200
    assert client_of(staff).get(f"/api/intake/{job['id']}/").status_code == 200
    hidden = client_of(outsider).get(f"/api/intake/{job['id']}/")
    missing = client_of(outsider).get("/api/intake/999999/")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()


def test_a_running_job_shows_its_live_progress(officer):
    job = post(client_of(officer), GOOD_COMPANIES).json()
    ImportJob.objects.filter(pk=job["id"]).update(status="running")
    cache.set(progress_key(job["id"]), (500, 2000, 25))
    shown = client_of(officer).get(f"/api/intake/{job['id']}/").json()
    assert (shown["status"], shown["rows_done"], shown["rows_total"], shown["percent"]) == (
        "running",
        500,
        2000,
        25,
    )


@pytest.mark.parametrize("problems", [1, 200])
def test_reading_a_job_takes_the_same_queries_however_many_rows_and_problems(
    officer, problems, django_assert_num_queries
):
    rows = [["name", "country", "lei", "stages", "parent", "website"]]
    rows += [[f"Company {i}", "XX", "", "", "", ""] for i in range(problems)]
    job = post(client_of(officer), csv_bytes(rows)).json()
    assert len(job["problems"]) == problems
    client = client_of(type(officer).objects.get(pk=officer.pk))  # nothing cached on it
    # The requester's membership, then the job (with its requester and organisation).
    with django_assert_num_queries(2):
        assert client.get(f"/api/intake/{job['id']}/").status_code == 200


def test_uploading_takes_the_same_queries_for_few_and_many_rows(officer):
    counts = []
    for n in (5, 200):
        rows = [PRODUCTION_HEADER] + [production_row(year=1900 + i) for i in range(n)]
        client = client_of(officer)
        with CaptureQueriesContext(connection) as queries:
            assert post(client, csv_bytes(rows), "p.csv").status_code == 201
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_templates_and_exports_download_as_csv_and_xlsx():
    anonymous = client_of(None)
    template = anonymous.get("/api/intake/templates/production/")
    assert template.status_code == 200
    assert template["Content-Type"].startswith("text/csv")
    text = b"".join(template.streaming_content).decode()
    assert text.splitlines()[0] == ",".join(PRODUCTION_HEADER)
    xlsx = anonymous.get("/api/intake/exports/companies/?as=xlsx")
    assert xlsx.status_code == 200 and b"".join(xlsx.streaming_content)[:2] == b"PK"
    assert anonymous.get("/api/intake/exports/nothing/").status_code == 404
    assert anonymous.get("/api/intake/exports/companies/?as=pdf").status_code == 400


def test_the_officers_page_uploads_shows_the_findings_and_commits(client, officer):
    client.force_login(officer)
    page = client.get("/intake/")
    assert page.status_code == 200 and b"Check the file" in page.content
    response = client.post("/intake/", {"file": upload(GOOD_COMPANIES, "c.csv"), "kind": ""})
    assert response.status_code == 302
    job = ImportJob.objects.get()
    shown = client.get(response["Location"])
    assert b"Commit these rows" in shown.content and b"dry run" in shown.content
    committed = client.post(f"/intake/{job.pk}/commit/")
    assert committed.status_code == 302
    assert Company.objects.filter(legal_name="Kokkola Cobalt Oy").exists()
    assert b"Written." in client.get(committed["Location"]).content


def test_the_page_shows_a_refused_file_and_hides_other_organisations_jobs(client, officer):
    client.force_login(officer)
    response = client.post("/intake/", {"file": upload(b"PK\x03\x04junk", "c.xlsx"), "kind": ""})
    assert response.status_code == 200 and b"corrupt" in response.content
    other = make_user(make_org("Other"))
    job = post(client_of(other), GOOD_COMPANIES).json()
    assert client.get(f"/intake/{job['id']}/").status_code == 404


def test_the_command_prints_the_summary_as_json(tmp_path, capsys):
    path = tmp_path / "production.csv"
    path.write_bytes(
        csv_bytes([PRODUCTION_HEADER, production_row("CD", "220"), production_row("XX", "1")])
    )
    call_command("intake", str(path), "--dry-run", "--json")
    summary = json.loads(capsys.readouterr().out)
    assert summary["kind"] == "production" and summary["version"] is None
    assert summary["tables"]["production"] == {
        "rows": 2,
        "created": 1,
        "updated": 0,
        "matched": 0,
        "unmatched": 0,
    }
    assert summary["problems"][0]["row"] == 3 and summary["problems"][0]["severity"] == "error"
    assert summary["written"] is False
    path.write_bytes(csv_bytes([PRODUCTION_HEADER, production_row("CD", "220")]))
    call_command("intake", str(path), "--kind", "production", "--json")
    assert json.loads(capsys.readouterr().out)["written"] is True
    assert ProductionStatistic.objects.filter(country="CD", year=2024, product="cobalt").exists()


def _export_csv(kind: str) -> list[str]:
    response = client_of(None).get(f"/api/intake/exports/{kind}/")
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode().splitlines()


def _relationship(supplier, buyer, volume):
    from registry.models import SupplyRelationship
    from taxonomy.models import Cell, Mineral

    return SupplyRelationship.objects.create(
        supplier=supplier,
        buyer=buyer,
        mineral=Mineral.objects.get(code="cobalt"),
        stage=Cell.objects.get(code="application.refining"),
        material="intermediate",
        volume_t=volume,
    )


def test_a_table_export_reads_in_chunks_with_no_query_per_row(monkeypatch):
    from intake import tables

    buyer = make_company("Export Buyer")
    for n in range(3):
        _relationship(make_company(f"Export Supplier {n}", stages=("mining",)), buyer, 10 + n)
    with CaptureQueriesContext(connection) as few:
        assert len(_export_csv("relationships")) == 1 + 3
    for n in range(3, 9):
        _relationship(make_company(f"Export Supplier {n}", stages=("mining",)), buyer, 10 + n)
    with CaptureQueriesContext(connection) as more:
        assert len(_export_csv("relationships")) == 1 + 9
    assert len(more) == len(few)  # the mineral was read once per row
    # In chunks (a table is never held whole), prefetches included: every row complete.
    monkeypatch.setattr(tables, "EXPORT_CHUNK", 2)
    rows = [line.split(",") for line in _export_csv("companies")[1:]]
    assert len(rows) == Company.objects.count() == 10
    assert {r[0]: r[3] for r in rows}["Export Supplier 7"] == "mining"
