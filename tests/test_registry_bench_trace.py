"""The trace benchmark runs end to end, prints its runs side by side with the floor, ends
with the ratio line `make bench-postgres` is read by, and leaves nothing behind (timings
are not tested)."""

import io
import re

import pytest
from django.core.management import CommandError, call_command

from registry.models import Company, SupplyRelationship
from registry.reference import load_rules

pytestmark = pytest.mark.django_db


def test_bench_trace_prints_both_runs_and_ends_with_the_ratio_to_the_floor():
    load_rules()
    before = (Company.objects.count(), SupplyRelationship.objects.count())
    out = io.StringIO()
    call_command("bench_trace", sizes="300:2000,400:3000", repeat=1, stdout=out)
    lines = out.getvalue().rstrip("\n").splitlines()
    text = "\n".join(lines)
    assert "300 / 2,000" in text and "400 / 3,000" in text  # side by side
    for label in ("floor: bare cursor", "recursive CTE", "one query per tier", "peak RSS"):
        line = next(line for line in lines if label in line)
        assert len(re.findall(r"\d[\d,]*\.\d", line)) == 2 or label == "peak RSS", line
    assert text.count("synthetic data rolled back") == 2
    assert re.fullmatch(r"trace / floor: \d+\.\d\dx", lines[-1])
    assert (Company.objects.count(), SupplyRelationship.objects.count()) == before


def test_bench_trace_can_record_relationships_as_shares_of_the_buyers_supply():
    load_rules()
    out = io.StringIO()
    call_command("bench_trace", sizes="300:2000", repeat=1, reported_shares=1, stdout=out)
    text = out.getvalue()
    assert "relationships with a reported share, not a volume: 100%" in text
    assert re.search(r"trace / floor: \d+\.\d\dx\n?$", text)
    assert not SupplyRelationship.objects.exists()  # rolled back


def test_bench_trace_refuses_a_share_fraction_outside_0_to_1():
    with pytest.raises(CommandError, match="reported-shares"):
        call_command("bench_trace", reported_shares=1.5, stdout=io.StringIO())


def test_bench_trace_names_bad_sizes():
    with pytest.raises(CommandError, match="companies:relationships"):
        call_command("bench_trace", sizes="300x2000", stdout=io.StringIO())
