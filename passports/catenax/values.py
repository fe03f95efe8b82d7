"""Readers for the export: they never raise and return None for anything missing or malformed
(except `uuid_urn`, for the registry's own identifiers), and the inputs they read."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import Any, NamedTuple

BPNL = re.compile(r"^BPNL[a-zA-Z0-9]{12}$")
BPNA = re.compile(r"^BPNA[a-zA-Z0-9]{12}$")
_CAS = re.compile(r"^\d{2,7}-\d{2}-\d$")
_YMD = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?=$|T)")
# The xsd:dateTime pattern both models use for measurement timestamps.
_DATETIME = re.compile(
    r"-?([1-9][0-9]{3,}|0[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T(([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?|(24:00:00(\.0+)?))"
    r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))?"
)
_HEADER_MAX = 100


@dataclass
class Inputs:
    """What one export reads: the (projected) document, the passport context, model extras."""

    document: dict
    context: Any  # CatenaXContext
    extra: dict

    def at(self, path: str) -> Any:
        """The value at a dotted path of the document ("Aspect.key.key"), or None."""
        return _walk(self.document, path)

    def extra_at(self, path: str) -> Any:
        """The value at a dotted path of the model extras ("key.key"), or None."""
        return _walk(self.extra, path)

    @cached_property
    def materials(self):
        # A real cycle: materials.py reads documents through this module's readers.
        from .materials import Materials

        return Materials(self)


def _walk(node: Any, path: str) -> Any:
    *parents, last = path.split(".")
    for key in parents:
        node = as_dict(node).get(key)
    return as_dict(node).get(last)


class Doc(NamedTuple):
    """A Catena-X document: contentType, header, content."""

    content_type: str
    header: str
    content: str


def as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def dicts(value: Any) -> list[dict]:
    return [item for item in as_list(value) if isinstance(item, dict)]


def text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def number(value: Any) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def bounded(value: Any, low: float | None = None, high: float | None = None) -> int | float | None:
    found = number(value)
    if found is None or (low is not None and found < low) or (high is not None and found > high):
        return None
    return found


def not_negative(value: Any) -> int | float | None:
    return bounded(value, low=0)


def percent(value: Any) -> int | float | None:
    return bounded(value, 0, 100)


def boolean(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def sig(value: float) -> float:
    """A derived number, rounded to 6 significant digits (no spurious float noise)."""
    return float(f"{value:.6g}")


def ymd(value: Any) -> str | None:
    """yyyy-mm-dd from a date, a datetime or an ISO date/date-time string (its own date)."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    found = text(value)
    match = _YMD.match(found) if found else None
    if not match:
        return None
    try:
        return date(*(int(part) for part in match.groups())).isoformat()
    except ValueError:
        return None


def timestamp(value: Any) -> str | None:
    found = text(value)
    return found if found and _DATETIME.fullmatch(found) else None


def cas(value: Any) -> str | None:
    found = text(value)
    return found if found and _CAS.match(found) else None


def bpn(value: Any, pattern: re.Pattern[str]) -> str | None:
    found = text(value)
    if found is None:
        return None
    found = found.upper()
    return found if pattern.match(found) else None


def bpnl(value: Any) -> str | None:
    return bpn(value, BPNL)


def uuid_urn(value: Any, what: str) -> str:
    """urn:uuid:<uuid>; raises ValueError: these are the registry's own identifiers."""
    found = text(value)
    if found and found.lower().startswith("urn:uuid:"):
        found = found[len("urn:uuid:") :]
    try:
        parsed = uuid.UUID(found or "")
    except ValueError:
        raise ValueError(f"{what} must be a UUID or urn:uuid:<UUID>, got {value!r}") from None
    if str(parsed) != (found or "").lower():  # reject braces, missing hyphens and the like
        raise ValueError(f"{what} must be a UUID or urn:uuid:<UUID>, got {value!r}")
    return f"urn:uuid:{parsed}"


def caption(header: str) -> str:
    """A document header: Catena-X allows 100 characters (HeaderTrait); longer is cut."""
    if len(header) <= _HEADER_MAX:
        return header
    return header[: _HEADER_MAX - 1].rstrip() + "\u2026"


def doc(content_type: str, header: str, content: Any) -> Doc | None:
    found = text(content)
    return Doc(content_type, caption(header), found) if found else None


def link(url: Any, header: str) -> list[Doc] | None:
    found = doc("URL", header, url)
    return [found] if found else None


def extra_docs(value: Any) -> list[Doc] | None:
    """Documents given in the Catena-X form in model extras, without duplicates."""
    docs = []
    for item in dicts(value):
        content_type, header = text(item.get("contentType")), text(item.get("header"))
        found = doc(content_type, header, item.get("content")) if content_type and header else None
        if found and found not in docs:
            docs.append(found)
    return docs or None


def pairs(value: Any, keys: Iterable[str], optional: Iterable[str] = ()) -> list[dict] | None:
    """Objects with all of ``keys`` (text), without duplicates (some lists are uniqueItems)."""
    out = []
    for item in dicts(value):
        entry = {key: text(item.get(key)) for key in keys}
        if all(entry.values()):
            entry.update({key: text(item.get(key)) for key in optional if text(item.get(key))})
            if entry not in out:
                out.append(entry)
    return out or None


def join(values: Iterable[str | None]) -> str | None:
    unique = list(dict.fromkeys(value for value in values if value))
    return "; ".join(unique) or None
