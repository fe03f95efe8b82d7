"""The API's JSON parser: DRF's, with limits on what a body may hold.

A body is refused with a ParseError (400) naming the place (`$.data.items[3]`) when it

- nests deeper than MAX_DEPTH (Python's parser would raise RecursionError: a 500);
- has a NUL or a format character (Unicode Cf) in a key: keys are names the API defines;
- has a NUL in a string: PostgreSQL can store NUL neither in text nor in jsonb (a 500);
- has a format character in a string other than those that text needs: ZWNJ and ZWJ
  (U+200C, U+200D) shape Persian and Indic words and emoji, LRM and RLM (U+200E, U+200F)
  order mixed-direction text. The others (U+200B, U+FEFF, bidi overrides like U+202E, soft
  hyphen, tags) are invisible: in a company, standard or battery name they only make
  look-alikes of another record and text that reads otherwise than it is stored.
"""

from __future__ import annotations

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from config.input_guard import FORBIDDEN, describe, first_forbidden

MAX_DEPTH = 32
ALLOWED_IN_TEXT = frozenset({"\u200c", "\u200d", "\u200e", "\u200f"})
FORBIDDEN_IN_TEXT = FORBIDDEN - ALLOWED_IN_TEXT


def _place(path: list[str | int]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def check(value, *, max_depth: int = MAX_DEPTH) -> None:
    """Raise ParseError for the first place in a parsed JSON value the API refuses."""
    stack: list[tuple[object, list[str | int]]] = [(value, [])]
    while stack:
        node, path = stack.pop()
        if len(path) > max_depth:
            raise ParseError(f"JSON nested deeper than {max_depth} levels at {_place(path)}.")
        if isinstance(node, dict):
            for key, item in node.items():
                found = first_forbidden(key)
                if found:
                    raise ParseError(
                        f"JSON key {key!r} at {_place(path)} contains {describe(found[1])}."
                    )
                stack.append((item, [*path, key]))
        elif isinstance(node, list):
            stack.extend((item, [*path, i]) for i, item in enumerate(node))
        elif isinstance(node, str) and not FORBIDDEN_IN_TEXT.isdisjoint(node):
            character = next(c for c in node if c in FORBIDDEN_IN_TEXT)
            raise ParseError(f"JSON string at {_place(path)} contains {describe(character)}.")


class GuardedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(f"JSON nested deeper than {MAX_DEPTH} levels.") from exc
        check(data)
        return data
