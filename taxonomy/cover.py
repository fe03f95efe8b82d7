"""Exact minimum set cover, small enough to be exact for the standards landscape.

Pure function (no database) so it can be checked against brute force.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import TypeVar

K = TypeVar("K", bound=Hashable)  # an option's key (a standard code)
E = TypeVar("E", bound=Hashable)  # an element to cover (a cell code)


def cover_rank(keys: Iterable[K], weight: Callable[[K], int]) -> tuple:
    """The order in which covers are preferred; lower is better.

    1. fewest members; 2. largest total weight (for standards: how many are
    independently verified); 3. the alphabetically first sorted list of keys.
    """
    keys = sorted(keys, key=str)
    return (len(keys), -sum(weight(k) for k in keys), tuple(str(k) for k in keys))


def exact_set_cover(
    required: Iterable[E],
    options: Mapping[K, Iterable[E]],
    weight: Callable[[K], int] = lambda _key: 0,
) -> tuple[list[K], set[E]]:
    """Smallest set of option keys whose union covers `required`.

    Returns (chosen keys sorted, elements no option covers). The uncoverable
    elements are set aside and the rest is covered exactly; among covers of the
    minimum size `cover_rank` decides.
    """
    wanted = set(required)
    coverable = wanted & set().union(*map(set, options.values())) if options else set()
    uncoverable = wanted - coverable
    elements = sorted(coverable, key=str)
    if not elements:
        return [], uncoverable
    bit = {element: 1 << i for i, element in enumerate(elements)}
    full = (1 << len(elements)) - 1

    masks: dict[K, int] = {}
    for key, members in options.items():
        mask = 0
        for member in members:
            mask |= bit.get(member, 0)
        if mask:
            masks[key] = mask
    covering = {
        element: [key for key, mask in masks.items() if mask & bit[element]] for element in elements
    }
    widest = max(mask.bit_count() for mask in masks.values())

    best_size = len(masks)
    best: set[frozenset[K]] = set()

    def search(covered: int, chosen: tuple[K, ...]) -> None:
        nonlocal best_size, best
        if covered == full:
            if len(chosen) < best_size:
                best_size, best = len(chosen), {frozenset(chosen)}
            elif len(chosen) == best_size:
                best.add(frozenset(chosen))
            return
        remaining = (full & ~covered).bit_count()
        lower_bound = len(chosen) + -(-remaining // widest)
        if lower_bound > best_size:
            return
        # Branch on the uncovered element with the fewest options: every cover
        # must contain one of them, so no optimal cover is missed.
        element = min(
            (e for e in elements if not covered & bit[e]),
            key=lambda e: len(covering[e]),
        )
        for key in covering[element]:
            if key not in chosen:
                search(covered | masks[key], (*chosen, key))

    search(0, ())
    winner = min(best, key=lambda cover: cover_rank(cover, weight))
    return sorted(winner, key=str), uncoverable
