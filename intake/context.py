"""What an import kind gets to work with (see intake.kinds)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ImportRefused(Exception):
    """The file cannot be imported at all (wrong, corrupt, dangerous): a clear message for
    the person who sent it; nothing is written."""


@dataclass
class Head:
    """The beginning of a file, enough to tell its kind."""

    extension: str  # "csv" or "xlsx"
    sheets: list[str] = field(default_factory=list)
    header: list[str] = field(default_factory=list)  # first non-empty row, lower-cased


@dataclass
class Context:
    path: Path
    extension: str
    user: Any = None  # None: the command line, acting as staff
    organisation: Any = None
    staff: bool = False
    dry_run: bool = True
    on_progress: Callable[[int, int | None], None] | None = None
    problems: list[dict] = field(default_factory=list)
    # Per table: rows, created, updated, matched, unmatched.
    tables: dict[str, dict[str, int]] = field(default_factory=dict)
    # Free fields of the summary: version, company, ...
    info: dict[str, Any] = field(default_factory=dict)
    # Problems past MAX_PROBLEMS are counted, not kept (memory stays bounded).
    dropped: dict[str, int] = field(default_factory=dict)

    MAX_PROBLEMS = 10_000

    def problem(
        self,
        message: str,
        *,
        row: int | None = None,
        column: str | None = None,
        sheet: str | None = None,
        cell: str | None = None,
        severity: str = "error",
    ) -> None:
        if len(self.problems) >= self.MAX_PROBLEMS:
            self.dropped[severity] = self.dropped.get(severity, 0) + 1
            return
        p: dict[str, Any] = {"severity": severity, "message": message}
        if sheet is not None:
            p["sheet"] = sheet
        if cell is not None:
            p["cell"] = cell
        if row is not None:
            p["row"] = row
        if column is not None:
            p["column"] = column
        self.problems.append(p)

    @property
    def errors(self) -> int:
        kept = sum(1 for p in self.problems if p["severity"] == "error")
        return kept + self.dropped.get("error", 0)

    def count(self, table: str, what: str, n: int = 1) -> None:
        counts = self.tables.setdefault(
            table, {"rows": 0, "created": 0, "updated": 0, "matched": 0, "unmatched": 0}
        )
        counts[what] = counts.get(what, 0) + n

    def progress(self, done: int, total: int | None = None) -> None:
        if self.on_progress:
            self.on_progress(done, total)
