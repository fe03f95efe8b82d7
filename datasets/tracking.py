"""Loading reference data per version, without overwriting what people changed.

Each loader describes a record twice, as the file wants it and as the database holds
it, in the same plain form (`state`). The fingerprint of what the loader last wrote is
kept in `LoadedRecord`; on a reload:

- a record the file has and the database lacks, never loaded before: added;
- a record whose database state still has the loaded fingerprint: updated to the file;
- a record whose database state differs from the loaded fingerprint: a person changed
  it since, so it is left alone (unless it already equals the file);
- a record loaded before and since deleted: a person deleted it, so it is not re-added;
- a record that exists but was never loaded (made by hand, or by an older loader) is
  adopted when it equals the file and left alone otherwise.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

from django.utils import timezone

from .models import DatasetVersion, LoadedRecord


class Outcome(StrEnum):
    ADD = "added"
    UPDATE = "updated"
    SAME = "unchanged"
    KEEP = "left alone"


def _plain(value):
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")  # 88000.000 in the database is 88000 in a file
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    return str(value)


def fingerprint(state) -> str:
    text = json.dumps(state, sort_keys=True, default=_plain, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_version(*paths: Path | str, extra: str = "") -> str:
    """The version of a dataset: a hash of its files (and of the loader's own format)."""
    digest = hashlib.sha256(extra.encode("utf-8"))
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


# A fingerprint no state hashes to: the record counts as changed by a person.
EDITED = "edited by a person"


def mark_edited(dataset: str, key: str) -> None:
    """A person changed the record (an approved proposal): reloads leave it alone, even
    when the change restores the loaded values, until the file itself agrees with it."""
    LoadedRecord.objects.filter(dataset=dataset, key=key).update(fingerprint=EDITED)


@dataclass
class DatasetReport:
    dataset: str
    version: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    kept: list[tuple[str, str]] = field(default_factory=list)
    first_load: bool = False

    @property
    def total(self) -> int:
        return len(self.added) + len(self.updated) + self.unchanged + len(self.kept)

    def lines(self) -> list[str]:
        head = f"{self.dataset} (version {self.version[:12]})"
        lines = [
            f"{head}: {len(self.added)} added, {len(self.updated)} updated, "
            f"{self.unchanged} unchanged, {len(self.kept)} left alone."
            + (" (first load)" if self.first_load else "")
        ]
        if not self.first_load:  # on a reload, name what is new
            lines += [f"  added: {key}" for key in self.added]
        lines += [f"  updated: {key}" for key in self.updated]
        lines += [f"  left alone: {key}: {why}" for key, why in self.kept]
        return lines

    def as_dict(self) -> dict:
        return {
            "added": len(self.added),
            "updated": len(self.updated),
            "unchanged": self.unchanged,
            "left_alone": dict(self.kept),
        }


class DatasetSync:
    """One load of one dataset. Call `decide` for each record of the file, write the
    record when it answers ADD or UPDATE, then `finish` once."""

    def __init__(self, dataset: str, version: str):
        self.dataset, self.version = dataset, version
        self.loaded = {r.key: r for r in LoadedRecord.objects.filter(dataset=dataset)}
        self.report = DatasetReport(dataset, version, first_load=not self.loaded)
        self._record: dict[str, str] = {}

    def decide(self, key: str, current, wanted) -> Outcome:
        """`current` is the record's state in the database (None if absent)."""
        tracked = self.loaded.get(key)
        want = fingerprint(wanted)
        if current is None:
            if tracked is not None:
                self.report.kept.append(
                    (
                        key,
                        f"deleted by a person after it was loaded on {tracked.loaded_at:%Y-%m-%d}",
                    )
                )
                return Outcome.KEEP
            self.report.added.append(key)
            self._record[key] = want
            return Outcome.ADD
        have = fingerprint(current)
        if have == want:
            self.report.unchanged += 1
            self._record[key] = want
            return Outcome.SAME
        if tracked is None:
            self.report.kept.append(
                (key, "differs from the file and was not loaded by this command (made by hand)")
            )
            return Outcome.KEEP
        if have != tracked.fingerprint:
            self.report.kept.append(
                (key, f"changed by a person since it was loaded on {tracked.loaded_at:%Y-%m-%d}")
            )
            return Outcome.KEEP
        self.report.updated.append(key)
        self._record[key] = want
        return Outcome.UPDATE

    def finish(self) -> DatasetReport:
        existing = self.loaded
        LoadedRecord.objects.bulk_create(
            [
                LoadedRecord(dataset=self.dataset, key=k, fingerprint=f, version=self.version)
                for k, f in self._record.items()
                if k not in existing
            ]
        )
        stale = [
            existing[k]
            for k, f in self._record.items()
            if k in existing and (existing[k].fingerprint, existing[k].version) != (f, self.version)
        ]
        now = timezone.now()  # bulk_update does not apply auto_now
        for record in stale:
            record.fingerprint, record.version = self._record[record.key], self.version
            record.loaded_at = now
        LoadedRecord.objects.bulk_update(stale, ["fingerprint", "version", "loaded_at"])
        DatasetVersion.objects.update_or_create(
            dataset=self.dataset,
            defaults={"version": self.version, "summary": self.report.as_dict()},
        )
        return self.report


def sync_records(
    dataset: str,
    version: str,
    records: Iterable[tuple[str, object, object]],
    write,
) -> DatasetReport:
    """The common loop: `records` yields (key, current state, wanted state); `write(key)` is
    called for each record to add or update."""
    sync = DatasetSync(dataset, version)
    for key, current, wanted in records:
        if sync.decide(key, current, wanted) in (Outcome.ADD, Outcome.UPDATE):
            write(key)
    return sync.finish()
