"""One rule for every file the registry writes for a spreadsheet (API downloads, intake
exports): a text a spreadsheet would run as a formula is written as text."""

from __future__ import annotations

import re

NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """A cell a spreadsheet would run as a formula, made text (OWASP: CSV injection);
    plain numbers such as "-1.5" are left alone."""
    if text.startswith(FORMULA_START) and not NUMBER.fullmatch(text):
        return "'" + text
    return text
