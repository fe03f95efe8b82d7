"""Passport values as a person reads them on the public page.

Each attribute is shown as the part of the document its catalogue paths name, keeping its
structure (objects as tables of named fields, arrays of rows as tables), never as a flat
run of leaves. Field labels are the API's own JSON names, humanised, with the name itself
beside them. Everything returned is escaped HTML (format_html); only http(s) URLs and
e-mail addresses become links.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from .catalogue import ATTRIBUTE_PATHS, ITEM_SELECTORS
from .models import Access, BatteryCategory, BatteryPassport, PassportAttribute

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
NO_UNIT = {"", "n.a.", "-", "n/a"}
# Numbers under these keys are not in the attribute's unit (62: the state of charge at which
# the power capability is given is a percentage, the power itself is in W).
KEY_UNITS: dict[str, str | None] = {"atSoC": "%"}
# Keys the camel-case split reads badly; the API name is shown beside the label anyway.
LABELS = {
    "atSoC": "At state of charge",
    "cRate": "C-rate",
    "cRateLifeCycleTest": "C-rate of the cycle-life test",
    "rPCLastUpdated": "Remaining power capability last updated",
    "roundTripEfficiencyat50PerCentCycleLife": "Round trip efficiency at 50 % of cycle life",
    "remainingEnergyalue": "Remaining energy value",
    "thirdPartyAussurances": "Third party assurances",
    "supplyChainIndicies": "Supply chain indices",
    "warrentyPeriod": "Warranty period",
    "batteryTechicalProperties": "Battery technical properties",
}
MAX_DEPTH = 12  # documents are schema-checked; this only bounds a pathological one

_MISSING = object()
_YEAR_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_G_MONTH = re.compile(r"^--(\d{2})(Z|[+-]\d{2}:\d{2})?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_EMAIL = re.compile(r"^[\w.+-]+@[\w-]+(\.[\w-]+)+$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
_TOKENS = re.compile(r"[A-Z]{2,}(?=[A-Z][a-z]|\d|$)|[A-Z]?[a-z]+|[A-Z]+|\d+")


def humanise(key: str) -> str:
    """'batteryMaterialName' -> 'Battery material name'; acronyms stay ('documentURL')."""
    if key in LABELS:
        return LABELS[key]
    words = [w if w.isupper() and len(w) > 1 else w.lower() for w in _TOKENS.findall(key)]
    text = " ".join(words) or key
    return text[:1].upper() + text[1:]


def unit_of(attribute: PassportAttribute) -> str:
    unit = (attribute.unit or "").strip().strip("[]").strip()
    return "" if unit.lower() in NO_UNIT else unit


# --- Taking an attribute's part of the document ----------------------------------------


def _pick(node: Any, paths: list[tuple[str, ...]], at: tuple[str, ...], selector) -> Any:
    """The part of `node` that `paths` (relative to it) reach, structure kept; rows of the
    selector's array that are not the attribute's are left out."""
    if any(not path for path in paths):
        return node
    if all(path[0] == "*" for path in paths):
        if not isinstance(node, list):
            return _MISSING
        rows = node
        if selector and at == selector[0]:
            _, key, wanted = selector
            rows = [row for row in rows if isinstance(row, dict) and row.get(key) == wanted]
        rest = [path[1:] for path in paths]
        picked = [_pick(row, rest, (*at, "*"), selector) for row in rows]
        picked = [row for row in picked if row is not _MISSING]
        return picked if picked else _MISSING
    if not isinstance(node, dict):
        return _MISSING
    out = {}
    for key, value in node.items():  # the document's own order
        rest = [path[1:] for path in paths if path[0] == key]
        if rest:
            picked = _pick(value, rest, (*at, key), selector)
            if picked is not _MISSING:
                out[key] = picked
    return out if out else _MISSING


def _prefix(paths) -> tuple[str, ...]:
    """The object keys all paths share, up to the first array."""
    common: list[str] = []
    for parts in zip(*paths, strict=False):
        if len(set(parts)) != 1 or parts[0] == "*":
            break
        common.append(parts[0])
    return tuple(common)


def attribute_part(document: dict, number: int) -> tuple[tuple[str, ...], Any] | None:
    """(the API path the value sits at, the value with its structure) or None when the
    document does not carry the attribute."""
    paths = ATTRIBUTE_PATHS.get(number)
    if not paths:
        return None
    picked = _pick(document, list(paths), (), ITEM_SELECTORS.get(number))
    if picked is _MISSING:
        return None
    prefix = _prefix(paths)
    for key in prefix:
        picked = picked[key]
    if picked in (None, "", [], {}):
        return None
    return prefix, picked


# --- Rendering -------------------------------------------------------------------------


def _number(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    text = repr(value) if isinstance(value, float) else str(value)
    sign, text = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, dot, fraction = text.partition(".")
    if whole.isdigit() and len(whole) > 4:  # SI: groups of three by a narrow space
        whole = f"{int(whole):,}".replace(",", "\u202f")
    return f"{sign}{whole}{dot}{fraction}"


def _month(number: str) -> str | None:
    month = int(number)
    return MONTHS[month - 1] if 1 <= month <= 12 else None


def _date_text(text: str) -> str | None:
    """A readable form of an ISO date, date-time, year-month or month; None if not one."""
    if found := _YEAR_MONTH.match(text):
        month = _month(found.group(2))
        return f"{month} {found.group(1)}" if month else None
    if found := _G_MONTH.match(text):
        month = _month(found.group(1))
        return f"{month} (no year given)" if month else None
    try:
        if _DATE.match(text):
            day = dt.date.fromisoformat(text)
            return f"{day.day} {MONTHS[day.month - 1]} {day.year}"
        if _DATE_TIME.match(text):
            moment = dt.datetime.fromisoformat(text)
        else:
            return None
    except ValueError:
        return None
    zone = ""
    if moment.tzinfo is not None:
        moment, zone = moment.astimezone(dt.UTC), " UTC"
    day = f"{moment.day} {MONTHS[moment.month - 1]} {moment.year}"
    if (moment.hour, moment.minute, moment.second) == (0, 0, 0):
        return day
    return f"{day}, {moment:%H:%M}{zone}"


def is_web_url(text: str) -> bool:
    if any(c.isspace() or ord(c) < 32 for c in text):
        return False
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def _text(value: str) -> SafeString:
    if is_web_url(value):
        return format_html('<a class="url" href="{}">{}</a>', value, value)
    if _EMAIL.match(value):
        return format_html('<a class="url" href="mailto:{}">{}</a>', value, value)
    readable = _date_text(value)
    if readable is None:
        return format_html("{}", value)
    if _G_MONTH.match(value):  # not a valid HTML <time> value
        return format_html('<span title="{}">{}</span>', value, readable)
    return format_html('<time datetime="{}">{}</time>', value, readable)


def _scalar(value: Any, unit: str) -> SafeString:
    if value is None:
        return format_html('<span class="muted">{}</span>', "not given")
    if isinstance(value, bool):  # before int: True is an int
        return format_html("{}", "Yes" if value else "No")
    if isinstance(value, int | float):
        if unit:
            return format_html('<span class="num">{}\u00a0{}</span>', _number(value), unit)
        return format_html('<span class="num">{}</span>', _number(value))
    return _text(str(value))


def _name(path: tuple[str, ...]) -> SafeString:
    """A field's label and, beside it, its API name."""
    return format_html(
        '{} <code class="api" title="API field">{}</code>', humanise(path[-1]), ".".join(path)
    )


