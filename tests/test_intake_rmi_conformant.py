"""RMI's conformant and active facility list: imported with its date, it shows each
supplier's conformant smelters and re-audit dates, and counts as RMAP coverage of the
smelter's company until the re-audit date (a derived, public attestation)."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from intake import services as jobs
from intake.models import ConformantList, DeclaredSmelter
from intake.rmi import conformant, reader, selectors, services
from registry.coverage import counting_attestations
from registry.models import Attestation, Facility
from registry.querysets import Requester
from taxonomy.models import Cell

from .factories import make_company, make_org, make_user
from .rmi_templates import build, open_filled

pytestmark = pytest.mark.django_db
FIXTURE = Path(services.DATA) / "conformant_facilities_2026-11-30.csv"
ANHUI, GOLD = "CID003927", "CID002763"
HEADER = (
    "Smelter ID,Standard Smelter Name,Country,Metal,Assessment Status,Last Audit Date,"
    "Re-Audit Due Date\n"
)


def _rows(text: str, problems=None):
    lines = [line.split(",") for line in text.strip().splitlines()]
    sink = problems if problems is not None else []
    return conformant.read_rows(
        enumerate(lines, 1),
        lambda message, **kw: sink.append({"message": message, **kw}),
        services.country_code,
    )


def _import(text: str, listed_on: dt.date):
    return services.import_conformant_list(
        _rows(text),
        listed_on=listed_on,
        sha256=hashlib.sha256(f"{listed_on}{text}".encode()).hexdigest(),
    )


def _smelter(cid, name="Hanrui plant", country="CN"):
    return Facility.objects.create(
        company=make_company(f"{name} Co", country=country),
        name=name,
        kind=Facility.Kind.SMELTER_REFINER,
        country=country,
        stage=Cell.objects.get(code="application.refining"),
        rmi_cid=cid,
    )


def _derived(cid):
    return Attestation.objects.get(reference=f"{services.DERIVED_PREFIX}{cid}")


def test_the_list_is_read_in_the_shape_rmi_publishes():
    import csv

    with open(FIXTURE, newline="") as handle:
        lines = list(enumerate(csv.reader(handle), 1))
    problems = []
    rows = conformant.read_rows(lines, lambda m, **kw: problems.append(m), services.country_code)
    assert problems == []
    assert [(r["cid"], r["country"], r["metal"], r["status"]) for r in rows] == [
        (ANHUI, "CN", "Cobalt", "conformant"),
        ("CID003875", "CN", "Cobalt", "active"),
        (GOLD, "IT", "Gold", "conformant"),
    ]
    assert rows[0]["reaudit_due"] == dt.date(2027, 6, 12)
    assert conformant.date_from_name(FIXTURE.name) == dt.date(2026, 11, 30)
    assert conformant.is_conformant_header(h.lower() for h in lines[0][1])


def test_bad_rows_of_the_list_are_reported_with_row_and_column():
    problems = []
    rows = _rows(
        HEADER
        + "CID12,Bad,CHINA,Cobalt,Conformant,,\n"
        + f"{ANHUI},Hanrui,CHINA,Cobalt,Withdrawn,,\n"
        + f"{GOLD},8853,ITALY,Gold,Conformant,not a date,\n",
        problems,
    )
    assert rows == []
    assert [(p["row"], p.get("column"), p.get("severity", "error")) for p in problems] == [
        (2, "Smelter ID", "error"),
        (3, "Assessment Status", "warning"),
        (4, "Last Audit Date", "error"),
    ]


def test_a_conformant_smelter_counts_as_rmap_coverage_of_its_company_until_its_reaudit():
    facility = _smelter(ANHUI)
    _import(
        HEADER + f"{ANHUI},Anhui Hanrui,CHINA,Cobalt,Conformant,2025-06-12,2027-06-12",
        dt.date(2026, 11, 30),
    )
    a = _derived(ANHUI)
    assert (a.company, a.standard.code, a.status, a.visibility) == (
        facility.company,
        "rmi-rmap",
        "verified",
        "public",
    )
    assert a.verifier_name == "RMI conformant facility list 2026-11-30"
    assert a.valid_until == dt.date(2027, 6, 12)
    assert list(a.facilities.all()) == [facility]
    anyone = Requester.anonymous()
    counted = counting_attestations(requester=anyone, on=dt.date(2026, 12, 1))
    assert counted.filter(pk=a.pk).exists()
    assert (
        not counting_attestations(requester=anyone, on=dt.date(2027, 6, 13))
        .filter(pk=a.pk)
        .exists()
    )


def test_an_active_smelter_gets_no_coverage():
    _smelter(ANHUI)
    _import(HEADER + f"{ANHUI},Anhui Hanrui,CHINA,Cobalt,Active,,", dt.date(2026, 11, 30))
    assert not Attestation.objects.exists()


def test_a_later_list_without_the_smelter_withdraws_it_and_a_relisting_restores_it():
    _smelter(ANHUI)
    listed = HEADER + f"{ANHUI},Anhui Hanrui,CHINA,Cobalt,Conformant,2025-06-12,2027-06-12"
    _import(listed, dt.date(2026, 10, 1))
    _import(
        HEADER + f"{GOLD},8853,ITALY,Gold,Conformant,2025-02-03,2027-02-03", dt.date(2026, 11, 1)
    )
    a = _derived(ANHUI)
    assert a.status == "suspended"
    last = a.status_changes.order_by("-id").first()
    assert "RMI conformant facility list 2026-11-01" in last.reason
    _import(listed.replace("2027-06-12", "2027-09-01"), dt.date(2026, 12, 1))
    a.refresh_from_db()
    assert (a.status, a.valid_until) == ("verified", dt.date(2027, 9, 1))
    assert Attestation.objects.filter(reference__startswith="rmi-conformant:").count() == 1


def test_an_older_list_arriving_late_changes_no_attestation():
    _smelter(ANHUI)
    _import(
        HEADER + f"{ANHUI},Anhui Hanrui,CHINA,Cobalt,Conformant,2025-06-12,2027-06-12",
        dt.date(2026, 11, 1),
    )
    _import(
        HEADER + f"{GOLD},8853,ITALY,Gold,Conformant,2025-02-03,2027-02-03", dt.date(2026, 1, 1)
    )
    assert _derived(ANHUI).status == "verified"
    assert ConformantList.objects.count() == 2


def test_the_same_list_twice_changes_nothing():
    _smelter(ANHUI)
    text = HEADER + f"{ANHUI},Anhui Hanrui,CHINA,Cobalt,Conformant,2025-06-12,2027-06-12"
    first = _import(text, dt.date(2026, 11, 1))
    assert _import(text, dt.date(2026, 11, 1)) == first
    assert _derived(ANHUI).version == 1


# --- A supplier's smelters against the list ----------------------------------------


@pytest.fixture
def declaration():
    """Kivu Cathodes' EMRT 2.1 as received by a buyer: Hanrui (by ID) and one unlisted."""
    org = make_org("Buyer compliance")
    path = build("EMRT", "2.1")["good"]
    wb = open_filled(path)
    decl = reader.read(wb, services.lookup_for("EMRT", "2.1"))
    wb.close()
    return services.commit_declaration(decl, owner=org, sha256="a" * 64)


