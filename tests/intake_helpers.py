"""Building import files for the intake tests (CSV and XLSX), and running them."""

from __future__ import annotations

import csv
import io

from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from intake import services
from intake.models import ImportJob

PRODUCTION_HEADER = [
    "mineral",
    "stage",
    "product",
    "year",
    "country",
    "company",
    "amount",
    "unit",
    "source",
]


def csv_bytes(rows: list[list]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


def xlsx_bytes(rows: list[list], title: str = "Sheet") -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def upload(data: bytes, name: str = "table.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


def run(data: bytes, *, user=None, name="table.csv", kind=None, dry_run=True) -> ImportJob:
    """Create the job and run it in-process (the tests' Celery is eager, after commit)."""
    job = services.job_create(
        user=user, upload=upload(data, name), kind=kind, dry_run=dry_run, run_later=False
    )
    services.run_job(job.pk)
    job.refresh_from_db()
    return job


def production_row(country="CD", amount="220", unit="kt", year=2024, **fields) -> list:
    row = {
        "mineral": "cobalt",
        "stage": "mining",
        "product": "cobalt",
        "year": year,
        "country": country,
        "company": "",
        "amount": amount,
        "unit": unit,
        "source": "USGS MCS 2025",
        **fields,
    }
    return [row[c] for c in PRODUCTION_HEADER]


def errors(job: ImportJob) -> list[tuple]:
    """(row, column, message) of every error of a job."""
    return [
        (p.get("row"), p.get("column"), p["message"])
        for p in job.problems
        if p["severity"] == "error"
    ]
