"""Reading a filled RMI template (EMRT, CMRT, AMRT) from an openpyxl workbook.

Pure functions: no database. The workbook is best opened with
`openpyxl.load_workbook(path, read_only=True, data_only=True)`; formula cells then give
Excel's cached value, or None when the file was written by a program that does not
compute (openpyxl): the reader therefore uses the input columns and resolves names and
IDs against a Smelter Look-up itself.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from openpyxl.utils import column_index_from_string, get_column_letter

from . import layout as L

CID_RE = re.compile(r"^CID\d{6}$")
REVISION_RE = re.compile(r"(?:Revision|Version)\s+(\d+(?:\.\d+)?)\s*(.*)", re.S)
TITLES = {
    "extended": "EMRT",
    "conflict": "CMRT",
    "additional": "AMRT",
}


class NotATemplate(ValueError):
    """The workbook is not an RMI template the importer knows (message for the sender)."""


@dataclass
class LookupEntry:
    metal: str
    alias: str
    name: str  # standard smelter name
    country: str
    cid: str


@dataclass
class Lookup:
    """A version's Smelter Look-up: RMI's smelter IDs, names and aliases."""

    entries: list[LookupEntry]
    by_cid: dict[str, LookupEntry] = field(default_factory=dict)
    names: dict[str, set[str]] = field(default_factory=dict)  # cid -> folded names
    by_alias: dict[tuple[str, str], LookupEntry] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for e in self.entries:
            self.by_cid.setdefault(e.cid, e)
            self.names.setdefault(e.cid, set()).update({fold(e.alias), fold(e.name)})
            self.by_alias.setdefault((fold(e.metal), fold(e.alias)), e)


@dataclass
class SmelterRow:
    row: int
    metal: str = ""
    cid: str = ""
    cid_input: str = ""
    lookup_name: str = ""
    name: str = ""  # as written by the supplier (column D), else the look-up name
    country: str = ""
    id_source: str = ""
    street: str = ""
    city: str = ""
    state: str = ""
    mine_names: str = ""
    mine_country: str = ""
    recycled: str = ""
    comments: str = ""

    @property
    def placeholder(self) -> str:
        """'not listed' / 'not yet identified' rows, whatever their case; else ''."""
        for text in (self.lookup_name, self.name):
            folded = fold(text)
            if folded == L.NOT_LISTED:
                return "not listed"
            if folded == L.NOT_IDENTIFIED:
                return "not yet identified"
        return ""


@dataclass
class MineRow:
    row: int
    metal: str = ""
    smelter_names: str = ""
    name: str = ""
    mine_id: str = ""
    country: str = ""
    state: str = ""
    comments: str = ""


@dataclass
class Declaration:
    template: str
    version: str
    released: dt.date | None
    language: str
    company: dict[str, Any]
    minerals: list[str]  # in scope, sorted as the template sorts them
    answers: dict[str, dict[str, str]]  # question code -> {mineral or "company": answer}
    comments: dict[str, dict[str, str]]
    smelters: list[SmelterRow]
    mines: list[MineRow]
    products: list[dict[str, Any]]
    # Where each answer sits, for the checker's findings: (code, mineral) -> "D30".
    cells: dict[tuple[str, str], str] = field(default_factory=dict)
    scope_cells: dict[str, str] = field(default_factory=dict)  # mineral -> selector cell

    @property
    def layout(self) -> L.Layout:
        return L.LAYOUTS[(self.template, self.version)]

    def summary(self) -> dict[str, Any]:
        """JSON-friendly: what the declaration says (no smelter rows)."""
        company = dict(self.company)
        if isinstance(company.get("effective_date"), dt.date):
            company["effective_date"] = company["effective_date"].isoformat()
        return {
            "template": self.template,
            "version": self.version,
            "company": company,
            "minerals": self.minerals,
            "answers": self.answers,
            "products": self.products,
        }


def fold(value: Any) -> str:
    return " ".join(str(value or "").split()).casefold()


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    return " ".join(str(value).split())


def _grid(ws, max_row: int, max_col: int = 12) -> dict[str, Any]:
    """The sheet's top-left cells by coordinate (read-only sheets have no random access)."""
    cells: dict[str, Any] = {}
    for r, row in enumerate(ws.iter_rows(min_row=1, max_row=max_row, max_col=max_col), 1):
        for c, cell in enumerate(row, 1):
            value = getattr(cell, "value", None)
            if value is not None:
                cells[f"{get_column_letter(c)}{r}"] = value
    return cells


