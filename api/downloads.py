"""Every list and computation of the API as a file: `?format=csv` or `?format=xlsx`.

The answer is the JSON's, made a table: the same filters, order and access rules (the
view runs as for JSON; only the last step differs). Columns are the row serializer's
fields, nested ones flattened to dotted names (`band.level`), so the header does not
depend on the data; a list in a cell is joined with "; ", a mapping as "key=value; ...".

- A list is the whole filtered list, not a page: read by keyset in chunks of
  CHUNK rows in the list's own order (api.pagination's keys, no OFFSET), each chunk with
  the viewset's prefetches, so queries grow with chunks, not rows. CSV is streamed as it
  is read; XLSX is written row by row (openpyxl's write-only mode) to a temporary file on
  disk, then streamed from it.
- A computation (a scorecard, the gap search, a comparison, ...) is its view's answer,
  its table picked by a `Table` spec of the view.
- A cell starting with = + - @ (or a tab or carriage return) is prefixed with ' so a
  spreadsheet shows it as text instead of running it (CSV injection); plain numbers
  such as "-1.5" are left alone.
- An error, or a 202 while a computation runs, stays JSON. An unknown `?format=` is a 400
  naming it (api.negotiation).

Why not djangorestframework-csv / drf-excel: both render a list already in memory (one
page, or the whole queryset at once), and neither neutralises formulas in XLSX cells.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from django.http import FileResponse, StreamingHttpResponse
from drf_spectacular.openapi import AutoSchema
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings

from config.spreadsheet import neutralise

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHUNK = 500  # rows read per query when a list is downloaded


# --- cells and rows -----------------------------------------------------------------------


def cell(value):
    """A value of the JSON answer as one spreadsheet cell (numbers and booleans kept)."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return neutralise("; ".join(f"{k}={_flat(v)}" for k, v in value.items()))
    if isinstance(value, list | tuple):  # a list's first item starts the cell: checked too
        return neutralise("; ".join(_flat(v) for v in value))
    return neutralise(str(value))


def _flat(value) -> str:
    """A value inside a list or mapping cell, as text."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={_flat(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_flat(v) for v in value)
    if value is None:
        return ""
    return str(value)


def pick(row, column: str):
    for part in column.split("."):
        if not isinstance(row, dict):
            return None
        row = row.get(part)
    return row


def columns_of(serializer: serializers.BaseSerializer, prefix: str = "") -> list[str]:
    """The serializer's readable fields, a nested object's as dotted names."""
    names = []
    for name, field in serializer.fields.items():
        if field.write_only:
            continue
        if isinstance(field, serializers.Serializer):  # one nested object (not a list)
            names += columns_of(field, f"{prefix}{name}.")
        else:
            names.append(prefix + name)
    return names


def table_row(row: dict, columns: list[str]) -> list:
    return [cell(pick(row, c)) for c in columns]


# --- files --------------------------------------------------------------------------------


class _Echo:
    def write(self, value):
        return value


def csv_stream(columns: list[str], rows: Iterable[dict]) -> Iterator[str]:
    """The header, then one line per row, as each is read."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(columns)  # the BOM: Excel reads UTF-8 by it
    for row in rows:
        values = table_row(row, columns)
        yield writer.writerow(
            ["true" if v is True else "false" if v is False else v for v in values]
        )


