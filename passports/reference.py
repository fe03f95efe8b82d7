"""Load the 93 Battery Pass attributes from attributes.csv (passports/data, SOURCES.md)."""

from __future__ import annotations

import csv
from pathlib import Path

from django.db import transaction

from datasets.tracking import DatasetReport, file_version, sync_records

from . import access
from .models import Access, PassportAttribute
from .schemas import SCHEMA_DIR

ACCESS_LABELS = {
    "Public": Access.PUBLIC,
    "persons with a legitimate interest": Access.LEGITIMATE_INTEREST,
    "persons with a legitimate interest and the Commission": Access.LEGITIMATE_INTEREST_COMMISSION,
    "Notified bodies, market surveillance authorities and the Commission": Access.AUTHORITIES,
}


def attributes_path() -> Path:
    return SCHEMA_DIR / "attributes.csv"


def read_attributes(path: Path | None = None) -> list[dict]:
    with Path(path or attributes_path()).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _values(row: dict) -> dict:
    if row["access"] not in ACCESS_LABELS:
        raise ValueError(f"Unknown access right {row['access']!r} (attribute {row['number']})")
    return {
        "category": row["category"],
        "subcategory": row["subcategory"],
        "name": row["attribute"],
        "regulation_reference": row["regulation_reference"],
        "unit": row["unit"],
        "data_format": row["data_format"],
        "access": ACCESS_LABELS[row["access"]],
        "dynamic": row["static_or_dynamic"] == "Dynamic",
        "individual": row["granularity"] == "Individual battery",
        "mandatory_ev": row["ev"],
        "mandatory_lmt": row["lmt"],
        "mandatory_industrial": row["industrial_over_2kwh"],
        "mandatory_stationary": row["stationary_over_2kwh"],
    }


@transaction.atomic
def load_attributes(path: Path | None = None) -> DatasetReport:
    """The 93 attributes, per version of attributes.csv (datasets.tracking)."""
    path = Path(path or attributes_path())
    wanted = {row["number"]: _values(row) for row in read_attributes(path)}
    existing = {str(a.number): a for a in PassportAttribute.objects.all()}
    fields = list(next(iter(wanted.values())))

    def write(number: str) -> None:
        PassportAttribute.objects.update_or_create(number=int(number), defaults=wanted[number])

    report = sync_records(
        "passports.attributes",
        file_version(path),
        (
            (
                number,
                {f: getattr(existing[number], f) for f in fields} if number in existing else None,
                values,
            )
            for number, values in wanted.items()
        ),
        write,
    )
    access.clear_cache()
    return report