def identify(wb) -> tuple[str, str, dt.date | None]:
    """(template, revision, release date) from the workbook's content, not its name."""
    names = set(wb.sheetnames)
    if not {"Declaration", "Smelter List", "Smelter Look-up"} <= names:
        raise NotATemplate(
            "This workbook is not an RMI reporting template (no Declaration, Smelter List "
            "and Smelter Look-up sheets)."
        )
    top = _grid(wb["Declaration"], 4, 12)
    revision = next(
        (m for v in top.values() if isinstance(v, str) and (m := REVISION_RE.search(v))), None
    )
    template = None
    if "Revision" in names:
        title = _grid(wb["Revision"], 4, 3).get("B3", "")
        template = next((t for word, t in TITLES.items() if word in fold(title)), None)
    if template is None:  # the Revision sheet deleted: tell by the sheets
        template = (
            "AMRT" if "Minerals Scope" in names else "EMRT" if "Mine List" in names else "CMRT"
        )
    if revision is None:
        raise NotATemplate(
            f"This {template} has no revision number in cell J3 of the Declaration sheet; "
            "send the file as RMI's template produced it."
        )
    version = revision.group(1)
    if (template, version) not in L.LAYOUTS:
        known = ", ".join(f"{t} {v}" for t, v in L.LAYOUTS)
        raise NotATemplate(f"{template} revision {version} is not supported (known: {known}).")
    return template, version, _date(revision.group(2))


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and 20000 < value < 80000:  # an Excel serial number
        return dt.date(1899, 12, 30) + dt.timedelta(days=int(value))
    s = text(value)
    for fmt in (
        "%Y-%m-%d",
        "%d-%b-%Y",
        "%d %b %Y",
        "%d-%B-%Y",
        "%B %d, %Y",
        "%b %d, %Y",
        "%d/%m/%Y",
        "%m/%d/%Y",
        "%Y/%m/%d",
        "%d.%m.%Y",
    ):
        try:
            return dt.datetime.strptime(s, fmt).date()
        except ValueError:
            continue
    return None


def parse_date(value: Any) -> dt.date | None:
    return _date(value)


def read_lookup(wb) -> Lookup:
    ws = wb["Smelter Look-up"]
    entries = []
    for row in ws.iter_rows(min_row=5, max_col=5, values_only=True):
        metal, alias, name, country, cid = (text(v) for v in (list(row) + [None] * 5)[:5])
        if cid and CID_RE.match(cid):
            entries.append(LookupEntry(metal, alias, name or alias, country, cid))
    return Lookup(entries)


def read_countries(wb) -> dict[str, str]:
    """The template's country list (hidden sheet C): folded name -> ISO code."""
    if "C" not in wb.sheetnames:
        return {}
    out = {}
    for code, name in wb["C"].iter_rows(min_row=2, max_col=2, values_only=True):
        if code and name:
            out[fold(name)] = text(code)
    return out


def _answer(value: Any) -> str:
    if value == 1 or value == 1.0:  # "100%" is stored as the number 1 in CMRT lists
        return "100%"
    return text(value)


def read(wb, lookup: Lookup | None = None) -> Declaration:
    """The whole declaration. `lookup` resolves IDs and names (default: the file's own)."""
    template, version, released = identify(wb)
    lay = L.LAYOUTS[(template, version)]
    lookup = lookup or read_lookup(wb)
    decl_cells = _grid(wb["Declaration"], 140, 10)
    company: dict[str, Any] = {}
    for name, cell in lay.company.items():
        value = decl_cells.get(cell)
        company[name] = _date(value) if name == "effective_date" else text(value)
    company["effective_date_raw"] = text(decl_cells.get(lay.company["effective_date"]))

    minerals, scope_cells = _minerals(lay, decl_cells)
    answers: dict[str, dict[str, str]] = {}
    comments: dict[str, dict[str, str]] = {}
    cells: dict[tuple[str, str], str] = {}
    slots = list(lay.metals) if template == "CMRT" else minerals
    for q in lay.questions:
        targets = list(enumerate(slots)) if q.per_mineral else [(0, "company")]
        for i, mineral in targets:
            if i >= lay.mineral_slots:
                break
            row = q.first_row + i
            cells[(q.code, mineral)] = f"D{row}"
            value = _answer(decl_cells.get(f"D{row}"))
            if value:
                answers.setdefault(q.code, {})[mineral] = value
            note = text(decl_cells.get(f"G{row}"))
            if note:
                comments.setdefault(q.code, {})[mineral] = note
    if template == "CMRT":
        # CMRT has no scope selector: its metals in scope are those used in the products.
        minerals = [m for m in lay.metals if answers.get("1", {}).get(m) == "Yes"]
    return Declaration(
        template=template,
        version=version,
        released=released,
        language=text(decl_cells.get("D3")),
        company=company,
        minerals=minerals,
        answers=answers,
        comments=comments,
        smelters=read_smelters(wb, lookup),
        mines=read_mines(wb) if lay.has_mine_list and "Mine List" in wb.sheetnames else [],
        products=read_products(wb, lay),
        cells=cells,
        scope_cells=scope_cells,
    )


