"""The registry of import kinds. Each kind says how a file is recognised, checked and
written; another module of the app adds its own with one line:

    register(Kind("emrt", "RMI EMRT", detect=is_emrt, check=check_emrt, commit=commit_emrt))

- `detect(head: Head) -> bool`: is this file of this kind? (`head` holds the extension,
  the sheet names and the first non-empty row of the first sheet; used when no kind is
  given.)
- `check(ctx: Context) -> None` (a dry run): read `ctx.path`, report every problem with
  `ctx.problem(...)`, count rows with `ctx.count(...)`, report progress with
  `ctx.progress(done, total)`. It runs inside a transaction that is always rolled back,
  so it may write to learn what a commit would do.
- `commit(ctx: Context) -> None`: check and write, in one transaction
  (intake.services.run_job). If it reports any problem of severity "error", or raises
  (`ImportRefused` for a file that cannot be read at all), everything is rolled back.
  A kind whose check writes nothing may simply call its check first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .context import Context, Head

__all__ = ["KINDS", "Context", "Head", "Kind", "all_kinds", "detect", "get", "register"]


@dataclass(frozen=True)
class Kind:
    code: str
    label: str
    detect: Callable[[Head], bool]
    check: Callable[[Context], None]
    commit: Callable[[Context], None]
    extensions: tuple[str, ...] = ("csv", "xlsx")
    # Free for a kind's own use (column lists, template file, ...).
    extra: dict[str, Any] = field(default_factory=dict)


KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    KINDS[kind.code] = kind
    return kind


def _load() -> None:
    # Kinds register when the modules defining them are imported.
    from . import tables  # noqa: F401
    from .rmi import kinds as rmi_kinds  # noqa: F401


def get(code: str) -> Kind | None:
    _load()
    return KINDS.get(code)


def all_kinds() -> dict[str, Kind]:
    _load()
    return KINDS


def detect(head: Head) -> Kind | None:
    """The one kind whose `detect` accepts the file, else None (none or several)."""
    found = [k for k in all_kinds().values() if head.extension in k.extensions and k.detect(head)]
    return found[0] if len(found) == 1 else None
