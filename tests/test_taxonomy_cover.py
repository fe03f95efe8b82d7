"""The smallest set of standards covering a set of cells is exact."""

import random
from itertools import combinations

import pytest

from taxonomy import selectors
from taxonomy.cover import cover_rank, exact_set_cover
from taxonomy.models import Cell, Standard


def brute_force(required, options, weight):
    coverable = set(required) & set().union(*options.values())
    keys = sorted(options)
    for size in range(0, len(keys) + 1):
        covers = [
            combo
            for combo in combinations(keys, size)
            if coverable <= set().union(*(options[k] for k in combo))
        ]
        if covers:
            return sorted(min(covers, key=lambda c: cover_rank(c, weight)))
    raise AssertionError("unreachable")


@pytest.mark.parametrize("seed", range(200))
def test_set_cover_matches_brute_force_on_random_instances(seed):
    rng = random.Random(seed)
    universe = list(range(rng.randint(1, 14)))
    options = {
        f"s{i:02d}": set(rng.sample(universe, rng.randint(0, len(universe))))
        for i in range(rng.randint(1, 11))
    }
    required = set(rng.sample(universe, rng.randint(1, len(universe))))
    verified = {key: rng.random() < 0.5 for key in options}
    weight = lambda key: int(verified[key])  # noqa: E731
    chosen, uncoverable = exact_set_cover(required, options, weight)
    assert chosen == brute_force(required, options, weight)
    assert uncoverable == required - set().union(*options.values())


def test_ties_go_to_independently_verified_then_alphabetical():
    options = {"b": {1, 2}, "a": {1, 2}, "c": {1, 2}}
    verified = {"a": 0, "b": 1, "c": 1}
    assert exact_set_cover({1, 2}, options, verified.get)[0] == ["b"]
    assert exact_set_cover({1, 2}, options)[0] == ["a"]


@pytest.mark.django_db
def test_minimal_cover_of_reference_standards_is_no_larger_than_any_other_cover():
    cells = list(
        Cell.objects.filter(
            code__in=[
                "content.labor_rights",
                "content.climate_change",
                "application.refining",
                "implementation.industry.third_party_reporting",
                "enforcement.legal_sanction",
                "implementation.government.oversight",
            ]
        )
    )
    cover = selectors.minimal_cover(cells)
    landscape = selectors.load_landscape()
    covered = set().union(*(landscape.covered(s.id) for s in cover.standards))
    assert {c.code for c in cells} - set(cover.uncoverable) <= covered
    required = {c.code for c in cells} - set(cover.uncoverable)
    standards = list(Standard.objects.all())
    for size in range(1, len(cover.standards)):
        for combo in combinations(standards, size):
            union = set().union(*(landscape.covered(s.id) for s in combo))
            assert not required <= union, [s.code for s in combo]