def _minerals(lay: L.Layout, cells: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    chosen: dict[str, str] = {}
    for ref in lay.mineral_cells:
        value = text(cells.get(ref))
        if not value or value.startswith("(Delete"):
            continue
        if value.startswith("Other"):
            col, row = re.match(r"([A-Z]+)(\d+)", ref).groups()
            value = text(cells.get(f"{col}{int(row) + lay.other_offset}"))
            if not value:
                continue
        chosen.setdefault(value, ref)
    ordered = sorted(chosen, key=str.casefold)  # the template sorts them alphabetically
    return ordered, chosen


def _rows(ws, first: int, columns: tuple[str, ...], inputs: tuple[int, ...]):
    width = len(columns)
    for r, row in enumerate(ws.iter_rows(min_row=first, max_col=width, values_only=True), first):
        values = (list(row) + [None] * width)[:width]
        if all(values[i] in (None, "") for i in inputs):
            continue
        if any(isinstance(v, str) and v.lstrip().startswith("©") for v in values):
            continue  # the copyright footer under the input rows
        yield r, dict(zip(columns, (text(v) for v in values), strict=True))


_SMELTER_FIELDS = set(SmelterRow.__dataclass_fields__) - {"row", "cid"}
# Filled by formula from the look-up; on a "smelter not listed" row the formula points at
# an empty cell, which Excel and LibreOffice compute (and cache) as 0: no value.
_FORMULA_FIELDS = ("cid", "id_source", "street", "city", "state")


def read_smelters(wb, lookup: Lookup) -> list[SmelterRow]:
    ws = wb["Smelter List"]
    # An entry is made by the ID (A), the metal (B), the look-up name (C) or a name (D).
    out = []
    for r, values in _rows(ws, L.SMELTER_FIRST_ROW, L.SMELTER_COLUMNS, (0, 1, 2, 3)):
        for name in _FORMULA_FIELDS:
            if values[name] == "0":
                values[name] = ""
        s = SmelterRow(row=r, **{k: v for k, v in values.items() if k in _SMELTER_FIELDS})
        s.cid_input = s.cid_input.upper()
        cid = s.cid_input or values["cid"].upper()
        entry = None
        if CID_RE.match(cid):
            entry = lookup.by_cid.get(cid)
        elif s.metal and s.lookup_name and not s.placeholder:
            entry = lookup.by_alias.get((fold(s.metal), fold(s.lookup_name)))
            cid = entry.cid if entry else ""
        s.cid = cid
        if entry is not None:
            s.metal = s.metal or entry.metal
            s.lookup_name = s.lookup_name or entry.alias
            s.country = s.country or entry.country
        s.name = s.name or s.lookup_name or (entry.name if entry else "")
        out.append(s)
    return out


def read_mines(wb) -> list[MineRow]:
    ws = wb["Mine List"]
    fields = {"row", "metal", "smelter_names", "name", "mine_id", "country", "state", "comments"}
    return [
        MineRow(row=r, **{k: v for k, v in values.items() if k in fields})
        for r, values in _rows(ws, L.MINE_FIRST_ROW, L.MINE_COLUMNS, (0, 2, 3))
    ]


def read_products(wb, lay: L.Layout) -> list[dict[str, Any]]:
    ws = wb["Product List"]
    columns = ("_a", *lay.product_columns)
    out = []
    for r, values in _rows(ws, L.PRODUCT_FIRST_ROW, columns, tuple(range(1, len(columns)))):
        values.pop("_a")
        out.append({"row": r, **values})
    return out


def column(name: str) -> int:
    return column_index_from_string(name)
