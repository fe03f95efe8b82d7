"""Comparing smelter names: one similarity score for the checker and for matching."""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher

# Legal forms and filler words say nothing about which smelter it is.
_NOISE = {
    "co",
    "company",
    "corp",
    "corporation",
    "inc",
    "incorporated",
    "ltd",
    "limited",
    "llc",
    "plc",
    "sa",
    "s",
    "a",
    "ag",
    "gmbh",
    "bv",
    "nv",
    "spa",
    "srl",
    "pte",
    "pty",
    "pvt",
    "the",
    "of",
    "and",
    "group",
    "holdings",
    "jsc",
    "ojsc",
    "pjsc",
    "oy",
    "ab",
    "as",
    "kk",
}


def normalise(name: str) -> str:
    text = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", text.lower())
    return " ".join(w for w in words if w not in _NOISE)


def similarity(a: str, b: str) -> float:
    """0..1; 1 when the names are the same but for case, accents, punctuation and legal
    form. Word order counts little: the better of the plain and word-sorted ratios."""
    na, nb = normalise(a), normalise(b)
    if not na or not nb:
        return 0.0
    if na == nb:
        return 1.0
    plain = SequenceMatcher(None, na, nb).ratio()
    ordered = SequenceMatcher(None, " ".join(sorted(na.split())), " ".join(sorted(nb.split())))
    return round(max(plain, ordered.ratio()), 3)
