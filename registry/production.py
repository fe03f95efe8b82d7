"""Load published production statistics from the reference CSVs (registry/data, SOURCES.md):
USGS mine and refinery production (wide: one column per year) and refining / processing
production from other publications (long: one row per producer and year)."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

from django.db import transaction
from django_countries import countries

from datasets.tracking import DatasetReport, file_version, sync_records
from taxonomy.models import Mineral

from .models import ProductionStatistic

DATA = Path(__file__).resolve().parent / "data"
PRODUCTION_FILE = DATA / "usgs_mcs2025_production_by_country.csv"
REFINING_FILE = DATA / "refining_production_by_country.csv"

# USGS product names -> (mineral code, stage)
PRODUCTS = {
    "lithium": ("lithium", "mining"),
    "cobalt": ("cobalt", "mining"),
    "nickel": ("nickel", "mining"),
    "graphite (natural)": ("graphite", "mining"),
    "manganese": ("manganese", "mining"),
    "copper": ("copper", None),  # mine and refinery rows
    "bauxite": ("aluminium", "mining"),
    "alumina": ("aluminium", "refining"),
    "aluminium": ("aluminium", "refining"),
}
STAGES = {"mine": "mining", "refinery": "refining", "smelter": "refining"}
# USGS names that differ from ISO 3166 short names.
COUNTRY_NAMES = {
    "Congo (Kinshasa)": "CD",
    "Korea, Republic of": "KR",
    "Korea, North": "KP",
    "Russia": "RU",
    "Turkey": "TR",
    "Cote d'Ivoire": "CI",
    "Vietnam": "VN",
    "United States": "US",
    "United States (withheld W)": "US",
}


class ProductionFileError(ValueError):
    pass


def _country(label: str) -> str:
    code = COUNTRY_NAMES.get(label) or countries.by_name(label)
    if not code:
        raise ProductionFileError(f"Unknown country name in production file: {label!r}")
    return code


def _kind(label: str) -> str:
    if label.startswith("World total"):
        return ProductionStatistic.Kind.WORLD
    if label == "Other countries":
        return ProductionStatistic.Kind.OTHER
    if "withheld" in label:
        return ProductionStatistic.Kind.WITHHELD
    return ProductionStatistic.Kind.COUNTRY


def _quantity(raw: str) -> Decimal | None:
    raw = (raw or "").strip()
    return Decimal(raw) if raw else None


def default_path() -> Path:
    return PRODUCTION_FILE


_FIELDS = ("kind", "country", "estimated", "quantity", "unit", "source", "note")


def _rows(path: Path):
    """(key, lookup, values) for every figure of the file."""
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            product = row["mineral"]
            if product not in PRODUCTS:
                raise ProductionFileError(f"Unknown product {product!r} in {path.name}")
            mineral_code, _ = PRODUCTS[product]
            stage = STAGES[row["stage"]]
            label = row["country"]
            kind = _kind(label)
            country = _country(label) if kind in ("country", "withheld") else ""
            # 2024 is USGS's estimate throughout; 2023 where the data release says so.
            estimated_2023 = (row.get("estimated_2023") or "").strip().lower() == "true"
            for year, column, estimated in (
                (2024, "production_2024e_t", True),
                (2023, "production_2023_t", estimated_2023),
            ):
                quantity = _quantity(row[column])
                if quantity is None and kind != "withheld":
                    continue  # not published for that year
                lookup = {"product": product, "stage": stage, "label": label, "year": year}
                values = {
                    "mineral": mineral_code,
                    "kind": kind,
                    "country": country,
                    "estimated": estimated,
                    "quantity": quantity,
                    "unit": row["unit_basis"],
                    "source": row["source"],
                    "note": "; ".join(x for x in (row["note"], row["transcription"]) if x),
                }
                yield f"{product}|{stage}|{label}|{year}", lookup, values


def _long_rows(path: Path):
    """(key, lookup, values) for a long file: mineral, stage, product, country (or
    "Other countries" / "World total"), year, quantity, unit, estimated, source, note."""
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            stage, product, label = row["stage"], row["product"], row["country"]
            if stage not in ProductionStatistic.Stage.values:
                raise ProductionFileError(f"Unknown stage {stage!r} in {path.name}")
            kind = _kind(label)
            year = int(row["year"])
            lookup = {"product": product, "stage": stage, "label": label, "year": year}
            values = {
                "mineral": row["mineral"],
                "kind": kind,
                "country": _country(label) if kind in ("country", "withheld") else "",
                "estimated": row["estimated"].strip().lower() == "true",
                "quantity": _quantity(row["quantity"]),
                "unit": row["unit"],
                "source": row["source"],
                "note": row["note"],
            }
            yield f"{product}|{stage}|{label}|{year}", lookup, values


def _state(stat: ProductionStatistic) -> dict:
    values = {name: getattr(stat, name) for name in _FIELDS}
    values["country"] = stat.country.code or ""
    values["mineral"] = stat.mineral_id and stat.mineral.code
    return values


@transaction.atomic
def load_production(path: Path | None = None) -> DatasetReport:
    """One row per product, stage, producer and year, per version of the file
    (datasets.tracking): figures a person corrected in the admin are kept."""
    paths = [Path(path)] if path else [default_path(), REFINING_FILE]
    rows = {key: (lookup, values) for key, lookup, values in _rows(paths[0])}
    for extra in paths[1:]:
        rows.update((key, (lookup, values)) for key, lookup, values in _long_rows(extra))
    minerals = {m.code: m for m in Mineral.objects.all()}
    unknown = {v["mineral"] for _, v in rows.values()} - set(minerals)
    if unknown:
        raise ProductionFileError(f"Unknown mineral {', '.join(sorted(unknown))}")
    existing = {
        f"{s.product}|{s.stage}|{s.label}|{s.year}": s
        for s in ProductionStatistic.objects.filter(company__isnull=True).select_related("mineral")
    }

    def write(key: str) -> None:
        lookup, values = rows[key]
        ProductionStatistic.objects.update_or_create(
            **lookup, company=None, defaults={**values, "mineral": minerals[values["mineral"]]}
        )

    return sync_records(
        "registry.production",
        file_version(*paths),
        (
            (key, _state(existing[key]) if key in existing else None, values)
            for key, (_, values) in rows.items()
        ),
        write,
    )
