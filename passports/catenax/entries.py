"""The kinds of row in the mapping table (mapping.py) and the helpers that write them.

Every row's `read(inputs, item)` gives the value of its leaf (None: left out); `item` is the
current element of the innermost enclosing array (None outside arrays). An array's row
(`Each`) gives its elements; its leaves are read once per element.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from .values import Inputs

MAPPED = "mapped"
MODEL_EXTRA = "model extra"
NOT_EXPORTED = "not exported"

Read = Callable[[Inputs, Any], Any]


@dataclass(frozen=True)
class Mapped:
    """Filled from the Battery Pass document (paths "Aspect.key.*.key") or, for metadata,
    from the passport (paths "context.name"). `extra` names the model extras (EXTRA_FIELDS)
    that override it or fill it in where the document does not say."""

    source: tuple[str, ...]
    read: Read
    extra: tuple[str, ...] = ()
    kind = MAPPED


@dataclass(frozen=True)
class ModelExtra:
    """Filled only from the battery model's declared extras (`catenax_extra`, EXTRA_FIELDS)."""

    key: str
    read: Read
    kind = MODEL_EXTRA


@dataclass(frozen=True)
class NotExported:
    """Never exported, for the reason given."""

    reason: str
    kind = NOT_EXPORTED


@dataclass(frozen=True)
class Each:
    """An array: `items(inputs, item)` gives its elements. None leaves the array out; an empty
    list is exported as an empty list (the source says there are none); elements whose leaves
    are all empty are dropped, and an array left with none is left out."""

    source: tuple[str, ...]
    items: Callable[[Inputs, Any], list | None]


Entry = Mapped | ModelExtra | NotExported | Each


def bp(path: str, convert: Callable[[Any], Any]) -> Mapped:
    """The document's value at `path` (no arrays on the way), through `convert`."""
    return Mapped((path,), lambda inputs, item: convert(inputs.at(path)))


def ctx(name: str, convert: Callable[[Any], Any]) -> Mapped:
    """The passport's `CatenaXContext.<name>`, through `convert`."""
    return Mapped((f"context.{name}",), lambda inputs, item: convert(getattr(inputs.context, name)))


def extra(path: str, convert: Callable[[Any], Any]) -> ModelExtra:
    """The model extra at `path` ("key" or "key.key"), through `convert`."""
    return ModelExtra(path.split(".")[0], lambda inputs, item: convert(inputs.extra_at(path)))


def item_attr(name: str) -> Read:
    """A field of the current element (a NamedTuple)."""
    get = attrgetter(name)
    return lambda inputs, item: get(item)


def item_key(name: str) -> Read:
    """A key of the current element (a dict)."""
    return lambda inputs, item: item.get(name)


def the_item(inputs: Inputs, item: Any) -> Any:
    """The current element itself (arrays of plain values)."""
    return item


_DOC_FIELDS = (("contentType", "content_type"), ("header", "header"), ("content", "content"))


def documents(
    path: str, each: Each, key: str | None = None, fallback: tuple[str, ...] = ()
) -> list[tuple[str, Entry]]:
    """The rows of a list of Catena-X documents: the array and its three leaves, mapped from
    `each.source` (with model extras `fallback`), or model extra `key` when given."""
    rows: list[tuple[str, Entry]] = [(path, each)]
    for leaf, field in _DOC_FIELDS:
        read = item_attr(field)
        entry = ModelExtra(key, read) if key else Mapped(each.source, read, fallback)
        rows.append((f"{path}.*.{leaf}", entry))
    return rows


def not_exported(path: str, leaves: tuple[str, ...], reason: str) -> list[tuple[str, Entry]]:
    """Rows for leaves below `path` that are not exported, for one reason."""
    return [(f"{path}.{leaf}", NotExported(reason)) for leaf in leaves]


DOC_LEAVES = tuple(f"*.{leaf}" for leaf, _ in _DOC_FIELDS)
