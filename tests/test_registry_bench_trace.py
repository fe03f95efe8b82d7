"""The trace benchmark runs end to end and leaves nothing behind (timings are not tested)."""

import io

import pytest
from django.core.management import call_command

from registry.models import Company, SupplyRelationship
from registry.reference import load_rules

pytestmark = pytest.mark.django_db


def test_bench_trace_reports_both_loaders_and_rolls_back():
    load_rules()
    before = (Company.objects.count(), SupplyRelationship.objects.count())
    out = io.StringIO()
    call_command("bench_trace", companies=300, relationships=2000, repeat=1, stdout=out)
    text = out.getvalue()
    assert "recursive CTE" in text and "one query per tier" in text
    assert "per-tier / CTE load time ratio" in text
    assert "rolled back" in text
    assert (Company.objects.count(), SupplyRelationship.objects.count()) == before
