"""The published Battery Pass 1.2.0 JSON Schemas, shipped in passports/data (SOURCES.md)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import jsonschema
from django.core.exceptions import ImproperlyConfigured

from .catalogue import ASPECTS, ATTRIBUTE_PATHS, SCHEMA_FILES
from .models import PassportAttribute

SCHEMA_DIR = Path(__file__).resolve().parent / "data" / "batterypass-1.2.0"
CATENAX_SCHEMA = (
    Path(__file__).resolve().parent
    / "data"
    / "catenax-batterypass-6.1.0"
    / "BatteryPass-6.1.0-schema.json"
)


def schema_dir() -> Path:
    return SCHEMA_DIR


@lru_cache(maxsize=16)
def validator(aspect: str):
    path = schema_dir() / SCHEMA_FILES[aspect]
    if not path.exists():
        raise ImproperlyConfigured(
            f"Battery Pass schema {path} not found: the repository's passports/data is incomplete."
        )
    schema = json.loads(path.read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(schema)


def _optional_for(category: str):
    """Paths of attributes that are not mandatory for the category (attributes.csv)."""

    mandatory = {a.number for a in PassportAttribute.objects.all() if a.mandatory_for(category)}
    return [
        path
        for number, paths in ATTRIBUTE_PATHS.items()
        if number not in mandatory
        for path in paths
    ], [path for number, paths in ATTRIBUTE_PATHS.items() if number in mandatory for path in paths]


def _excused(error, aspect: str, optional, mandatory) -> bool:
    """A missing required field that only attributes optional for the category carry."""
    if error.validator != "required":
        return False
    missing_name = error.message.split("'")[1] if "'" in error.message else ""
    where = tuple("*" if isinstance(p, int) else str(p) for p in error.absolute_path)
    missing = (aspect, *where, missing_name)

    def related(path):
        n = min(len(path), len(missing))
        return path[:n] == missing[:n]

    return any(related(p) for p in optional) and not any(related(p) for p in mandatory)


def schema_errors(
    document: dict, *, partial: bool = False, category: str | None = None
) -> list[str]:
    """Every schema error of a canonical document, as 'Aspect/path: message'.

    `partial`: a draft or a model's share of the data may be incomplete, so missing
    aspects and missing required fields are not errors (types and patterns still are);
    publication checks the whole document."""
    errors: list[str] = []
    if not isinstance(document, dict):
        return ["(root): a passport document is an object of the seven aspects"]
    optional, mandatory = _optional_for(category) if category else ([], [])
    unknown = sorted(set(document) - set(ASPECTS))
    errors += [f"{name}: not a Battery Pass 1.2.0 aspect" for name in unknown]
    for aspect in ASPECTS:
        if aspect not in document:
            if not partial:
                errors.append(f"{aspect}: missing aspect")
            continue
        found = validator(aspect).iter_errors(document[aspect])
        if partial:
            found = (e for e in found if e.validator != "required")
        elif category:
            # The data model's schemas require some fields that attributes.csv makes
            # mandatory only for other categories (e.g. SOCE, EV only): the category rule wins.
            found = (e for e in found if not _excused(e, aspect, optional, mandatory))
        for error in sorted(found, key=lambda e: [str(p) for p in e.absolute_path]):
            where = "/".join(str(p) for p in error.absolute_path)
            errors.append(
                f"{aspect}/{where}: {error.message}" if where else f"{aspect}: {error.message}"
            )
    return errors
