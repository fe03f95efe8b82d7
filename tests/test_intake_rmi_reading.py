"""Reading and checking filled RMI templates of every supported version (EMRT 2.0, 2.1,
CMRT 6.31, 6.4, 6.5, AMRT 1.3), built in the test from the shipped blanks."""

from __future__ import annotations

import datetime as dt
import functools
import shutil

import openpyxl
import pytest

from intake.rmi import checker, reader, services

from .rmi_templates import MINERALS, SMELTERS, VERSIONS, build, build_variant, open_filled

TODAY = dt.date(2026, 12, 6)
ids = [f"{t}-{v}" for t, v in VERSIONS]


@functools.cache
def _read(path, key):
    wb = open_filled(path)
    try:
        return reader.read(wb, services.lookup_for(*key))
    finally:
        wb.close()


def _findings(path, key):
    decl = _read(path, key)
    return decl, checker.check(decl, services.lookup_for(*key), today=TODAY)


@pytest.mark.parametrize("key", VERSIONS, ids=ids)
def test_template_and_version_come_from_the_content_not_the_file_name(key, tmp_path):
    misleading = tmp_path / "RMI_CMRT_6.5-final.xlsx"
    shutil.copy(build(*key)["good"], misleading)
    wb = open_filled(misleading)
    template, version, released = reader.identify(wb)
    wb.close()
    assert (template, version) == key
    assert released is not None and released.year >= 2023


@pytest.mark.parametrize("key", VERSIONS, ids=ids)
def test_a_good_fill_reads_declaration_smelters_and_mines(key):
    template = key[0]
    decl = _read(build(*key)["good"], key)
    assert decl.company["name"] == "Kivu Cathodes Ltd"
    assert decl.company["scope"] == "A. Company"
    assert decl.company["authoriser"] == "Bea Boss"
    assert decl.company["effective_date"] == dt.date(2026, 1, 15)
    assert sorted(decl.minerals) == sorted(MINERALS[template])
    for mineral in MINERALS[template]:
        assert decl.answers["1"][mineral] == "Yes"
    cid, metal, name, country = SMELTERS[template][0]
    first, unlisted = decl.smelters
    # Entered by ID only: metal, name and country resolved from the look-up.
    assert (first.cid, first.metal, first.name, first.country) == (cid, metal, name, country)
    assert unlisted.placeholder == "not listed"
    assert (unlisted.name, unlisted.country) == ("Lyon Refining Works", "FRANCE")
    if template in ("EMRT", "AMRT"):
        assert [(m.name, m.country, m.metal) for m in decl.mines] == [
            ("Mine du Nord", "CANADA", metal)
        ]
    else:
        assert decl.mines == []


# The blanks are set to Chinese; one version of each family is read again in German.
@pytest.mark.parametrize("key", [("EMRT", "2.1"), ("CMRT", "6.5"), ("AMRT", "1.3")], ids=str)
def test_the_language_selector_changes_nothing_read(key):
    chinese = _read(build(*key)["good"], key)
    german = _read(build_variant(*key, "german"), key)
    assert chinese.language != german.language == "Deutsch"
    assert chinese.summary() == german.summary()
    assert [vars(s) for s in chinese.smelters] == [vars(s) for s in german.smelters]


@pytest.mark.parametrize("key", VERSIONS, ids=ids)
def test_a_good_fill_has_no_errors_only_the_unlisted_smelter_warning(key):
    _, findings = _findings(build(*key)["good"], key)
    assert [(f.sheet, f.cell, f.severity) for f in findings] == [("Smelter List", "C6", "warning")]
    assert "smelter not listed" in findings[0].message


@pytest.mark.parametrize("key", VERSIONS, ids=ids)
def test_a_faulty_fill_lists_every_problem_with_sheet_cell_and_severity(key):
    template = key[0]
    decl, findings = _findings(build(*key)["faulty"], key)
    lay = decl.layout
    got = {(f.sheet, f.cell, f.severity): f.message for f in findings}
    first_q1 = f"D{lay.question('1').first_row}"
    expected = {
        ("Declaration", lay.company["authoriser"], "error"): "authoriser",
        ("Declaration", lay.company["effective_date"], "error"): "in the future",
        ("Declaration", first_q1, "error"): "question 1",
        ("Smelter List", "B7", "error"): "not among the minerals declared in scope",
        ("Smelter List", "C7", "warning"): "not yet identified",
        ("Smelter List", "A8", "error"): f"not in RMI's Smelter Look-up of {template} {key[1]}",
        ("Smelter List", "D9", "warning"): "does not fit smelter ID",
        ("Smelter List", "A10", "warning"): "repeats smelter",
    }
    for where, words in expected.items():
        assert where in got, f"missing finding at {where}; got {sorted(got)}"
        assert words in got[where]
    assert all(f.severity in ("error", "warning") for f in findings)


def test_not_listed_and_not_identified_rows_are_caught_in_any_case():
    row = reader.SmelterRow(row=5, lookup_name="SMELTER Not Listed")
    assert row.placeholder == "not listed"
    assert reader.SmelterRow(row=6, name="smelter not yet IDENTIFIED").placeholder == (
        "not yet identified"
    )


def test_a_workbook_that_is_not_a_template_is_refused(tmp_path):
    wb = openpyxl.Workbook()
    wb.active["A1"] = "hello"
    path = tmp_path / "RMI_EMRT_2.1.xlsx"
    wb.save(path)
    with pytest.raises(reader.NotATemplate, match="not an RMI reporting template"):
        reader.identify(open_filled(path))


def test_a_revision_the_importer_does_not_know_is_refused(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "Declaration"
    wb["Declaration"]["J3"] = "Revision 9.9\nJanuary 1, 2030"
    wb.create_sheet("Smelter List")
    wb.create_sheet("Smelter Look-up")
    path = tmp_path / "x.xlsx"
    wb.save(path)
    with pytest.raises(reader.NotATemplate, match="revision 9.9 is not supported"):
        reader.identify(open_filled(path))


def test_a_smelter_chosen_by_metal_and_look_up_name_gets_its_id_from_the_look_up():
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Smelter List"
    ws["B5"], ws["C5"] = "Cobalt", "anhui hanrui new material co., ltd."  # any case
    ws["B6"], ws["C6"] = "Cobalt", "No Such Smelter Inc."
    first, unknown = reader.read_smelters(wb, services.lookup_for("EMRT", "2.1"))
    assert (first.cid, first.country) == ("CID003927", "CHINA")
    assert unknown.cid == ""


def test_an_unlisted_smelter_saved_by_excel_or_libreoffice_has_no_id_not_id_zero(tmp_path):
    # Their formulas compute the unlisted row's look-up columns as 0 and cache that value.
    key = ("EMRT", "2.1")
    wb = openpyxl.load_workbook(build(*key)["good"])
    for column in "FGHIJ":
        wb["Smelter List"][f"{column}6"] = 0
    saved = tmp_path / "saved-by-excel.xlsx"
    wb.save(saved)
    decl, findings = _findings(saved, key)
    unlisted = decl.smelters[1]
    assert (unlisted.name, unlisted.cid, unlisted.city) == ("Lyon Refining Works", "", "")
    assert [(f.cell, f.severity) for f in findings] == [("C6", "warning")]
