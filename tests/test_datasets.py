"""Reference data loaded per version keeps what people changed; demo data is marked and goes
only into an empty registry (datasets app)."""

import io

import pytest
import yaml
from django.core.management import call_command

from datasets.demo import DEMO_MODELS, load_demo_registry, registry_is_empty
from datasets.models import DatasetVersion, LoadedRecord
from passports.models import PassportAttribute
from registry.models import Company, ProductionStatistic, Rule
from registry.production import PRODUCTION_FILE, load_production
from registry.reference import RULES_FILE, load_rules
from taxonomy.models import Mineral, Standard, StandardCell
from taxonomy.services import STANDARDS_FILE, load_standards


def load_reference() -> str:
    out = io.StringIO()
    call_command("load_reference", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_a_standard_year_changed_in_the_admin_survives_a_reload_and_the_command_says_why():
    load_reference()
    rmap = Standard.objects.get(code="rmi-rmap")
    rmap.year = 1999
    rmap.save()

    output = load_reference()

    assert Standard.objects.get(code="rmi-rmap").year == 1999
    assert "left alone: rmi-rmap: changed by a person since it was loaded" in output


@pytest.mark.django_db
def test_reloading_the_same_files_reports_everything_unchanged_and_writes_no_history():
    load_reference()
    history = Standard.history.count(), StandardCell.history.count(), Rule.history.count()

    output = load_reference()

    # Seven datasets, taxonomy.instruments_in_time included.
    assert output.count(" 0 added, 0 updated,") == 7
    assert output.count(" 0 left alone.") == 7
    assert "left alone:" not in output
    assert "taxonomy.standards" in output and "registry.production" in output
    assert (Standard.history.count(), StandardCell.history.count(), Rule.history.count()) == (
        history
    )


@pytest.mark.django_db
def test_a_new_version_of_the_file_updates_untouched_records_and_keeps_edited_ones(tmp_path):
    load_standards()
    edited = Standard.objects.get(code="irma")
    edited.summary = "Our own summary"
    edited.save()
    document = yaml.safe_load(STANDARDS_FILE.read_text(encoding="utf-8"))
    for entry in document:
        if entry["code"] in ("irma", "oecd-ddg"):
            entry["url"] = "https://example.org/new-edition"
    path = tmp_path / "standards.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")

    report = load_standards(path).standards_report

    assert report.updated == ["oecd-ddg"]
    assert [key for key, _ in report.kept] == ["irma"]
    assert Standard.objects.get(code="oecd-ddg").url == "https://example.org/new-edition"
    irma = Standard.objects.get(code="irma")
    assert (irma.summary, irma.url) == ("Our own summary", edited.url)
    assert DatasetVersion.objects.get(dataset="taxonomy.standards").version == report.version


@pytest.mark.django_db
def test_a_record_new_in_the_file_is_added_and_one_a_person_deleted_is_not_brought_back(
    tmp_path,
):
    load_standards()
    Standard.objects.get(code="eiti").delete()
    document = yaml.safe_load(STANDARDS_FILE.read_text(encoding="utf-8"))
    new = dict(document[0], code="new-instrument", short_name="New", links=[])
    path = tmp_path / "standards.yaml"
    path.write_text(yaml.safe_dump([*document, new], allow_unicode=True), encoding="utf-8")

    report = load_standards(path).standards_report

    assert report.added == ["new-instrument"]
    assert dict(report.kept)["eiti"].startswith("deleted by a person")
    assert not Standard.objects.filter(code="eiti").exists()
    assert Standard.objects.get(code="new-instrument").standard_cells.count() == len(
        document[0]["cells"]
    )


@pytest.mark.django_db
def test_a_corrected_production_figure_and_an_edited_rule_survive_a_reload():
    load_production()
    load_rules()
    figure = ProductionStatistic.objects.get(product="cobalt", label="Congo (Kinshasa)", year=2024)
    figure.quantity = 123456
    figure.save()
    rule = Rule.objects.get(code="hhi-doj-ftc-2010")
    rule.params = {**rule.params, "high_above": 2600}
    rule.save()

    production, rules = load_production(PRODUCTION_FILE), load_rules(RULES_FILE)

    figure.refresh_from_db()
    assert figure.quantity == 123456
    assert Rule.objects.get(code="hhi-doj-ftc-2010").params["high_above"] == 2600
    assert [key for key, _ in production.kept] == ["cobalt|mining|Congo (Kinshasa)|2024"]
    assert [key for key, _ in rules.kept] == ["hhi-doj-ftc-2010"]


@pytest.mark.django_db
def test_a_mineral_renamed_and_an_attribute_record_are_tracked_like_the_rest():
    load_reference()
    Mineral.objects.filter(code="cobalt").update(name="Cobalt (Co)")
    output = load_reference()
    assert Mineral.objects.get(code="cobalt").name == "Cobalt (Co)"
    assert "left alone: cobalt" in output
    assert LoadedRecord.objects.filter(dataset="passports.attributes").count() == (
        PassportAttribute.objects.count()
    )


@pytest.mark.django_db
def test_records_that_existed_before_tracking_are_adopted_when_they_equal_the_file():
    load_standards()
    LoadedRecord.objects.all().delete()  # a database loaded by an older loader
    report = load_standards().standards_report
    assert report.kept == [] and report.updated == []
    assert LoadedRecord.objects.filter(dataset="taxonomy.standards").count() == len(
        yaml.safe_load(STANDARDS_FILE.read_text(encoding="utf-8"))
    )


# --- Demo data ---------------------------------------------------------------


@pytest.mark.django_db
def test_demo_records_are_flagged_in_the_database_and_the_api(demo_registry, client):
    assert demo_registry["companies"] > 0
    for model in DEMO_MODELS:
        assert model.objects.exists(), model
        assert not model.objects.filter(demo=False).exists(), model
    company = Company.objects.first()
    body = client.get(f"/api/registry/companies/{company.pk}/").json()
    assert body["demo"] is True
    listed = client.get("/api/registry/companies/").json()["results"]
    assert listed and all(row["demo"] is True for row in listed)


@pytest.mark.django_db
def test_pages_that_show_demo_records_carry_a_visible_banner(demo_registry, client):
    company = Company.objects.filter(attestations__isnull=False).first()
    for url in ("/companies/", f"/companies/{company.pk}/"):
        page = client.get(url).content.decode()
        assert 'class="demo-banner"' in page, url
    assert 'class="demo-banner"' not in client.get("/standards/").content.decode()


@pytest.mark.django_db
def test_demo_data_goes_only_into_an_empty_registry(demo_registry):
    assert not registry_is_empty()
    before = Company.objects.count()
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    assert "only into an empty registry" in out.getvalue()
    assert Company.objects.count() == before


@pytest.mark.django_db
def test_a_registry_with_real_data_gets_no_demo_data():
    Company.objects.create(legal_name="A real company", country="DE")
    before = Company.objects.count()
    assert load_demo_registry() is None
    assert Company.objects.count() == before