def xlsx_file(columns: list[str], rows: Iterable[dict], title: str):
    """A workbook written row by row to a temporary file (memory stays one row)."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31] or "data")
    sheet.append(columns)
    for row in rows:
        sheet.append(
            [
                ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v
                for v in table_row(row, columns)
            ]
        )
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - the FileResponse closes it
    book.save(handle)
    handle.seek(0)
    return handle


def file_response(fmt: str, name: str, columns: list[str], rows: Iterable[dict]):
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "download"
    filename = f"{name}-{dt.date.today().isoformat()}.{fmt}"
    if fmt == "csv":
        response = StreamingHttpResponse(
            csv_stream(columns, rows), content_type=f"{CSV}; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    else:
        response = FileResponse(
            xlsx_file(columns, rows, name), as_attachment=True, filename=filename
        )
        response["Content-Type"] = XLSX
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- negotiation and renderers --------------------------------------------------------------


class CSVRenderer(BaseRenderer):
    """Chosen by `?format=csv` (or Accept: text/csv); the file itself is made by
    `Downloadable`, which replaces the answer before rendering."""

    media_type = CSV
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return _as_json(data, renderer_context)


class XLSXRenderer(BaseRenderer):
    media_type = XLSX
    format = "xlsx"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return _as_json(data, renderer_context)


def _as_json(data, renderer_context):
    """Only reached by an answer that is not a table (an error): it stays JSON."""
    response = (renderer_context or {}).get("response")
    if response is not None:
        response["Content-Type"] = "application/json"
    return JSONRenderer().render(data, renderer_context=renderer_context)


DOWNLOAD_RENDERERS = (CSVRenderer, XLSXRenderer)
FORMATS = tuple(r.format for r in DOWNLOAD_RENDERERS)


def requested(request) -> str | None:
    """'csv' or 'xlsx' when the request asked for a file."""
    renderer = getattr(request, "accepted_renderer", None)
    fmt = getattr(renderer, "format", None)
    return fmt if fmt in FORMATS else None


# --- views -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """What a computation downloads: its rows and their columns.

    `rows`: a key of the answer (dotted) holding the list, or a function
    (view, request, data) -> rows, for a table the answer holds only a page of.
    `serializer`: the row serializer, whose fields are the columns (or `columns`), or
    the answer's serializer holding the rows' under `rows`.
    `name`: the file's name before the date; a function (view) -> str may add what it is of.
    """

    name: str | Callable
    rows: str | Callable
    serializer: type[serializers.BaseSerializer] | None = None
    columns: tuple[str, ...] = ()

    def column_names(self) -> list[str]:
        if self.columns:
            return list(self.columns)
        serializer = self.serializer()
        # The answer's serializer with the rows under `rows`: the columns are its rows'.
        nested = serializer.fields.get(self.rows) if isinstance(self.rows, str) else None
        if isinstance(nested, serializers.ListSerializer):
            serializer = nested.child
        return columns_of(serializer)

    def file_name(self, view) -> str:
        return self.name(view) if callable(self.name) else self.name

    def rows_of(self, view, request, data) -> Iterable[dict]:
        if callable(self.rows):
            return self.rows(view, request, data)
        return pick(data, self.rows) or []


class DownloadSchema(AutoSchema):
    """The files in the OpenAPI schema: the `format` parameter (added by drf-spectacular
    for an operation with several renderers) and, for text/csv and XLSX, their columns."""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        columns = self.view.download_columns() if operation else None
        if columns is None:
            return operation
        content = operation.get("responses", {}).get("200", {}).get("content", {})
        listing = ", ".join(columns)
        for media, what in ((CSV, "CSV, UTF-8 with a BOM"), (XLSX, "An XLSX workbook")):
            if media in content:
                content[media] = {
                    "schema": {
                        "type": "string",
                        "format": "binary",
                        "description": f"{what}, one row per record, columns: {listing}. "
                        'Nested fields are dotted; a list is joined with "; ".',
                    }
                }
        for parameter in operation.get("parameters", []):
            if parameter.get("name") == api_settings.URL_FORMAT_OVERRIDE:
                parameter["description"] = (
                    "csv or xlsx: the whole answer as a file (every row of a list, not a "
                    "page), with the same filters"
                )
        return operation


class Downloadable:
    """A view whose answer downloads as CSV / XLSX.

    Viewsets: the `list` action (the whole filtered list, by keyset chunks), and actions
    named in `download_tables`. APIViews: `download_tables = {"get": Table(...)}`.
    """

    download_name: str = ""  # a list's file name, e.g. "companies"
    download_tables: dict[str, Table] = {}
    schema = DownloadSchema()

    def _download_key(self) -> str | None:
        action = getattr(self, "action", None)
        if action is None:  # an APIView
            return "get" if "get" in self.download_tables else None
        if action == "list" and self.download_name:
            return "list"
        return action if action in self.download_tables else None

    def get_renderers(self):
        renderers = super().get_renderers()
        if self._download_key() is None:
            return renderers
        return [*renderers, *(r() for r in DOWNLOAD_RENDERERS)]

    def download_columns(self) -> list[str] | None:
        key = self._download_key()
        if key is None:
            return None
        if key == "list" and key not in self.download_tables:
            return columns_of(self.get_serializer_class()())
        return self.download_tables[key].column_names()

    # --- lists ---------------------------------------------------------------------------

    def list(self, request, *args, **kwargs):
        fmt = requested(request)
        if fmt is None:
            return super().list(request, *args, **kwargs)
        return self.download_list(request, fmt)

    def download_rows(self, chunk: list) -> list[dict]:
        """One chunk of records as the JSON's rows (a viewset may cut them per requester)."""
        return self.get_serializer(chunk, many=True).data

    def download_list(self, request, fmt: str):
        queryset = self.filter_queryset(self.get_queryset())
        columns = self.download_columns()
        rows = (row for chunk in keyset_chunks(self, queryset) for row in self.download_rows(chunk))
        return file_response(fmt, self.download_name, columns, rows)

    # --- computations --------------------------------------------------------------------

    def finalize_response(self, request, response, *args, **kwargs):
        fmt = requested(request)
        if fmt and isinstance(response, Response):
            if response.status_code == 200 and not response.exception:
                table = self.download_tables[self._download_key()]
                rows = table.rows_of(self, request, response.data)
                response = file_response(fmt, table.file_name(self), table.column_names(), rows)
            else:  # an error, or a 202 while it is computed: JSON, as without `format`
                request.accepted_renderer = JSONRenderer()
                request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