def _is_language_map(value: dict) -> bool:
    return bool(value) and all(
        _LANGUAGE.match(str(key)) and key != "id" and isinstance(text, str)
        for key, text in value.items()
    )


def _collapsed(key: str, value: Any) -> tuple[tuple[str, ...], Any]:
    """A chain of one-field objects read as one dotted field (safetyMeasures.extinguishingAgent)."""
    path = (key,)
    while isinstance(value, dict) and len(value) == 1 and not _is_language_map(value):
        (inner, value), *_ = value.items()
        path = (*path, inner)
    return path, value


def render(value: Any, unit: str = "", depth: int = 0, key: str | None = None) -> SafeString:
    """Any JSON value as HTML: objects -> tables of named fields, arrays of like objects ->
    tables with a column per field, other arrays -> lists, scalars formatted."""
    unit = KEY_UNITS.get(key, unit) if key in KEY_UNITS else unit
    if depth > MAX_DEPTH:
        return format_html("<code>{}</code>", str(value))
    if isinstance(value, dict):
        if not value:
            return format_html('<span class="muted">{}</span>', "none")
        if _is_language_map(value):
            return format_html(
                '<dl class="lang">{}</dl>',
                format_html_join(
                    "", '<dt>{}</dt><dd lang="{}">{}</dd>', ((k, k, v) for k, v in value.items())
                ),
            )
        rows = []
        for field, inner in value.items():
            path, inner = _collapsed(field, inner)
            rows.append((_name(path), render(inner, unit, depth + 1, path[-1])))
        return format_html(
            '<table class="kv"><tbody>{}</tbody></table>',
            format_html_join("", '<tr><th scope="row">{}</th><td>{}</td></tr>', rows),
        )
    if isinstance(value, list):
        if not value:
            return format_html('<span class="muted">{}</span>', "none")
        if len(value) == 1:
            return render(value[0], unit, depth + 1, key)
        if all(isinstance(item, dict) and item for item in value):
            keys = list(dict.fromkeys(k for item in value for k in item))
            if all(set(item) <= set(keys) for item in value) and len(keys) <= 8:
                return _rows_table(value, keys, unit, depth)
        return format_html(
            '<ul class="values">{}</ul>',
            format_html_join(
                "", "<li>{}</li>", ((render(item, unit, depth + 1, key),) for item in value)
            ),
        )
    return _scalar(value, unit)


