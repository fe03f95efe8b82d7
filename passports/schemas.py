"""The published Battery Pass 1.2.0 JSON Schemas, read in place from the interop folder."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import jsonschema
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .catalogue import ASPECTS, SCHEMA_FILES


def schema_dir() -> Path:
    return Path(settings.INTEROP_DIR) / "batterypass-1.2.0"


@lru_cache(maxsize=16)
def validator(aspect: str):
    path = schema_dir() / SCHEMA_FILES[aspect]
    if not path.exists():
        raise ImproperlyConfigured(
            f"Battery Pass schema {path} not found: set INTEROP_DIR to the folder holding "
            "the published data model."
        )
    schema = json.loads(path.read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(schema)


def schema_errors(document: dict, *, partial: bool = False) -> list[str]:
    """Every schema error of a canonical document, as 'Aspect/path: message'.

    `partial`: a draft or a model's share of the data may be incomplete, so missing
    aspects and missing required fields are not errors (types and patterns still are);
    publication checks the whole document."""
    errors: list[str] = []
    if not isinstance(document, dict):
        return ["(root): a passport document is an object of the seven aspects"]
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
        for error in sorted(found, key=lambda e: [str(p) for p in e.absolute_path]):
            where = "/".join(str(p) for p in error.absolute_path)
            errors.append(
                f"{aspect}/{where}: {error.message}" if where else f"{aspect}: {error.message}"
            )
    return errors