def keyset_chunks(view, queryset, size: int | None = None) -> Iterator[list]:
    """The queryset in the view's list order, `size` rows a query: each chunk starts
    after the last row of the one before (WHERE (a, pk) > (x, y)), as the list's pages
    do, so the cost of a chunk does not grow with how far the download has got."""
    size = size or CHUNK
    paginator = view.paginator
    ordering = paginator.get_ordering(view.request, queryset, view)
    paginator.ordering = ordering
    paginator.keys_ = keys = paginator.keys(ordering, queryset.model)
    ordered = queryset.order_by(*(key.order(False) for key in keys))
    position = None
    while True:
        rows = ordered
        if position is not None:
            bound = keys[0].bound(position[0], False)
            if bound is not None:
                rows = rows.filter(bound)
            rows = rows.filter(paginator.beyond(position, False, False))
        chunk = list(rows[:size])
        if chunk:
            yield chunk
        if len(chunk) < size:
            return
        position = paginator.position_of(chunk[-1])


def downloadable(name: str = "", *, serialize: Callable | None = None, **tables: Table):
    """A class decorator: the view with `Downloadable` first, so that an existing view
    gains its files with one line. `name` names a viewset's list file; `serialize`
    (view, chunk) -> rows cuts a list's records as its JSON does; `tables` names the
    actions (or "get" of an APIView) that download and their `Table`."""

    def wrap(cls):
        attrs = {
            "__module__": cls.__module__,
            "__qualname__": cls.__qualname__,
            "__doc__": cls.__doc__,
            "download_name": name,
            "download_tables": tables,
        }
        if serialize is not None:
            attrs["download_rows"] = lambda self, chunk: serialize(self, chunk)
        return type(cls.__name__, (Downloadable, cls), attrs)

    return wrap