def _rows_table(items: list[dict], keys: list[str], unit: str, depth: int) -> SafeString:
    head = format_html_join("", '<th scope="col">{}</th>', ((_name((k,)),) for k in keys))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        (
            (
                format_html_join(
                    "",
                    "<td>{}</td>",
                    (
                        (
                            render(item[k], unit, depth + 1, k)
                            if k in item
                            else mark_safe('<span class="muted">—</span>'),
                        )
                        for k in keys
                    ),
                ),
            )
            for item in items
        ),
    )
    return format_html(
        '<table class="rows"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', head, body
    )


# --- The page ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    attribute: PassportAttribute
    api_path: str  # where the API's document holds it, "Aspect/field/..."
    value: Any
    html: SafeString


def public_rows(document: dict) -> list[Row]:
    """The public attributes a (public) document carries, in number order: one query."""
    rows = []
    for attribute in PassportAttribute.objects.filter(access=Access.PUBLIC).order_by("number"):
        part = attribute_part(document, attribute.number)
        if part is None:
            continue
        prefix, value = part
        rows.append(
            Row(attribute, "/".join(prefix), value, render(value, unit_of(attribute), key=None))
        )
    return rows


MANUFACTURER_ATTRIBUTE = 4


def header_facts(rows: list[Row]) -> dict[str, Any]:
    """The page header's facts, read from the same rows as the table below it (attribute 4
    names the manufacturer, 9 the category, 31 the chemistry), so the two cannot differ."""
    by_number = {row.attribute.number: row.value for row in rows}
    manufacturer = by_number.get(MANUFACTURER_ATTRIBUTE)
    if isinstance(manufacturer, dict):
        manufacturer = manufacturer.get("contactName") or manufacturer.get("identifier")
    category = by_number.get(9)
    if category in BatteryCategory.values:
        category = BatteryCategory(category).label
    chemistry = by_number.get(31)
    if isinstance(chemistry, dict):
        chemistry = chemistry.get("shortName") or chemistry.get("clearName")
    return {
        "manufacturer": manufacturer if isinstance(manufacturer, str) else None,
        "manufacturer_attribute": MANUFACTURER_ATTRIBUTE,
        "category": category if isinstance(category, str) else None,
        "chemistry": chemistry if isinstance(chemistry, str) else None,
    }


def verification(passport: BatteryPassport) -> dict[str, Any]:
    """What a reader needs to check the passport's credential: its status per version (one
    query), and absolute links to the credential, the issuer's DID document and status list."""
    from credentials import keys, selectors  # credentials builds on passports, not back

    try:
        keys.key_ring()  # no query: whether this server signs credentials at all
        signing = True
    except keys.CredentialsUnavailable:
        signing = False
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    versions = selectors.passport_credential_statuses(
        passport.pk, passport.version, ceased=passport.ceased_at is not None
    )
    latest = versions[0] if versions and versions[0]["number"] == passport.version else None
    return {
        "signing": signing,
        "versions": versions,
        "latest": latest,
        "credential_url": base + reverse("api:passport-credential", args=[passport.internal_id]),
        "did_url": base + reverse("did-document"),
        "issuer_did": keys.issuer_did(),
        "status_list_url": (latest or {}).get("status_list_url"),
    }
