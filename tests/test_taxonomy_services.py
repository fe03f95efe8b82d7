"""The reference standards users rely on are present, complete and reload cleanly."""

import copy

import pytest
import yaml

from taxonomy.models import Standard, StandardCell, StandardLink
from taxonomy.services import (
    STANDARDS_FILE,
    ReferenceDataError,
    load_standards,
    validate_standards_document,
)

pytestmark = pytest.mark.django_db

NAMED_IN_THE_REPORT_AND_NEWER = {
    "oecd-ddg",
    "rmi-rmap",
    "irma",
    "ci-ciraf",
    "lme-rsr",
    "eiti",
    "cccmc-ddg",
    "vpshr",
    "gba",
    "rci",
    "us-dodd-frank-1502",
    "eu-cmr-2017-821",
    "drc-circular-2011",
    "fr-devoir-vigilance",
    "us-fcpa",
    "fr-sapin-ii",
    "us-global-magnitsky",
    "uk-bribery-act",
    "nl-child-labour-dd",
    "uk-modern-slavery-act",
    "eu-battery-regulation",
    "eu-crma",
    "eu-csddd",
    "de-lksg",
    "us-uflpa",
    "us-ira-30d",
}


def document():
    return yaml.safe_load(STANDARDS_FILE.read_text())


def test_every_standard_named_in_the_report_and_the_newer_instruments_is_present():
    assert set(Standard.objects.values_list("code", flat=True)) >= NAMED_IN_THE_REPORT_AND_NEWER


def test_every_standard_has_its_cells_from_the_file_with_a_basis_for_each():
    for entry in document():
        standard = Standard.objects.get(code=entry["code"])
        stored = {sc.cell.code: sc for sc in standard.standard_cells.select_related("cell")}
        assert set(stored) == set(entry["cells"]), standard.code
        assert all(sc.basis for sc in stored.values()), standard.code
        assert any(code.startswith("content.") for code in stored), standard.code
        assert any(code.startswith("application.") for code in stored), standard.code
        standard.full_clean()


def test_standards_are_not_filled_from_one_generic_pattern():
    cell_sets = [
        frozenset(StandardCell.objects.filter(standard=s).values_list("cell__code", flat=True))
        for s in Standard.objects.all()
    ]
    assert len(set(cell_sets)) == len(cell_sets)


def test_laws_are_binding_and_sanctioned_and_guidance_is_not_binding():
    for standard in Standard.objects.filter(kind="law_regulation"):
        assert standard.binding, standard.code
    assert not Standard.objects.get(code="oecd-ddg").binding
    cells = set(
        Standard.objects.get(code="us-fcpa").standard_cells.values_list("cell__code", flat=True)
    )
    assert "content.transparency_corruption" in cells
    assert "enforcement.legal_sanction" in cells


def test_rmap_incorporates_the_oecd_guidance():
    assert StandardLink.objects.filter(
        source__code="rmi-rmap", target__code="oecd-ddg", kind="incorporates"
    ).exists()


def test_dodd_frank_is_limited_to_3tg_and_not_cobalt():
    standard = Standard.objects.get(code="us-dodd-frank-1502")
    minerals = set(standard.minerals.values_list("code", flat=True))
    assert minerals == {"tin", "tantalum", "tungsten", "gold"}
    assert standard.standard_cells.filter(cell__code="scope.limited").exists()


def test_reloading_unchanged_reference_data_writes_nothing():
    history = (
        Standard.history.count(),
        StandardCell.history.count(),
        StandardLink.history.count(),
    )
    before = (Standard.objects.count(), StandardCell.objects.count(), StandardLink.objects.count())
    load_standards()
    after = (Standard.objects.count(), StandardCell.objects.count(), StandardLink.objects.count())
    assert after == before
    assert (
        Standard.history.count(),
        StandardCell.history.count(),
        StandardLink.history.count(),
    ) == history


def test_reloading_keeps_a_judgement_a_person_removed_and_user_added_standards():
    oecd = Standard.objects.get(code="oecd-ddg")
    oecd.standard_cells.filter(cell__code="content.violent_conflict").delete()
    extra = Standard.objects.create(
        code="user-added",
        name="User added",
        short_name="UA",
        kind="industry_initiative",
        jurisdiction="INT",
        year=2024,
        binding=False,
    )
    report = load_standards()
    assert not oecd.standard_cells.filter(cell__code="content.violent_conflict").exists()
    assert "oecd-ddg" in dict(report.standards_report.kept)
    assert Standard.objects.filter(pk=extra.pk).exists()


def test_an_invalid_file_is_rejected_whole_with_every_problem_listed(tmp_path):
    doc = document()
    broken = copy.deepcopy(doc)
    broken[0]["cells"]["content.not_a_cell"] = {"clause": "", "basis": "x"}
    broken[1]["kind"] = "rumour"
    broken[2]["links"] = [{"target": "nowhere", "kind": "incorporates"}]
    with pytest.raises(ReferenceDataError) as excinfo:
        validate_standards_document(broken)
    message = str(excinfo.value)
    assert "content.not_a_cell" in message
    assert "rumour" in message
    # The link problem is found only once the structure is valid.
    broken[0]["cells"].pop("content.not_a_cell")
    broken[1]["kind"] = doc[1]["kind"]
    path = tmp_path / "standards.yaml"
    path.write_text(yaml.safe_dump(broken))
    count = StandardLink.objects.count()
    with pytest.raises(ReferenceDataError, match="nowhere"):
        load_standards(path)
    assert StandardLink.objects.count() == count
