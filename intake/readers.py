"""Opening an uploaded table safely and reading it row by row, in bounded memory.

Everything that makes a file unreadable or dangerous is refused here with a message for
the person who sent it (ImportRefused), before anything is written: a file that is not
CSV or XLSX, a corrupt workbook, a password-protected one (an encrypted workbook is an OLE
container, not a zip), a macro-enabled one (.xlsm, vbaProject.bin), a zip bomb, a sheet
of endless empty rows. Formulas are reported per cell by the table kinds (a value
belongs there).
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

from .context import Head, ImportRefused

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
# A workbook of 100,000 rows unpacks to some tens of MB; far above is a bomb.
MAX_UNPACKED_BYTES = 400 * 1024 * 1024
MAX_RATIO = 150  # uncompressed / compressed, per member (real sheets stay under ~30)
MAX_MEMBERS = 10_000
MAX_ROWS = 1_000_000
# Consecutive empty rows tolerated before the sheet is refused (formatting left behind).
MAX_EMPTY_RUN = 1_000
csv.field_size_limit(1024 * 1024)


class Formula(str):
    """A cell holding a formula (its text), where a value belongs."""


def sniff(path: Path, name: str) -> str:
    """'csv' or 'xlsx', from the bytes (the name only breaks ties); refuses the rest."""
    with open(path, "rb") as handle:
        head = handle.read(1024)
    lower = name.lower()
    if head.startswith(OLE_MAGIC):
        raise ImportRefused(
            f"{name} is a password-protected (encrypted) workbook or an old .xls file: "
            "save it as an unprotected .xlsx (or CSV) and send it again."
        )
    if head.startswith(ZIP_MAGIC):
        if lower.endswith((".xlsm", ".xltm", ".xlsb")):
            raise ImportRefused(
                f"{name} is a macro-enabled workbook; macros are not accepted: "
                "save it as .xlsx and send it again."
            )
        _check_zip(path, name)
        return "xlsx"
    if lower.endswith((".xlsx", ".xlsm", ".xls")):
        raise ImportRefused(f"{name} is not a real Excel workbook (it is not a zip file).")
    if b"\x00" in head:
        raise ImportRefused(f"{name} is neither CSV text nor an .xlsx workbook.")
    return "csv"


def _check_zip(path: Path, name: str) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            names = {m.filename for m in members}
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ImportRefused(f"{name} is a corrupt workbook: {exc}.") from exc
    if len(members) > MAX_MEMBERS:
        raise ImportRefused(f"{name} holds {len(members)} parts; a workbook has far fewer.")
    if any(n.lower().endswith("vbaproject.bin") for n in names):
        raise ImportRefused(
            f"{name} contains macros (vbaProject.bin); save it as a plain .xlsx without them."
        )
    if "xl/workbook.xml" not in names:
        raise ImportRefused(f"{name} is a zip file but not an Excel workbook.")
    total = sum(m.file_size for m in members)
    if total > MAX_UNPACKED_BYTES:
        raise ImportRefused(
            f"{name} unpacks to {total // (1024 * 1024)} MB, over the "
            f"{MAX_UNPACKED_BYTES // (1024 * 1024)} MB limit (a zip bomb or a bloated file)."
        )
    for m in members:
        if m.file_size > 1024 * 1024 and m.file_size > MAX_RATIO * max(m.compress_size, 1):
            raise ImportRefused(
                f"{name}: {m.filename} is compressed {m.file_size // max(m.compress_size, 1)} "
                "to 1, as zip bombs are; it is not read."
            )


def _clean(value) -> object:
    if isinstance(value, str):
        value = value.strip()
        # An export writes text that looks like a formula as '=...: read it back as text.
        if value[:2] in ("'=", "'+", "'-", "'@"):
            value = value[1:]
    return value


def _is_empty(values) -> bool:
    return all(v is None or v == "" for v in values)


def iter_rows(path: Path, extension: str, *, sheet: str | None = None) -> Iterator[tuple]:
    """(row number, [cell values]) for every non-empty row of the file (the first sheet,
    or `sheet`), streamed. Row numbers are the file's (1 = first line)."""
    if extension == "csv":
        yield from _csv_rows(path)
    else:
        yield from _xlsx_rows(path, sheet)


