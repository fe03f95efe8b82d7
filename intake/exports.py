"""Tables out: a template (header and one example row) and every table's rows, as CSV or
XLSX, in the very format its import reads."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator

from config.spreadsheet import neutralise

from .tables import TABLES, Table

FORMATS = ("csv", "xlsx")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _safe(value) -> object:
    return neutralise(value) if isinstance(value, str) else value


def template_rows(table: Table) -> list[list]:
    return [table.columns, [table.example.get(c, "") for c in table.columns]]


def export_rows(table: Table, user=None) -> Iterator[list]:
    yield table.columns
    if table.code == "attestations":
        yield from table.export(user)
    else:
        yield from table.export()


def csv_stream(rows: Iterable[list]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([_safe(v) for v in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def xlsx_file(rows: Iterable[list], title: str):
    """A write-only workbook (streamed to disk), returned as an open temporary file."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])
    for row in rows:
        sheet.append([_safe(v) for v in row])
    handle = tempfile.TemporaryFile()  # noqa: SIM115 (the response closes it)
    workbook.save(handle)
    handle.seek(0)
    return handle


def table_of(code: str) -> Table | None:
    return TABLES.get(code)
