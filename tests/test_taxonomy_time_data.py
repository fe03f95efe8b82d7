"""The reference data of the taxonomy in time: every instrument of standards.yaml has a dated,
sourced status history in instruments_in_time.yaml. Reads both files from the repository
only (yaml.safe_load; no database, no network)."""

import datetime as dt
from pathlib import Path

import pytest
import yaml

DATA = Path(__file__).resolve().parent.parent / "taxonomy" / "data"
STANDARDS = DATA / "standards.yaml"
TIME = DATA / "instruments_in_time.yaml"

# The statuses of taxonomy.models.StandardStatus (the loader's schema enum), spelled out here so
# that a change to the allowed set is a deliberate change to this test too.
ALLOWED_STATUSES = {"proposed", "adopted", "in_force", "suspended", "ended", "repealed"}


def _standard_codes() -> list[str]:
    return [entry["code"] for entry in yaml.safe_load(STANDARDS.read_text(encoding="utf-8"))]


def _time_document() -> dict:
    return yaml.safe_load(TIME.read_text(encoding="utf-8")) or {}


def _as_date(value) -> dt.date:
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


STANDARD_CODES = _standard_codes()
TIME_DOCUMENT = _time_document()


def test_the_allowed_statuses_are_the_models():
    from taxonomy.models import StandardStatus

    assert set(StandardStatus.values) == ALLOWED_STATUSES


def test_standard_codes_are_unique():
    assert len(STANDARD_CODES) == len(set(STANDARD_CODES))


def test_every_code_in_the_time_file_is_a_standard():
    assert set(TIME_DOCUMENT) - set(STANDARD_CODES) == set()


@pytest.mark.parametrize("code", STANDARD_CODES)
def test_every_standard_has_a_dated_sourced_status_history(code):
    entry = TIME_DOCUMENT.get(code)
    assert entry, f"{code}: no entry in instruments_in_time.yaml"
    history = entry.get("status") or []
    assert history, f"{code}: no status history"
    for change in history:
        assert change.get("date"), f"{code}: a status change without a date"
        _as_date(change["date"])  # a real calendar date
        assert str(change.get("source", "")).strip(), f"{code} {change['date']}: no source"
        assert change.get("status") in ALLOWED_STATUSES, (
            f"{code} {change['date']}: status {change.get('status')!r} not allowed"
        )


@pytest.mark.parametrize("code", sorted(TIME_DOCUMENT))
def test_status_changes_are_in_date_order(code):
    dates = [_as_date(c["date"]) for c in TIME_DOCUMENT[code].get("status") or []]
    assert dates == sorted(dates), f"{code}: status changes are not in date order"


@pytest.mark.parametrize("code", sorted(TIME_DOCUMENT))
def test_every_version_names_a_source_and_versions_are_in_date_order(code):
    versions = TIME_DOCUMENT[code].get("versions") or []
    assert all(str(v.get("source", "")).strip() for v in versions), (
        f"{code}: version without source"
    )
    starts = [_as_date(v["valid_from"]) for v in versions if v.get("valid_from")]
    assert starts == sorted(starts), f"{code}: versions are not in date order"
    if versions:
        assert sum(bool(v.get("current")) for v in versions) == 1, f"{code}: one current version"


@pytest.mark.parametrize("code", sorted(TIME_DOCUMENT))
def test_uncertain_marks_are_text(code):
    entry = TIME_DOCUMENT[code]
    for item in (entry.get("status") or []) + (entry.get("versions") or []):
        if "uncertain" in item:
            assert isinstance(item["uncertain"], str) and item["uncertain"].strip()
