"""Wrong, corrupt and dangerous files: a clear error naming the problem, nothing written."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.exceptions import ValidationError

from intake import services
from intake.models import ImportJob
from registry.models import ProductionStatistic

from .intake_helpers import (
    PRODUCTION_HEADER,
    csv_bytes,
    errors,
    production_row,
    run,
    upload,
    xlsx_bytes,
)

pytestmark = pytest.mark.django_db

GOOD = [PRODUCTION_HEADER, production_row("CD", 220), production_row("WORLD", 290)]


def refused(data: bytes, name: str, kind=None) -> str:
    with pytest.raises(ValidationError) as caught:
        services.job_create(user=None, upload=upload(data, name), kind=kind, run_later=False)
    assert not ImportJob.objects.exists()
    return " ".join(caught.value.messages)


def _rezip(data: bytes, change) -> bytes:
    """The workbook `data` with its parts passed through change(name, bytes) -> bytes, plus
    the extra parts change returns for the name None."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            target.writestr(item.filename, change(item.filename, source.read(item.filename)))
        for name, content in change(None, b"") or ():
            target.writestr(name, content)
    return out.getvalue()


def test_a_password_protected_workbook_is_refused_saying_so():
    # An encrypted .xlsx is an OLE compound file, not a zip.
    encrypted = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 4096
    assert "password-protected" in refused(encrypted, "suppliers.xlsx")


def test_a_macro_enabled_workbook_is_refused_by_its_name_and_by_its_content():
    assert "macro-enabled" in refused(xlsx_bytes(GOOD), "production.xlsm")

    def add_macros(name, content):
        return [("xl/vbaProject.bin", b"\x00macro")] if name is None else content

    assert "macros" in refused(_rezip(xlsx_bytes(GOOD), add_macros), "production.xlsx")


def test_a_zip_bomb_is_refused_before_it_is_unpacked():
    def add_bomb(name, content):
        return [("xl/media/padding.bin", b"\x00" * (8 * 1024 * 1024))] if name is None else content

    message = refused(_rezip(xlsx_bytes(GOOD), add_bomb), "production.xlsx")
    assert "zip bomb" in message


def test_a_corrupt_workbook_and_a_binary_file_are_refused():
    assert "corrupt" in refused(b"PK\x03\x04" + b"garbage" * 100, "production.xlsx")
    assert "not a real Excel" in refused(b"just text", "production.xlsx")
    assert "neither CSV" in refused(b"\x89PNG\r\n\x1a\n\x00\x00", "production.csv")


def test_a_file_that_does_not_say_its_kind_asks_for_one():
    message = refused(csv_bytes([["a", "b"], ["1", "2"]]), "table.csv")
    assert "name the kind" in message
    assert "production" in message


def test_an_unknown_kind_is_named():
    assert "'nonsense' is not a kind" in refused(csv_bytes(GOOD), "p.csv", kind="nonsense")


def test_a_file_missing_required_columns_fails_naming_them_and_writes_nothing():
    data = csv_bytes([["mineral", "stage", "year"], ["cobalt", "mining", "2024"]])
    job = run(data, kind="production", dry_run=False)
    assert job.status == "failed"
    assert "lacks the column(s) country, amount, unit, source" in job.error


def test_formulas_where_values_belong_are_row_errors_and_nothing_is_written():
    rows = [PRODUCTION_HEADER, production_row("CD", "=200+20"), production_row("WORLD", 290)]
    job = run(xlsx_bytes(rows), name="production.xlsx", dry_run=False)
    assert errors(job) == [(2, "amount", "amount holds a formula (=200+20); put the value itself.")]
    assert not ProductionStatistic.objects.filter(year=2024, product="cobalt").exists()


def test_a_sheet_of_a_million_empty_rows_fails_clearly_and_writes_nothing():
    def stretch(name, content):
        if name == "xl/worksheets/sheet1.xml":
            # Formatting left on row 1,000,000: every row up to it reads as empty.
            return content.replace(
                b"</sheetData>", b'<row r="1000000"><c r="A1000000" s="0"/></row></sheetData>'
            ).replace(b'<dimension ref="A1:I3" />', b'<dimension ref="A1:I1000000" />')
        return None if name is None else content

    job = run(_rezip(xlsx_bytes(GOOD), stretch), name="production.xlsx", dry_run=False)
    assert job.status == "failed"
    assert "more than 1000 empty rows in a row after row 3" in job.error
    assert not ProductionStatistic.objects.filter(year=2024, product="cobalt").exists()


def test_a_csv_that_is_not_utf8_fails_clearly():
    data = csv_bytes(GOOD) + "cobalt,mining,cobalt,2024,CI,,1,t,Côte\n".encode("latin-1")
    assert "not UTF-8" in refused(data, "production.csv")
    # Far down a long file, it is found while the rows are read: the job fails, unwritten.
    long = csv_bytes(GOOD + [production_row(year=y) for y in range(1900, 2100)])
    job = run(long + "cobalt,mining,cobalt,2024,CI,,1,t,Côte\n".encode("latin-1"), dry_run=False)
    assert job.status == "failed"
    assert "not UTF-8" in job.error
    assert not ProductionStatistic.objects.filter(product="cobalt").exists()


def test_the_uploaded_file_is_kept_as_hashed_evidence_once():
    first = run(csv_bytes(GOOD), dry_run=True)
    second = run(csv_bytes(GOOD), dry_run=True)
    assert first.sha256 == second.sha256 and len(first.sha256) == 64
    assert first.file.name == second.file.name == f"intake/{first.sha256[:2]}/{first.sha256}"
    with first.file.open("rb") as handle:
        assert handle.read() == csv_bytes(GOOD)
