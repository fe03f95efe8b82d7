"""A passport's record for the EU digital product passport registry.

ESPR (Regulation (EU) 2024/1781) Art. 13 (digital product passport registry): the
Commission's registry stores, for each product with a passport, at least the unique product
identifier, the unique operator identifier, the unique facility identifiers, and the
commodity code (Combined Nomenclature) customs check it by; the draft implementing act on
the registry adds where the passport resolves (the data carrier's link) and its back-up.

Every value here is public (attributes 1 battery passport identifier, 3 operator, 4-5
manufacturer and manufacturing place, 9 category, 31 chemistry, all public in attributes.csv;
the ceasing of a passport is its own public state), so a record answers any requester.
Drafts are not on the market and have no record.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

from .models import BatteryPassport, Lifecycle
from .qr import digital_link

# CN 2025, heading 8507 "Electric accumulators": the subheading by chemistry.
LITHIUM_ION = "8507 60"
COMMODITY_CODES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("nmc", "nca", "lfp", "lmfp", "lmo", "lco", "lto", "li-ion", "lithium", "li"), LITHIUM_ION),
    (("nimh", "ni-mh"), "8507 50"),
    (("nicd", "ni-cd"), "8507 30"),
    (("pb", "lead"), "8507 20"),  # lead-acid, other than for starting piston engines
)
OTHER_ACCUMULATORS = "8507 80"

# Registry statuses: the passport lives, or it ceased (the battery recycled, Art. 77(6)).
ACTIVE = "active"
CEASED = "ceased"

COLUMNS: tuple[str, ...] = (
    "id",
    "internal_id",
    "batterypass_id",
    "uuid",
    "lifecycle",
    "version",
    "published_at",
    "ceased_at",
    "economic_operator__legal_name",
    "economic_operator__lei",
    "economic_operator_id",
    "battery_model__category",
    "battery_model__chemistry",
    "battery_model__catenax_extra",
    "battery_model__manufacturer_id",
    "battery_model__gtin",
    "battery_identifier",
    "demo",
)
# The record's fields, in the order of the CSV export.
FIELDS: tuple[str, ...] = (
    "unique_product_identifier",
    "passport_identifier",
    "internal_id",
    "unique_operator_identifier",
    "operator_identifier_scheme",
    "operator_name",
    "unique_facility_identifier",
    "commodity_code",
    "battery_category",
    "resolver_endpoint",
    "api_endpoint",
    "data_carrier",
    "data_carrier_image",
    "status",
    "version",
    "published_at",
    "ceased_at",
    "demo",
)


def commodity_code(chemistry: str) -> str:
    """The CN subheading of an accumulator by its chemistry's short name (NMC811, LFP...)."""
    name = chemistry.strip().lower()
    for prefixes, code in COMMODITY_CODES:
        if name.startswith(prefixes):
            return code
    return OTHER_ACCUMULATORS


def _base() -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/")


def _facility(extra: dict) -> str | None:
    """The manufacturing facility's identifier (attribute 5): its Catena-X site number."""
    found = (extra or {}).get("manufacturing_facility_bpnas")
    if isinstance(found, list):
        found = found[0] if found else None
    return found or None


def record_of(row: dict) -> dict:
    """The registry record of one passport row (COLUMNS)."""
    base = _base()
    lei = row["economic_operator__lei"]
    return {
        "unique_product_identifier": f"urn:uuid:{row['uuid']}",
        "passport_identifier": row["batterypass_id"],
        "internal_id": row["internal_id"],
        "unique_operator_identifier": lei
        or f"{base}/api/registry/companies/{row['economic_operator_id']}/",
        "operator_identifier_scheme": "LEI" if lei else "registry",
        "operator_name": row["economic_operator__legal_name"],
        "unique_facility_identifier": _facility(row["battery_model__catenax_extra"]),
        "commodity_code": commodity_code(row["battery_model__chemistry"]),
        "battery_category": row["battery_model__category"],
        # What the data carrier encodes (passports/qr.py): the Digital Link when the model
        # has a GTIN, else the public page.
        "resolver_endpoint": digital_link(row["battery_model__gtin"], row["battery_identifier"])
        if row["battery_model__gtin"]
        else f"{base}/p/{row['internal_id']}/",
        "api_endpoint": f"{base}/api/passports/{row['internal_id']}/",
        "data_carrier": "QR code",
        "data_carrier_image": f"{base}/p/{row['internal_id']}/qr.svg",
        "status": CEASED if row["ceased_at"] else ACTIVE,
        "version": row["version"],
        "published_at": row["published_at"],
        "ceased_at": row["ceased_at"],
        "demo": row["demo"],
    }


def registered():
    """The passports with a record (published ones, ceased included), as rows by id."""
    return (
        BatteryPassport.objects.filter(lifecycle=Lifecycle.PUBLISHED)
        .order_by("id")
        .values(*COLUMNS)
    )


def record_for(passport: BatteryPassport) -> dict | None:
    row = registered().filter(pk=passport.pk).first()
    return record_of(row) if row else None


def records(rows: Iterable[dict]) -> Iterator[dict]:
    return (record_of(row) for row in rows)


def all_records(chunk_size: int = 2000) -> Iterator[dict]:
    """Every record, read in chunks (memory stays one chunk)."""
    return records(registered().iterator(chunk_size=chunk_size))


# --- The submitter ----------------------------------------------------------------------

logger = logging.getLogger(__name__)
BATCH_SIZE = 500
TIMEOUT = 30  # seconds per batch


@dataclass
class Submission:
    submitted: int
    batches: int
    message: str


def submit(url: str | None = None, chunk_size: int = BATCH_SIZE) -> Submission:
    """POST every record to the registry's intake as JSON batches ({"records": [...]}).
    Off unless DPP_REGISTRY_URL (or `url`) is set: then it sends nothing and says so.
    Re-sending is harmless: a record is keyed by its unique product identifier."""
    url = url if url is not None else settings.DPP_REGISTRY_URL
    if not url:
        message = "DPP_REGISTRY_URL is not set: the registry submitter is off, nothing sent."
        logger.info(message)
        return Submission(0, 0, message)
    sent = batches = 0
    batch: list[dict] = []
    for record in all_records(chunk_size):
        batch.append(record)
        if len(batch) == chunk_size:
            _post(url, batch)
            sent, batches, batch = sent + len(batch), batches + 1, []
    if batch:
        _post(url, batch)
        sent, batches = sent + len(batch), batches + 1
    message = f"{sent} records sent to {url} in {batches} batches."
    logger.info(message)
    return Submission(sent, batches, message)


class SubmissionFailed(Exception):
    pass


def _post(url: str, batch: list[dict]) -> None:
    body = json.dumps({"records": batch}, cls=DjangoJSONEncoder).encode()
    request = urllib.request.Request(  # noqa: S310 - the operator's own configured URL
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            response.read()
    except urllib.error.HTTPError as exc:
        raise SubmissionFailed(f"The registry at {url} answered {exc.code}.") from exc
    except OSError as exc:
        raise SubmissionFailed(f"The registry at {url} could not be reached: {exc}") from exc