def test_a_supplier_shows_how_many_smelters_are_conformant_and_when_reaudits_fall_due(
    declaration,
):
    _import(
        HEADER + f"{ANHUI},Anhui Hanrui,CHINA,Cobalt,Conformant,2025-06-12,2027-06-12",
        dt.date(2026, 11, 30),
    )
    data = selectors.supplier_conformance(
        supplier_id=declaration.supplier_id,
        organisation_ids=[declaration.owner_id],
        on=dt.date(2026, 12, 6),
    )
    assert (data["smelters_declared"], data["smelters_identified"], data["conformant"]) == (2, 1, 1)
    assert data["next_reaudit_due"] == dt.date(2027, 6, 12)
    assert data["list_date"] == dt.date(2026, 11, 30)
    assert "until its re-audit due date" in data["rule"]
    # Another organisation holds no declaration of this supplier: nothing to show.
    other = make_org("Someone else")
    assert (
        selectors.supplier_conformance(
            supplier_id=declaration.supplier_id, organisation_ids=[other.pk]
        )
        is None
    )


def _grow(declaration, n):
    """n more identified smelters in the declaration, all on the latest list."""
    rows = []
    for i in range(n):
        cid = f"CID9{i:05d}"
        f = _smelter(cid, name=f"Plant {cid}")
        DeclaredSmelter.objects.create(
            declaration=declaration,
            row=100 + i,
            metal="Cobalt",
            cid=cid,
            name=f.name,
            country="CN",
            facility=f,
            match="cid",
        )
        rows.append(f"{cid},Plant,CHINA,Cobalt,Conformant,2025-01-01,2027-0{1 + i % 9}-01")
    return rows


