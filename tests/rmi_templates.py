"""Filled RMI templates for the tests, built from the shipped blanks with openpyxl: the
input cells cleared (some blanks carry sample answers), then written as a supplier
would. Building a workbook takes seconds, so each fill is made once per test session."""

from __future__ import annotations

import datetime as dt
import functools
import io
import tempfile
import warnings
from pathlib import Path

import openpyxl

from intake.rmi import layout as L

BLANKS = Path(__file__).resolve().parent.parent / "intake" / "data" / "rmi"
OUT = Path(tempfile.mkdtemp(prefix="h4-rmi-"))
VERSIONS = list(L.LAYOUTS)  # (template, version)

# Real look-up entries of each family (present in every version of it).
SMELTERS = {
    "EMRT": [("CID003927", "Cobalt", "Anhui Hanrui New Material Co., Ltd.", "CHINA")],
    "CMRT": [("CID002763", "Gold", "8853 S.p.A.", "ITALY")],
    "AMRT": [("CID004629", "Aluminum", "Aluminerie Alouette Inc.", "CANADA")],
}
MINERALS = {"EMRT": ["Cobalt", "Nickel"], "CMRT": ["Gold", "Tin"], "AMRT": ["Aluminum", "Zinc"]}


def _is_formula(value) -> bool:
    return isinstance(value, str) and value.startswith("=")


def clear_inputs(wb, lay: L.Layout) -> None:
    decl = wb["Declaration"]
    for cell in lay.company.values():
        decl[cell].value = None
    for q in lay.questions:
        rows = range(q.first_row, q.first_row + (lay.mineral_slots if q.per_mineral else 1))
        for r in rows:
            for col in "DG":
                if not _is_formula(decl[f"{col}{r}"].value):
                    decl[f"{col}{r}"].value = None
    for name, first, cols in (
        ("Smelter List", 5, "ABCDEFGHIJKLMNOPQ"),
        ("Mine List", 5, "ABCDEFGHIJKLM"),
        ("Product List", 6, "BCDEF"),
    ):
        if name not in wb.sheetnames:
            continue
        ws = wb[name]
        for r in range(first, first + 30):
            for col in cols:
                if not _is_formula(ws[f"{col}{r}"].value):
                    ws[f"{col}{r}"].value = None


def set_minerals(wb, lay: L.Layout, minerals: list[str]) -> None:
    decl = wb["Declaration"]
    if lay.template == "EMRT":
        for ref, metal in zip(lay.mineral_cells, L.EMRT_METALS, strict=True):
            decl[ref].value = metal if metal in minerals else f"(Delete {metal})"
    elif lay.template == "AMRT":
        for i, ref in enumerate(lay.mineral_cells):
            decl[ref].value = minerals[i] if i < len(minerals) else None


def answer(wb, lay: L.Layout, code: str, mineral_index: int, value) -> str:
    q = lay.question(code)
    cell = f"D{q.first_row + (mineral_index if q.per_mineral else 0)}"
    wb["Declaration"][cell].value = value
    return cell


