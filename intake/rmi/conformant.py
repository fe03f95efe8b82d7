"""Reading RMI's conformant and active facility list, as a user downloads it.

Shape assumed (RMI's facility search export, CSV or XLSX, one header row, one row per
facility and metal): `Smelter ID, Standard Smelter Name, Country, Metal, Assessment
Status, Last Audit Date, Re-Audit Due Date`. Header spellings vary between downloads, so
several names are accepted per column; extra columns are ignored. Status "Conformant"
or "Active" (other statuses are skipped with a warning). Pure: no database.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from typing import Any

from .reader import CID_RE, fold, parse_date, text

COLUMNS = {
    "cid": ("smelter id", "smelter identification number", "facility id", "cid", "rmi id"),
    "name": ("standard smelter name", "smelter name", "facility name", "name"),
    "country": ("country", "country location", "smelter country", "facility location"),
    "metal": ("metal", "mineral"),
    "status": ("assessment status", "status", "rmap status", "conformance status"),
    "last_audit": ("last audit date", "last assessment date", "audit date"),
    "reaudit_due": (
        "re-audit due date",
        "reaudit due date",
        "re-assessment due date",
        "next audit due",
        "re-audit due",
    ),
}
REQUIRED = ("cid", "name", "metal", "status")
STATUSES = {"conformant": "conformant", "active": "active"}
DATE_IN_NAME = re.compile(r"(20\d\d)-?(\d\d)-?(\d\d)")


def is_conformant_header(header: Iterable[str]) -> bool:
    names = {fold(h) for h in header}
    return all(any(alias in names for alias in COLUMNS[c]) for c in ("cid", "status", "metal"))


def date_from_name(filename: str) -> dt.date | None:
    m = DATE_IN_NAME.search(filename or "")
    if not m:
        return None
    try:
        return dt.date(*(int(x) for x in m.groups()))
    except ValueError:
        return None


def read_rows(
    rows: Iterable[tuple[int, list[Any]]],
    problem: Callable[..., None],
    country_code: Callable[[str], str],
) -> list[dict]:
    """Entries from the list's (row number, values) rows, the first being the header.
    Every bad row is reported through `problem(message, row=, column=, severity=)` and
    left out."""
    it = iter(rows)
    first = next(it, None)
    if first is None:
        problem("The file is empty.", row=1)
        return []
    header = [text(h) for h in first[1]]
    index = {}
    folded = [fold(h) for h in header]
    for key, aliases in COLUMNS.items():
        for i, h in enumerate(folded):
            if h in aliases:
                index[key] = i
                break
    missing = [COLUMNS[c][0] for c in REQUIRED if c not in index]
    if missing:
        problem(f"Missing column(s): {', '.join(missing)}.", row=1)
        return []
    out, seen = [], {}
    for n, row in it:
        values = list(row)
        if all(v in (None, "") for v in values):
            continue

        def get(key, values=values):
            i = index.get(key)
            return values[i] if i is not None and i < len(values) else None

        cid = text(get("cid")).upper()
        if not CID_RE.match(cid):
            problem(
                f"{cid!r} is not an RMI smelter ID (CID and six digits).",
                row=n,
                column=header[index["cid"]],
            )
            continue
        status = STATUSES.get(fold(get("status")))
        if status is None:
            problem(
                f"Status {text(get('status'))!r} is neither Conformant nor Active; row skipped.",
                row=n,
                column=header[index["status"]],
                severity="warning",
            )
            continue
        dates = {}
        bad = False
        for key in ("last_audit", "reaudit_due"):
            raw = get(key)
            dates[key] = parse_date(raw) if raw not in (None, "") else None
            if raw not in (None, "") and dates[key] is None:
                problem(f"{text(raw)!r} is not a date.", row=n, column=header[index[key]])
                bad = True
        if bad:
            continue
        metal = text(get("metal"))
        key = (cid, fold(metal))
        if key in seen:
            problem(
                f"{cid} ({metal}) is listed again (first on row {seen[key]}).",
                row=n,
                severity="warning",
            )
            continue
        seen[key] = n
        out.append(
            {
                "cid": cid,
                "name": text(get("name"))[:255],
                "country": country_code(text(get("country"))),
                "metal": metal[:60],
                "status": status,
                **dates,
            }
        )
    return out
