"""The export: the mapping table walked as a tree, leaf by leaf."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .context import CatenaXContext
from .entries import Each, Mapped, ModelExtra
from .mapping import ARRAYS, MAPPING
from .values import Inputs, as_dict


@dataclass
class _Node:
    leaf: Mapped | ModelExtra | None = None
    each: Each | None = None
    children: dict[str, _Node] = field(default_factory=dict)


def _tree() -> _Node:
    """The exported leaves as a tree (in table order); "*" is the element of an array."""
    root = _Node()
    for path, entry in MAPPING.items():
        if not isinstance(entry, Mapped | ModelExtra):
            continue
        node, at = root, []
        for key in path.split("."):
            if key == "*":
                node.each = ARRAYS[".".join(at)]  # KeyError: an array without its row
            at.append(key)
            node = node.children.setdefault(key, _Node())
        node.leaf = entry
    return root


_ROOT = _tree()


def _value(node: _Node, inputs: Inputs, item: Any) -> Any:
    if node.leaf is not None:
        return node.leaf.read(inputs, item)
    if node.each is not None:
        elements = node.each.items(inputs, item)
        if elements is None:
            return None
        if not elements:  # the source says there are none
            return []
        element = node.children["*"]
        values = [_value(element, inputs, one) for one in elements]
        return [value for value in values if value is not None] or None
    values = {key: _value(child, inputs, item) for key, child in node.children.items()}
    return {key: value for key, value in values.items() if value is not None} or None


def to_catenax(document: dict, context: CatenaXContext) -> dict:
    """Map the canonical document to a Catena-X BatteryPass 6.1.0 JSON object.

    Fields without a source are omitted (see the package docstring); a partial document gives
    a partial object. Raises ValueError only for a malformed passport or predecessor UUID.
    """
    inputs = Inputs(document=as_dict(document), context=context, extra=as_dict(context.extra))
    return _value(_ROOT, inputs, None) or {}