def fill_good(
    wb,
    template: str,
    version: str,
    *,
    company="Kivu Cathodes Ltd",
    effective=dt.date(2026, 1, 15),
    language=None,
) -> None:
    lay = L.LAYOUTS[(template, version)]
    clear_inputs(wb, lay)
    decl = wb["Declaration"]
    if language:
        decl["D3"].value = language
    values = {
        "name": company,
        "scope": "A. Company",
        "unique_id": "",
        "address": "1 Rue X, Lyon, FRANCE",
        "contact_name": "Ada Contact",
        "contact_email": "ada@example.org",
        "contact_phone": "+33 1 00 00 00 00",
        "authoriser": "Bea Boss",
        "authoriser_title": "CEO",
        "authoriser_email": "bea@example.org",
        "effective_date": dt.datetime.combine(effective, dt.time()),
    }
    for field, value in values.items():
        decl[lay.company[field]].value = value or None
    minerals = MINERALS[template]
    set_minerals(wb, lay, minerals)
    metals = list(lay.metals) if template == "CMRT" else sorted(minerals, key=str.casefold)
    for i, metal in enumerate(metals[: lay.mineral_slots]):
        in_scope = metal in minerals
        for q in lay.questions:
            if not q.per_mineral:
                continue
            if q.kind == "rate":
                value = "Greater than 90%" if in_scope else "None"
            elif q.code in ("1", "2"):
                value = "Yes" if in_scope else "No"
            elif q.code == "C":
                value = "Yes"
            else:
                value = "No"
            if template == "CMRT" and not in_scope and q.code not in ("1", "2"):
                continue
            answer(wb, lay, q.code, i, value)
    for q in lay.questions:
        if not q.per_mineral:
            answer(wb, lay, q.code, 0, "Yes" if q.code != "H" else "No")
    ws = wb["Smelter List"]
    cid, metal, name, country = SMELTERS[template][0]
    ws["A5"].value = cid  # Option A: the ID; metal and names follow by formula
    other = minerals[1]
    ws["B6"].value, ws["C6"].value = other, "Smelter not listed"
    ws["D6"].value, ws["E6"].value = "Lyon Refining Works", "FRANCE"
    if lay.has_mine_list:
        mines = wb["Mine List"]
        mines["A5"].value, mines["B5"].value = metal, name
        mines["C5"].value, mines["F5"].value = "Mine du Nord", "CANADA"


def fill_faulty(wb, template: str, version: str) -> None:
    """A good fill, then the mistakes suppliers make."""
    fill_good(wb, template, version, language="English")
    lay = L.LAYOUTS[(template, version)]
    decl = wb["Declaration"]
    decl[lay.company["authoriser"]].value = None  # required answer missing
    decl[lay.company["effective_date"]].value = dt.datetime(2099, 1, 1)  # in the future
    answer(wb, lay, "1", 0, None)  # question 1 unanswered for the first mineral
    ws = wb["Smelter List"]
    cid, metal, name, country = SMELTERS[template][0]
    out_of_scope = next(m for m in lay.metals if m not in MINERALS[template])
    ws["B7"].value, ws["C7"].value = out_of_scope, "SMELTER NOT YET IDENTIFIED"
    ws["A8"].value = "CID999999"  # not in the look-up
    ws["A9"].value, ws["D9"].value = cid, "Totally Different Foundry"  # name misfits its ID
    ws["A10"].value = cid  # the same smelter again


def _load(template: str, version: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return openpyxl.load_workbook(BLANKS / L.BLANKS[(template, version)])


def _save(wb, path: Path) -> None:
    # With Pillow installed openpyxl loads the blanks' images, and closes each image's data
    # once written: a workbook saved a second time needs it again.
    for ws in wb.worksheets:
        for image in getattr(ws, "_images", []):
            if not hasattr(image, "kept"):
                image.kept = image._data()
            image.ref = io.BytesIO(image.kept)
    wb.save(path)


@functools.cache
def build(template: str, version: str) -> dict[str, Path]:
    """{"good", "faulty"}: paths of the two fills of one version, from a single load of
    its blank (loading and saving a template is the slow part)."""
    wb = _load(template, version)
    paths = {}
    for variant, fill in (("good", fill_good), ("faulty", fill_faulty)):
        fill(wb, template, version)
        paths[variant] = OUT / f"{template}_{version}_{variant}.xlsx"
        _save(wb, paths[variant])
    return paths


@functools.cache
def build_variant(template: str, version: str, variant: str) -> Path:
    """ "german": the good fill with the language selector on Deutsch; "newer": the good
    fill effective half a year later."""
    wb = _load(template, version)
    if variant == "german":
        fill_good(wb, template, version, language="Deutsch")
    else:
        fill_good(wb, template, version, effective=dt.date(2026, 6, 30), language="English")
    path = OUT / f"{template}_{version}_{variant}.xlsx"
    _save(wb, path)
    return path


def open_filled(path: Path):
    return openpyxl.load_workbook(path, read_only=True, data_only=True)
