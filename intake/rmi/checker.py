"""The checker: every problem of a filled RMI template, with sheet, cell, severity and a
message a supplier understands. Pure: it reads a `reader.Declaration` and a look-up."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from . import layout as L
from .names import similarity
from .reader import CID_RE, Declaration, Lookup, fold

# Below this, a name written next to an RMI ID is probably another smelter's.
NAME_FITS = 0.6
REQUIRED_COMPANY = {
    "name": "the company name",
    "scope": "the declaration scope",
    "contact_name": "the contact's name",
    "contact_email": "the contact's email",
    "contact_phone": "the contact's phone",
    "authoriser": "the authoriser",
    "authoriser_email": "the authoriser's email",
    "effective_date": "the effective date",
}


@dataclass(frozen=True)
class Finding:
    sheet: str
    cell: str
    severity: str  # "error" or "warning"
    message: str

    def as_dict(self) -> dict:
        return asdict(self)


def check(decl: Declaration, lookup: Lookup, today: dt.date | None = None) -> list[Finding]:
    today = today or dt.date.today()
    out: list[Finding] = []
    _company(decl, today, out)
    _answers(decl, out)
    _smelters(decl, lookup, out)
    _mines(decl, out)
    _products(decl, out)
    return out


def _add(out, sheet, cell, message, severity="error"):
    out.append(Finding(sheet, cell, severity, message))


def _company(decl: Declaration, today: dt.date, out) -> None:
    cells = decl.layout.company
    c = decl.company
    for field, label in REQUIRED_COMPANY.items():
        if field == "effective_date":
            continue
        if not c.get(field):
            _add(out, "Declaration", cells[field], f"Please fill in {label} (required).")
    if c.get("scope") and c["scope"] not in L.SCOPES:
        _add(
            out,
            "Declaration",
            cells["scope"],
            f"The declaration scope {c['scope']!r} is not one of: {', '.join(L.SCOPES)}.",
        )
    if c.get("scope", "").startswith("C") and not c.get("scope_description"):
        _add(
            out,
            "Declaration",
            cells["scope_description"],
            "A user-defined scope needs its description.",
        )
    date, raw = c.get("effective_date"), c.get("effective_date_raw")
    if not raw:
        _add(
            out,
            "Declaration",
            cells["effective_date"],
            "Please fill in the effective date (required).",
        )
    elif date is None:
        _add(
            out,
            "Declaration",
            cells["effective_date"],
            f"The effective date {raw!r} is not a date; write it as 31-Jan-2025.",
        )
    elif date > today:
        _add(
            out,
            "Declaration",
            cells["effective_date"],
            f"The effective date {date:%d %b %Y} is in the future; a declaration takes "
            "effect on the day it is made or before.",
        )
    if decl.template != "CMRT" and not decl.minerals:
        _add(
            out,
            "Declaration",
            decl.layout.mineral_cells[0],
            "Select at least one mineral or metal in scope.",
        )


def _answers(decl: Declaration, out) -> None:
    lay = decl.layout
    metals = list(lay.metals) if decl.template == "CMRT" else decl.minerals
    # Required: question 1 for every mineral; 2 when 1 is Yes; the rest when 1 and 2
    # are (the template's own (*) rules). AMRT asks only 1 and the response rate.
    needs_all = set()
    for m in metals[: lay.mineral_slots]:
        a1 = decl.answers.get("1", {}).get(m, "")
        a2 = decl.answers.get("2", {}).get(m, "")
        if decl.template == "AMRT":
            if a1 == "Yes":
                needs_all.add(m)
        elif a1 == "Yes" and a2 == "Yes":
            needs_all.add(m)
    for q in lay.questions:
        allowed = L.RESPONSE_RATES if q.kind == "rate" else L.ANSWERS
        targets = metals[: lay.mineral_slots] if q.per_mineral else ["company"]
        for m in targets:
            cell = decl.cells.get((q.code, m))
            value = decl.answers.get(q.code, {}).get(m, "")
            if q.code == "1":
                required = True
            elif q.code == "2" and decl.template != "AMRT":
                required = decl.answers.get("1", {}).get(m) == "Yes"
            elif m == "company":
                required = bool(needs_all)
            else:
                required = m in needs_all
            what = f"question {q.code} ({q.text})" + ("" if m == "company" else f" for {m}")
            if not value:
                if required:
                    _add(out, "Declaration", cell, f"Please answer {what} (required).")
                continue
            if q.code == "C" and decl.template == "EMRT" and value.startswith("Yes"):
                continue  # EMRT's C adds "Yes, when more processors are validated"
            if q.code == "E" and value.startswith("Yes"):
                continue  # "Yes, in conformance with IPC1755 ..." / "Yes, using other format"
            if q.code == "H" and value.startswith("Yes"):
                continue  # "Yes, with the SEC" / "... the EU"
            if value not in allowed:
                _add(
                    out,
                    "Declaration",
                    cell,
                    f"{value!r} is not an answer to {what}; choose one of: {', '.join(allowed)}.",
                )


def _smelters(decl: Declaration, lookup: Lookup, out) -> None:
    sheet = "Smelter List"
    known_metals = {fold(m) for m in decl.layout.metals}
    scope = {fold(m) for m in decl.minerals}
    seen_cid: dict[tuple[str, str], int] = {}
    seen_name: dict[tuple[str, str, str], int] = {}
    for s in decl.smelters:
        r = s.row
        if not s.metal:
            _add(out, sheet, f"B{r}", f"Row {r}: choose the metal this smelter supplies.")
        elif fold(s.metal) not in known_metals:
            _add(
                out,
                sheet,
                f"B{r}",
                f"Row {r}: {s.metal!r} is not a metal of the {decl.template} template.",
            )
        elif fold(s.metal) not in scope:
            _add(
                out,
                sheet,
                f"B{r}",
                f"Row {r}: a {s.metal} smelter is listed, but {s.metal} is not among the "
                "minerals declared in scope on the Declaration sheet.",
            )
        if s.placeholder == "not yet identified":
            _add(
                out,
                sheet,
                f"C{r}",
                f"Row {r} says the smelter is not yet identified: this declaration does not "
                "name all its smelters.",
                "warning",
            )
            continue
        if s.placeholder == "not listed":
            _add(
                out,
                sheet,
                f"C{r}",
                f"Row {r}: 'smelter not listed' — this smelter has no RMI ID; it will be "
                "matched by name and country for you to confirm.",
                "warning",
            )
            if not s.name or fold(s.name) == "smelter not listed":
                _add(out, sheet, f"D{r}", f"Row {r}: give the name of the unlisted smelter.")
            if not s.country:
                _add(out, sheet, f"E{r}", f"Row {r}: give the country of the unlisted smelter.")
        if s.cid_input and not CID_RE.match(s.cid_input):
            _add(
                out,
                sheet,
                f"A{r}",
                f"Row {r}: {s.cid_input!r} is not an RMI smelter ID (CID and six digits).",
            )
        elif s.cid and s.cid not in lookup.by_cid:
            _add(
                out,
                sheet,
                f"A{r}" if s.cid_input else f"F{r}",
                f"Row {r}: smelter ID {s.cid} is not in RMI's Smelter Look-up of "
                f"{decl.template} {decl.version}.",
            )
        elif s.cid:
            entry = lookup.by_cid[s.cid]
            written = [
                n for n in (s.lookup_name, s.name) if n and fold(n) not in lookup.names[s.cid]
            ]
            for n in written:
                score = similarity(n, entry.name)
                if score < NAME_FITS:
                    _add(
                        out,
                        sheet,
                        f"D{r}" if n == s.name else f"C{r}",
                        f"Row {r}: the name {n!r} does not fit smelter ID {s.cid}, which RMI "
                        f"lists as {entry.name!r} ({entry.country}); similarity {score:.2f}.",
                        "warning",
                    )
                    break
            if s.metal and fold(entry.metal) != fold(s.metal):
                _add(
                    out,
                    sheet,
                    f"B{r}",
                    f"Row {r}: smelter ID {s.cid} is a {entry.metal} smelter in RMI's list, "
                    f"not {s.metal}.",
                )
        elif not s.placeholder and s.lookup_name:
            _add(
                out,
                sheet,
                f"C{r}",
                f"Row {r}: {s.lookup_name!r} is not a {s.metal or ''} name in RMI's Smelter "
                "Look-up; choose it from the list or select 'Smelter not listed'.",
            )
        if s.cid:
            key = (s.cid, fold(s.metal))
            if key in seen_cid:
                _add(
                    out,
                    sheet,
                    f"A{r}",
                    f"Row {r} repeats smelter {s.cid} ({s.metal}) of row {seen_cid[key]}.",
                    "warning",
                )
            seen_cid.setdefault(key, r)
        elif s.name:
            key = (fold(s.name), fold(s.country), fold(s.metal))
            if key in seen_name:
                _add(
                    out,
                    sheet,
                    f"D{r}",
                    f"Row {r} repeats the smelter {s.name!r} of row {seen_name[key]}.",
                    "warning",
                )
            seen_name.setdefault(key, r)


def _mines(decl: Declaration, out) -> None:
    scope = {fold(m) for m in decl.minerals}
    seen: dict[tuple[str, str, str], int] = {}
    for m in decl.mines:
        r = m.row
        if not m.metal:
            _add(out, "Mine List", f"A{r}", f"Row {r}: choose the metal mined.")
        elif fold(m.metal) not in scope:
            _add(
                out,
                "Mine List",
                f"A{r}",
                f"Row {r}: a {m.metal} mine is listed, but {m.metal} is not among the "
                "minerals declared in scope.",
            )
        if not m.name:
            _add(out, "Mine List", f"C{r}", f"Row {r}: give the mine's name.")
        if not m.country:
            _add(out, "Mine List", f"F{r}", f"Row {r}: give the mine's country.")
        key = (fold(m.name), fold(m.country), fold(m.metal))
        if m.name and key in seen:
            _add(
                out,
                "Mine List",
                f"C{r}",
                f"Row {r} repeats the mine {m.name!r} of row {seen[key]}.",
                "warning",
            )
        seen.setdefault(key, r)


def _products(decl: Declaration, out) -> None:
    if decl.company.get("scope", "").startswith("B") and not decl.products:
        _add(
            out,
            "Product List",
            "B6",
            "The declaration is for a list of products: list them on the Product List.",
        )
    for p in decl.products:
        if not p.get("number"):
            _add(
                out,
                "Product List",
                f"B{p['row']}",
                f"Row {p['row']}: give the product number (required).",
            )
