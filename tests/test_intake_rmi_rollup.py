"""A company's own EMRT rolled up from its suppliers' declarations, written into RMI's
blank template, and read back the same (round trip)."""

from __future__ import annotations

import csv
import datetime as dt
import os
import shutil
import subprocess
import zipfile

import pytest

from intake.models import DeclaredSmelter, SupplierDeclaration
from intake.rmi import reader, services
from intake.rmi.rollup import RULES
from registry.models import SupplyRelationship
from taxonomy.models import Cell, Mineral

from .factories import make_company, make_org
from .rmi_templates import build, open_filled

pytestmark = pytest.mark.django_db
ANHUI = "CID003927"


@pytest.fixture
def buyer():
    company = make_company("Cell Maker GmbH", stages=("cell",), country="DE")
    org = make_org("Cell Maker compliance", company=company)
    # Supplier one: Kivu Cathodes' filled EMRT 2.1 (Cobalt and Nickel; Hanrui by ID).
    wb = open_filled(build("EMRT", "2.1")["good"])
    decl = reader.read(wb, services.lookup_for("EMRT", "2.1"))
    wb.close()
    services.commit_declaration(decl, owner=org, sha256="a" * 64)
    # Supplier two: cobalt only, Hanrui again, an unlisted smelter, a gap.
    second = SupplierDeclaration.objects.create(
        owner=org,
        supplier=make_company("Lualaba Hydroxide", country="CD"),
        template="EMRT",
        version="2.0",
        effective_date=dt.date(2026, 3, 1),
        scope="A. Company",
        minerals=["Cobalt"],
        answers={
            "1": {"Cobalt": "Yes"},
            "2": {"Cobalt": "Yes"},
            "3": {"Cobalt": "Unknown"},
            "4": {"Cobalt": "No"},
            "6": {"Cobalt": "No"},
            "7": {"Cobalt": "Yes"},
        },
        sha256="b" * 64,
    )
    for row, cid, name, country, match in (
        (5, ANHUI, "Anhui Hanrui New Material Co., Ltd.", "CN", "cid"),
        (6, "", "Kolwezi Refinery", "CD", "unmatched"),
        (7, "", "Smelter not yet identified", "", "placeholder"),
    ):
        DeclaredSmelter.objects.create(
            declaration=second,
            row=row,
            metal="Cobalt",
            cid=cid,
            name=name,
            country=country,
            match=match,
        )
    # A third cobalt supplier who sent nothing: 2 of 3 answered.
    SupplyRelationship.objects.create(
        supplier=make_company("Silent Cobalt", country="ZA"),
        buyer=company,
        material="intermediate",
        mineral=Mineral.objects.get(code="cobalt"),
        stage=Cell.objects.get(code="application.refining"),
        share_pct=10,
    )
    return org


COMPANY = {
    "name": "Cell Maker GmbH",
    "scope": "A. Company",
    "contact_name": "Ada",
    "contact_email": "ada@example.org",
    "contact_phone": "+49 1",
    "authoriser": "Bea",
    "authoriser_email": "bea@example.org",
    "effective_date": dt.date(2026, 11, 1),
}


def test_the_roll_up_derives_answers_dedupes_smelters_and_computes_the_response_rate(
    buyer, tmp_path
):
    path, result = services.rollup_for(
        owner=buyer, template="EMRT", version="2.1", company=COMPANY, out=tmp_path / "own.xlsx"
    )
    assert result.minerals == ["Cobalt", "Nickel"]
    cobalt = {code: per["Cobalt"] for code, per in result.answers.items()}
    assert cobalt["1"] == "Yes"  # any supplier
    assert cobalt["3"] == "Unknown"  # one supplier does not know
    assert cobalt["4"] == "No"  # 100% recycled only if all say so
    assert cobalt["6"] == "No"  # not every supplier identified all its smelters
    assert cobalt["5"] == "Greater than 50%"  # 2 of 3 cobalt suppliers answered
    assert result.response_rates["Cobalt"] == pytest.approx(2 / 3)
    rows = [(s["cid"], s["name"]) for s in result.smelters]
    assert rows.count((ANHUI, "Anhui Hanrui New Material Co., Ltd.")) == 1  # de-duplicated
    assert ("", "Kolwezi Refinery") in rows
    assert not any("not yet identified" in n.lower() for _, n in rows)
    assert "response rate" in result.rules and result.rules == RULES


