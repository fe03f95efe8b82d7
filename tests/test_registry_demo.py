"""The demo registry `make run` loads: real companies, every status, loads twice cleanly."""

import pytest

from registry.demo import load_demo
from registry.models import Attestation, Company, MinedSource, StatusChange
from registry.querysets import Requester
from registry.selectors import company_coverage, sector_gaps
from registry.services import TRANSITIONS

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(demo_registry):
    return demo_registry


def test_demo_covers_every_stage_status_type_and_visibility(demo):
    stages = set(Company.objects.values_list("stages__code", flat=True))
    assert {
        f"application.{s}"
        for s in (
            "mining",
            "trading",
            "refining",
            "cathode",
            "cell",
            "battery_assembly",
            "vehicle",
            "recycling",
        )
    } <= stages
    assert set(Attestation.objects.values_list("status", flat=True)) == set(
        Attestation.Status.values
    )
    assert set(Attestation.objects.values_list("type", flat=True)) == set(Attestation.Type.values)
    assert set(Attestation.objects.values_list("visibility", flat=True)) == {
        "private",
        "shared",
        "public",
    }


def test_demo_negative_statuses_are_never_public(demo):
    negative = Attestation.objects.filter(status__in=["rejected", "suspended", "revoked"])
    assert negative.exists()
    assert not negative.filter(visibility="public").exists()
    assert all("Illustrative demo record" in a.notes for a in negative)


def test_demo_histories_follow_the_lifecycle(demo):
    for attestation in Attestation.objects.prefetch_related("status_changes"):
        steps = [c.to_status for c in attestation.status_changes.all()]
        assert steps[0] == "submitted"
        for before, after in zip(steps, steps[1:], strict=False):
            assert after in TRANSITIONS[before]
        assert steps[-1] == attestation.status


def test_demo_joint_ventures_keep_shares_within_100_percent(demo):
    for mine in MinedSource.objects.prefetch_related("ownerships"):
        assert sum(o.share_pct for o in mine.ownerships.all()) <= 100
    assert MinedSource.objects.filter(ownerships__isnull=False).distinct().count() >= 5


def test_loading_the_demo_twice_adds_nothing(demo):
    counts = (Company.objects.count(), Attestation.objects.count(), StatusChange.objects.count())
    second = load_demo()
    assert second["attestations_created"] == 0
    assert (
        Company.objects.count(),
        Attestation.objects.count(),
        StatusChange.objects.count(),
    ) == counts


def test_demo_answers_the_cobalt_refiner_question(demo):
    result = sector_gaps(
        cells=["content.labor_rights"],
        requester=Requester.anonymous(),
        stage="refining",
        mineral="cobalt",
    )
    assert result.company_count >= 6
    assert 0 < len(result.lacking) < result.company_count


def test_demo_companies_have_scorecards(demo):
    huayou = Company.objects.get(legal_name__icontains="Huayou")
    coverage = company_coverage(huayou, Requester.anonymous())
    assert coverage.attestations
    assert coverage.grade.level != "none"
