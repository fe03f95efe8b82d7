"""A company's own EMRT or CMRT rolled up from its suppliers' current declarations and
written into RMI's blank template (openpyxl), so that it reads back the same.

Rules (shown with the result, `RULES`):
- minerals in scope: every mineral a supplier declares in scope (EMRT: of the six; CMRT:
  the metals a supplier answers Yes to question 1);
- questions 1 and 2 ("added", "remains"), and 3/4 CAHRA or covered countries: Yes when
  any supplier says Yes; else Unknown when any says Unknown, does not declare or did not
  answer; else No;
- 100% recycled or scrap: Yes only when every supplier says Yes, else No (Unknown when a
  supplier did not answer);
- "identified all smelters" and "reported all smelter information": Yes only when every
  supplier says Yes and every supplier surveyed has answered, else No;
- supplier response rate: the share of the company's suppliers of that mineral (supply
  relationships where it is the buyer; at least those that sent a declaration) whose
  current declaration covers the mineral, put in RMI's bands;
- company-level questions A-H are the company's own to answer: left blank;
- smelters: every supplier's, one row per RMI smelter ID and metal (unidentified ones
  once per name, country and metal; "not yet identified" rows dropped).
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from . import layout as L
from .reader import fold

RULES = __doc__.split("Rules (shown with the result, `RULES`):\n", 1)[1].strip()
ANY_YES = {"1", "2", "3"}  # EMRT; CMRT adds "4" (CAHRA) and shifts the rest (see _roles)


@dataclass
class SupplierInput:
    name: str
    minerals: list[str]
    answers: dict[str, dict[str, str]]
    smelters: list[dict]  # metal, cid, name, country


@dataclass
class RollUp:
    template: str
    version: str
    company: dict
    minerals: list[str]
    answers: dict[str, dict[str, str]]
    smelters: list[dict] = field(default_factory=list)
    response_rates: dict[str, float] = field(default_factory=dict)
    rules: str = RULES


def _roles(template: str) -> dict[str, str]:
    """Question code -> how it is derived."""
    if template == "CMRT":
        return {
            "1": "any",
            "2": "any",
            "3": "any",
            "4": "any",
            "5": "all",
            "6": "rate",
            "7": "all_complete",
            "8": "all_complete",
        }
    if template == "EMRT":
        return {
            "1": "any",
            "2": "any",
            "3": "any",
            "4": "all",
            "5": "rate",
            "6": "all_complete",
            "7": "all_complete",
        }
    return {"1": "any", "2": "rate"}


def band(rate: float) -> str:
    if rate >= 1:
        return "100%"
    if rate > 0.9:
        return "Greater than 90%"
    if rate > 0.75:
        return "Greater than 75%"
    if rate > 0.5:
        return "Greater than 50%"
    if rate > 0:
        return "50% or less"
    return "None"


def roll_up(
    *,
    template: str,
    version: str,
    company: dict,
    suppliers: list[SupplierInput],
    supplier_count: dict[str, int],
) -> RollUp:
    """`supplier_count`: per mineral, how many suppliers the company has for it."""
    metals = L.LAYOUTS[(template, version)].metals
    scope = sorted({m for s in suppliers for m in s.minerals if m in metals}, key=str.casefold)
    answers: dict[str, dict[str, str]] = {}
    rates: dict[str, float] = {}
    for code, how in _roles(template).items():
        for m in scope:
            said = [s.answers.get(code, {}).get(m, "") for s in suppliers if m in s.minerals]
            if how == "any":
                value = (
                    "Yes"
                    if "Yes" in said
                    else "Unknown"
                    if any(a in ("", "Unknown", "Not declaring") for a in said)
                    else "No"
                )
            elif how == "all":
                value = (
                    "Yes"
                    if said and all(a == "Yes" for a in said)
                    else ("Unknown" if "" in said else "No")
                )
            elif how == "all_complete":
                complete = len(said) >= supplier_count.get(m, len(said))
                value = "Yes" if complete and all(a == "Yes" for a in said) else "No"
            else:
                total = max(supplier_count.get(m, 0), len(said))
                rates[m] = len(said) / total if total else 0.0
                value = band(rates[m])
            answers.setdefault(code, {})[m] = value
    seen: set = set()
    smelters = []
    for s in suppliers:
        for row in s.smelters:
            if row.get("placeholder") or row["metal"] not in scope:
                continue
            key = (
                (row["cid"], fold(row["metal"]))
                if row["cid"]
                else (fold(row["name"]), fold(row["country"]), fold(row["metal"]))
            )
            if key in seen:
                continue
            seen.add(key)
            smelters.append(row)
    smelters.sort(key=lambda r: (r["metal"], r["cid"] or "~", r["name"]))
    return RollUp(template, version, company, scope, answers, smelters, rates)


def write(rollup: RollUp, blank: Path, out: Path, *, country_names: dict[str, str]) -> Path:
    """Fill a copy of the blank template; `country_names`: ISO code -> template name."""
    import openpyxl

    lay = L.LAYOUTS[(rollup.template, rollup.version)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = openpyxl.load_workbook(blank)
    decl = wb["Declaration"]
    decl["D3"].value = "English"
    for fieldname, cell in lay.company.items():
        value = rollup.company.get(fieldname)
        if isinstance(value, dt.date):
            value = dt.datetime.combine(value, dt.time())
        decl[cell].value = value or None
    for q in lay.questions:  # clear sample answers some blanks carry
        rows = lay.mineral_slots if q.per_mineral else 1
        for r in range(q.first_row, q.first_row + rows):
            if not str(decl[f"D{r}"].value or "").startswith("="):
                decl[f"D{r}"].value = None
    if rollup.template == "EMRT":
        for ref, metal in zip(lay.mineral_cells, L.EMRT_METALS, strict=True):
            decl[ref].value = metal if metal in rollup.minerals else f"(Delete {metal})"
    elif rollup.template == "AMRT":
        for i, ref in enumerate(lay.mineral_cells):
            decl[ref].value = rollup.minerals[i] if i < len(rollup.minerals) else None
    slots = list(lay.metals) if rollup.template == "CMRT" else rollup.minerals
    for code, per in rollup.answers.items():
        q = lay.question(code)
        for i, metal in enumerate(slots[: lay.mineral_slots]):
            if metal in per:
                decl[f"D{q.first_row + i}"].value = per[metal]
    if rollup.template == "CMRT":
        for i, metal in enumerate(lay.metals):  # metals nobody supplies: not used
            if metal not in rollup.minerals:
                decl[f"D{lay.question('1').first_row + i}"].value = "No"
    ws = wb["Smelter List"]
    for r in range(L.SMELTER_FIRST_ROW, L.SMELTER_FIRST_ROW + 50):
        for col in "ABCDEFGHIJKLMNOPQ":
            if not str(ws[f"{col}{r}"].value or "").startswith("="):
                ws[f"{col}{r}"].value = None
    for i, s in enumerate(rollup.smelters):
        r = L.SMELTER_FIRST_ROW + i
        if s["cid"]:
            ws[f"A{r}"].value = s["cid"]  # metal, names and country follow by formula
        else:
            ws[f"B{r}"].value = s["metal"]
            ws[f"C{r}"].value = "Smelter not listed"
            ws[f"D{r}"].value = s["name"]
            ws[f"E{r}"].value = country_names.get(s["country"], s["country"])
    wb.save(out)
    return out