def test_the_written_template_is_a_sound_workbook_that_reads_back_the_same(buyer, tmp_path):
    path, result = services.rollup_for(
        owner=buyer, template="EMRT", version="2.1", company=COMPANY, out=tmp_path / "own.xlsx"
    )
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        assert "xl/workbook.xml" in archive.namelist()
    wb = open_filled(path)
    back = reader.read(wb, services.lookup_for("EMRT", "2.1"))
    wb.close()
    assert (back.template, back.version) == ("EMRT", "2.1")
    assert back.company["name"] == "Cell Maker GmbH"
    assert back.company["effective_date"] == dt.date(2026, 11, 1)
    assert back.minerals == result.minerals
    assert back.answers == result.answers
    assert sorted((s.cid, s.metal, s.name) for s in back.smelters) == sorted(
        (s["cid"], s["metal"], s["name"]) for s in result.smelters
    )
    # And into the registry again, as the buyer's customer would: the same content.
    customer = make_org("Carmaker compliance")
    record = services.commit_declaration(back, owner=customer, sha256="c" * 64)
    assert record.minerals == result.minerals and record.answers == result.answers
    assert sorted(record.smelters.values_list("cid", flat=True)) == sorted(
        s["cid"] for s in result.smelters
    )


def test_the_command_writes_the_organisations_own_template(buyer, tmp_path, capsys):
    import json

    from django.core.management import call_command

    out = tmp_path / "own-cmrt.xlsx"
    call_command("rmi_rollup", buyer.name, str(out), "--template", "EMRT", "--contact", "Ada")
    summary = json.loads(capsys.readouterr().out)
    assert summary["written"] == str(out) and summary["minerals"] == ["Cobalt", "Nickel"]
    wb = open_filled(out)
    assert reader.identify(wb)[:2] == ("EMRT", "2.1")
    wb.close()


SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
# Every sheet to its own CSV (LibreOffice 7.2+: the last token, -1), UTF-8, comma, quoted.
CSV_ALL_SHEETS = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"


def _soffice(src, outdir, convert_to: str) -> subprocess.CompletedProcess:
    """Headless LibreOffice opens `src` and saves it as `convert_to`; a profile of its
    own, so parallel test processes do not share (and lock) one."""
    profile = (outdir / "profile").as_uri()
    return subprocess.run(
        [SOFFICE, f"-env:UserInstallation={profile}", "--headless", "--norestore"]
        + ["--convert-to", convert_to, "--outdir", str(outdir), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def soffice() -> str:
    """LibreOffice's soffice; checked before the (slow) roll-up is built."""
    if SOFFICE:
        return SOFFICE
    message = (
        "LibreOffice (soffice) is not installed: apt-get install -y "
        "--no-install-recommends libreoffice-calc-nogui (.ci/run installs it)"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true: {message}")
    pytest.skip(message)


def test_libreoffice_opens_the_roll_up_cleanly_and_reads_the_cells_we_wrote(
    soffice, buyer, tmp_path
):
    path, result = services.rollup_for(
        owner=buyer, template="EMRT", version="2.1", company=COMPANY, out=tmp_path / "own.xlsx"
    )
    saved = _soffice(path, tmp_path / "xlsx", "xlsx:Calc MS Excel 2007 XML")
    sheets = _soffice(path, tmp_path / "csv", CSV_ALL_SHEETS)
    for run in (saved, sheets):  # a file it cannot load: "Error: source file could not ..."
        assert run.returncode == 0 and "Error" not in run.stdout + run.stderr, run

    # The sheets as LibreOffice computed them, formulas included (the template fills a
    # smelter's metal, name and country from its RMI ID by formula).
    def sheet(name):
        with open(tmp_path / "csv" / f"own-{name}.csv", encoding="utf-8", newline="") as f:
            return list(csv.reader(f))

    declaration = {row[1].strip(): row[3] for row in sheet("Declaration") if len(row) > 3}
    assert declaration["Company Name (*):"] == "Cell Maker GmbH"
    assert declaration["Contact Name (*):"] == "Ada"
    assert declaration["Authorizer (*):"] == "Bea"
    assert declaration["Effective Date (*):"] == "11/01/2026"
    listed = [r[:6] for r in sheet("Smelter List")[4:] if r[0] or r[3]]
    assert [r[0] for r in listed] == [s["cid"] for s in result.smelters]
    for row, s in zip(listed, result.smelters, strict=True):
        if s["cid"]:  # what RMI's look-up says of that ID, computed by LibreOffice
            entry = services.lookup_for("EMRT", "2.1").by_cid[s["cid"]]
            assert (row[1], row[5]) == (s["metal"], s["cid"])
            assert row[2].casefold() == entry.name.casefold() or row[2] == entry.alias
        else:
            assert (row[1], row[2], row[3]) == (s["metal"], "Smelter not listed", s["name"])
    # The workbook LibreOffice saved reads back into the registry with the same content.
    wb = open_filled(tmp_path / "xlsx" / "own.xlsx")
    back = reader.read(wb, services.lookup_for("EMRT", "2.1"))
    wb.close()
    assert (back.template, back.version) == ("EMRT", "2.1")
    assert back.company["name"] == "Cell Maker GmbH"
    assert back.company["effective_date"] == dt.date(2026, 11, 1)
    assert back.minerals == result.minerals and back.answers == result.answers
    assert [(s.cid, s.metal, s.name) for s in back.smelters] == [
        (s["cid"], s["metal"], s["name"]) for s in result.smelters
    ]
