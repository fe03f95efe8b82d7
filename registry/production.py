"""Load USGS production statistics from the reference CSV (registry/data, SOURCES.md)."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

from django.db import transaction
from django_countries import countries

from taxonomy.models import Mineral

from .models import ProductionStatistic

PRODUCTION_FILE = (
    Path(__file__).resolve().parent / "data" / "usgs_mcs2025_production_by_country.csv"
)

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


@transaction.atomic
def load_production(path: Path | None = None) -> int:
    """Create or update one row per product, stage, producer and year. Idempotent."""
    path = Path(path or default_path())
    minerals = {m.code: m for m in Mineral.objects.all()}
    count = 0
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
            unit = row["unit_basis"]
            scale = Decimal(1)
            for year, column, estimated in (
                (2024, "production_2024e_t", True),
                (2023, "production_2023_t", False),
            ):
                quantity = _quantity(row[column])
                if quantity is None and kind != "withheld":
                    continue  # not published for that year
                ProductionStatistic.objects.update_or_create(
                    product=product,
                    stage=stage,
                    label=label,
                    year=year,
                    defaults={
                        "mineral": minerals[mineral_code],
                        "kind": kind,
                        "country": country,
                        "estimated": estimated,
                        "quantity": quantity * scale if quantity is not None else None,
                        "unit": unit,
                        "source": row["source"],
                        "note": "; ".join(x for x in (row["note"], row["transcription"]) if x),
                    },
                )
                count += 1
    return count
