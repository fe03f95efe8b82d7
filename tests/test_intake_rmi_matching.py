"""Writing a supplier's RMI template into the registry: smelters matched by RMI ID or
proposed by name, new smelters and mines, supersession, the file kept as evidence."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from intake import services as jobs
from intake.models import DeclaredSmelter, ImportJob, RmiLookupEntry, SupplierDeclaration
from intake.rmi import reader, selectors, services
from registry.models import (
    Company,
    CompanyIdentifier,
    Facility,
    MinedSource,
    SupplyRelationship,
)
from taxonomy.models import Cell

from .factories import make_company, make_org, make_user
from .rmi_templates import VERSIONS, build, build_variant, open_filled

pytestmark = pytest.mark.django_db
KEY = ("EMRT", "2.1")
ANHUI = "CID003927"


@functools.cache
def _decl(path):
    wb = open_filled(path)
    try:
        return reader.read(wb, services.lookup_for(*reader.identify(wb)[:2]))
    finally:
        wb.close()


def _commit(org, path=None, sha=None):
    path = path or build(*KEY)["good"]
    return services.commit_declaration(
        _decl(path), owner=org, sha256=sha or hashlib.sha256(path.read_bytes()).hexdigest()
    )


def _smelter(company, name, country, cid=""):
    return Facility.objects.create(
        company=company,
        name=name,
        kind=Facility.Kind.SMELTER_REFINER,
        country=country,
        stage=Cell.objects.get(code="application.refining"),
        rmi_cid=cid,
    )


@pytest.fixture
def org():
    return make_org("Buyer compliance")


def test_a_smelter_rmi_lists_but_the_registry_lacks_becomes_a_facility_with_its_id(org):
    record = _commit(org)
    declared = record.smelters.get(row=5)
    assert declared.match == DeclaredSmelter.Match.CREATED
    facility = declared.facility
    assert (facility.rmi_cid, facility.kind, facility.country) == (ANHUI, "smelter_refiner", "CN")
    assert facility.company.legal_name == "Anhui Hanrui New Material Co., Ltd."
    assert facility.minerals.filter(code="cobalt").exists()
    assert CompanyIdentifier.objects.get(scheme="rmi_cid", value=ANHUI).company == facility.company
    assert record.supplier.legal_name == "Kivu Cathodes Ltd"
    assert record.supplier.country == "FR"  # from the address's last part


def test_a_smelter_already_in_the_registry_is_matched_by_its_id_not_duplicated(org):
    known = _smelter(make_company("Hanrui"), "Hanrui cobalt plant", "CN", cid=ANHUI)
    record = _commit(org)
    declared = record.smelters.get(row=5)
    assert (declared.match, declared.facility) == (DeclaredSmelter.Match.CID, known)
    assert Facility.objects.filter(rmi_cid=ANHUI).count() == 1
    # A second supplier naming the same smelter links to the same facility.
    other = _commit(make_org("Another buyer"))
    assert other.smelters.get(row=5).facility == known


def test_an_unlisted_smelter_is_only_proposed_by_name_and_country_until_a_person_confirms(org):
    lyon = _smelter(make_company("Lyon Refining", country="FR"), "Lyon Refining Works SAS", "FR")
    _smelter(make_company("Lyon Rivals", country="FR"), "Marseille Metals", "FR")
    record = _commit(org)
    declared = record.smelters.get(row=6)
    assert declared.match == DeclaredSmelter.Match.PROPOSED
    assert declared.facility is None  # never merged silently
    assert declared.candidate == lyon and declared.score >= services.PROPOSE_AT
    officer = make_user(org)
    confirmed = services.confirm_match(declared=declared, facility=lyon, user=officer)
    assert (confirmed.match, confirmed.facility, confirmed.confirmed_by) == (
        DeclaredSmelter.Match.CONFIRMED,
        lyon,
        officer,
    )


def test_an_unlisted_smelter_nothing_resembles_stays_unmatched(org):
    _smelter(make_company("Far", country="FR"), "Completely Other Foundry", "FR")
    _smelter(make_company("Near", country="DE"), "Lyon Refining Works", "DE")  # wrong country
    declared = _commit(org).smelters.get(row=6)
    assert (declared.match, declared.facility, declared.candidate) == ("unmatched", None, None)


def test_declared_smelters_are_links_without_volume_and_make_no_supply_relationship(org):
    record = _commit(org)
    assert record.smelters.count() == 2
    assert not SupplyRelationship.objects.exists()  # it needs a volume or a share


def test_mines_become_mined_sources(org):
    record = _commit(org)
    mine = record.mines.get()
    source = mine.mined_source
    assert (source.name, source.country) == ("Mine du Nord", "CA")
    assert source.minerals.filter(code="cobalt").exists()
    _commit(make_org("Another buyer"))
    assert MinedSource.objects.filter(name="Mine du Nord").count() == 1


def test_a_newer_file_supersedes_the_declaration_and_the_history_stays(org):
    old = _commit(org)
    new = _commit(org, build_variant(*KEY, "newer"))
    old.refresh_from_db()
    assert old.superseded_by == new and new.superseded_by is None
    assert new.effective_date == dt.date(2026, 6, 30)
    current = selectors.current_declarations(organisation_ids=[org.pk])
    assert list(current) == [new]
    assert SupplierDeclaration.objects.filter(supplier=new.supplier).count() == 2


def test_an_older_file_arriving_late_goes_straight_into_history(org):
    new = _commit(org, build_variant(*KEY, "newer"))
    old = _commit(org)
    old.refresh_from_db()
    assert old.superseded_by == new
    assert list(selectors.current_declarations(organisation_ids=[org.pk])) == [new]


def test_another_organisations_declaration_of_the_same_supplier_is_not_superseded(org):
    theirs = _commit(make_org("Another buyer"))
    _commit(org, build_variant(*KEY, "newer"))
    theirs.refresh_from_db()
    assert theirs.superseded_by is None


def test_importing_the_same_file_twice_changes_nothing(org):
    first = _commit(org)
    counts = (Company.objects.count(), Facility.objects.count(), DeclaredSmelter.objects.count())
    assert _commit(org) == first
    assert (
        Company.objects.count(),
        Facility.objects.count(),
        DeclaredSmelter.objects.count(),
    ) == counts


def test_the_versions_smelter_look_up_is_kept_as_reference_data_with_its_date(org):
    _commit(org)
    rows = RmiLookupEntry.objects.filter(version="EMRT 2.1")
    assert rows.count() > 400
    assert set(rows.values_list("as_of", flat=True)) == {dt.date(2025, 10, 17)}
    assert rows.filter(cid=ANHUI).exists()


def test_a_supplier_name_shared_by_two_companies_is_refused_not_guessed(org):
    make_company("Kivu Cathodes Ltd", country="FR")
    make_company("Kivu Cathodes Ltd", country="CD")
    with pytest.raises(services.Refused, match="LEI"):
        _commit(org)


@pytest.mark.parametrize("key", VERSIONS, ids=[f"{t}-{v}" for t, v in VERSIONS])
def test_every_version_is_written_with_its_smelters(key, org):
    record = _commit(org, build(*key)["good"])
    assert (record.template, record.version) == key
    assert record.smelters.filter(match="created").count() == 1
    assert record.smelters.get(row=6).match == "unmatched"


def _upload(path, name="supplier.xlsx"):
    return SimpleUploadedFile(name, path.read_bytes())


def test_through_a_job_a_faulty_file_writes_nothing_and_lists_its_problems(org):
    officer = make_user(org)
    job = jobs.job_create(
        user=officer, upload=_upload(build(*KEY)["faulty"]), dry_run=False, run_later=False
    )
    assert job.kind == "emrt"  # told from the file
    jobs.run_job(job.pk)
    job.refresh_from_db()
    assert job.summary["written"] is False and job.summary["errors"] >= 5
    assert {"sheet": "Smelter List", "cell": "A8", "severity": "error"}.items() <= next(
        p for p in job.problems if p.get("cell") == "A8"
    ).items()
    assert not SupplierDeclaration.objects.exists() and not Facility.objects.exists()


def test_through_a_job_a_good_file_is_written_and_keeps_the_hashed_file(org):
    officer = make_user(org)
    path = build(*KEY)["good"]
    job = jobs.job_create(user=officer, upload=_upload(path), dry_run=False, run_later=False)
    jobs.run_job(job.pk)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE, job.problems
    assert job.summary["written"] is True
    assert (job.summary["version"], job.summary["company"]) == ("2.1", "Kivu Cathodes Ltd")
    record = SupplierDeclaration.objects.get()
    assert record.job == job
    assert record.sha256 == job.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert record.owner == org