def _csv_rows(path: Path) -> Iterator[tuple]:
    handle = open(path, "rb")  # noqa: SIM115 (closed in finally; a generator)
    try:
        text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
        try:
            for number, values in enumerate(csv.reader(text), start=1):
                if number > MAX_ROWS + 1:
                    raise ImportRefused(f"The file has more than {MAX_ROWS} rows.")
                if not _is_empty(values):
                    yield number, [_clean(v) for v in values]
        except UnicodeDecodeError as exc:
            raise ImportRefused(
                "The file is not UTF-8 text: save the CSV as UTF-8 and send it again."
            ) from exc
        except csv.Error as exc:
            raise ImportRefused(f"The CSV cannot be read: {exc}.") from exc
    finally:
        handle.close()


def _open_workbook(path: Path):
    from openpyxl import load_workbook

    # A file object: openpyxl would judge a path by its name (temporary files have none).
    handle = open(path, "rb")  # noqa: SIM115 (closed by _close)
    try:
        # read_only streams the sheet; data_only=False shows formulas for what they are.
        workbook = load_workbook(handle, read_only=True, data_only=False, keep_links=False)
    except Exception as exc:  # openpyxl raises many types on a broken file
        handle.close()
        raise ImportRefused(f"The workbook is corrupt or not a real .xlsx: {exc}.") from exc
    workbook._intake_handle = handle
    return workbook


def _close(workbook) -> None:
    workbook.close()
    workbook._intake_handle.close()


def _xlsx_rows(path: Path, sheet: str | None) -> Iterator[tuple]:
    workbook = _open_workbook(path)
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            raise ImportRefused(f"The workbook has no sheet named {sheet!r}.")
        ws = workbook[sheet] if sheet else workbook.worksheets[0]
        empty_run = 0
        try:
            for number, row in enumerate(ws.iter_rows(), start=1):
                if number > MAX_ROWS + 1:
                    raise ImportRefused(f"The sheet has more than {MAX_ROWS} rows.")
                values = []
                for cell in row:
                    value = _clean(getattr(cell, "value", None))
                    if getattr(cell, "data_type", None) == "f" or (
                        isinstance(value, str) and value.startswith("=") and len(value) > 1
                    ):
                        value = Formula(str(value))
                    values.append(value)
                if _is_empty(values):
                    empty_run += 1
                    if empty_run > MAX_EMPTY_RUN:
                        raise ImportRefused(
                            f"The sheet {ws.title!r} has more than {MAX_EMPTY_RUN} empty rows "
                            f"in a row after row {number - empty_run}: delete the empty rows "
                            "(or clear their formatting) and send it again."
                        )
                    continue
                empty_run = 0
                yield number, values
        except ImportRefused:
            raise
        except Exception as exc:
            raise ImportRefused(f"The workbook is corrupt: {exc}.") from exc
    finally:
        _close(workbook)


def count_rows(path: Path, extension: str) -> int | None:
    """Data rows (header excluded) for the progress bar; a cheap estimate for XLSX."""
    if extension == "csv":
        lines = 0
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                lines += chunk.count(b"\n")
        return max(lines - 1, 0)
    workbook = _open_workbook(path)
    try:
        ws = workbook.worksheets[0]
        # The sheet's declared dimension; absent in some writers.
        return max((ws.max_row or 1) - 1, 0) if ws.max_row else None
    except Exception:
        return None
    finally:
        _close(workbook)


def head(path: Path, extension: str) -> Head:
    """The sheet names and the first non-empty row: enough to tell the kind."""
    sheets: list[str] = []
    if extension == "xlsx":
        workbook = _open_workbook(path)
        sheets = list(workbook.sheetnames)
        _close(workbook)
    first: list[str] = []
    for _, values in iter_rows(path, extension):
        first = [str(v).strip().lower() if v is not None else "" for v in values]
        break
    return Head(extension=extension, sheets=sheets, header=first)