def test_the_conformance_endpoint_answers_in_queries_that_do_not_grow_with_smelters(
    declaration, api
):
    officer = make_user(declaration.owner)
    api.force_authenticate(officer)
    url = f"/api/intake/rmi/suppliers/{declaration.supplier_id}/conformance/"
    rows = _grow(declaration, 3)
    _import(HEADER + "\n".join(rows), dt.date(2026, 11, 1))
    with CaptureQueriesContext(connection) as small:
        first = api.get(url)
    rows += _grow(declaration, 6)[3:]  # 6 more smelters, 3 of them on the next list
    _import(HEADER + "\n".join(rows), dt.date(2026, 11, 2))
    with CaptureQueriesContext(connection) as large:
        second = api.get(url)
    assert first.status_code == second.status_code == 200
    assert (first.json()["conformant"], second.json()["conformant"]) == (3, 6)
    assert len(large) == len(small)


def test_the_conformance_endpoint_is_404_to_an_organisation_without_a_declaration(declaration, api):
    api.force_authenticate(make_user(make_org("Stranger")))
    url = f"/api/intake/rmi/suppliers/{declaration.supplier_id}/conformance/"
    assert api.get(url).status_code == 404
    assert api.get("/api/intake/rmi/suppliers/999999/conformance/").status_code == 404


def test_an_officer_confirms_a_proposed_match_over_the_api(declaration, api):
    lyon = _smelter("", name="Lyon Refining Works", country="FR")
    row = declaration.smelters.get(row=6)
    url = f"/api/intake/rmi/smelters/{row.pk}/confirm/"
    api.force_authenticate(make_user(make_org("Stranger")))
    assert api.post(url, {"facility": lyon.pk}, format="json").status_code == 404
    api.force_authenticate(make_user(declaration.owner, role="viewer"))
    assert api.post(url, {"facility": lyon.pk}, format="json").status_code == 403
    api.force_authenticate(make_user(declaration.owner))
    assert api.post(url, {"facility": 999999}, format="json").status_code == 400
    answer = api.post(url, {"facility": lyon.pk}, format="json")
    assert answer.status_code == 200
    assert (answer.json()["match"], answer.json()["facility"]) == ("confirmed", lyon.pk)


def test_the_list_imports_as_a_job_dated_by_its_file_name():
    _smelter(ANHUI)
    officer = make_user(make_org("Buyer compliance"))
    upload = SimpleUploadedFile(FIXTURE.name, FIXTURE.read_bytes())
    job = jobs.job_create(user=officer, upload=upload, dry_run=False, run_later=False)
    assert job.kind == "rmi_conformant"
    jobs.run_job(job.pk)
    job.refresh_from_db()
    assert job.summary["written"] is True, job.problems
    assert job.summary["listed_on"] == "2026-11-30"
    assert ConformantList.objects.get().job == job
    assert _derived(ANHUI).valid_until == dt.date(2027, 6, 12)
