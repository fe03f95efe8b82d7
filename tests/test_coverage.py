"""A company's coverage: what counts, on which date, for whom; its gaps and grade."""

import datetime as dt

import pytest

from registry.models import Attestation
from registry.querysets import Requester
from registry.selectors import GRADE_LEVELS, company_coverage, grade_for
from registry.services import expire_attestations
from taxonomy.selectors import load_landscape

from .factories import make_attestation, make_company, make_org, make_user

pytestmark = pytest.mark.django_db

D = dt.date.fromisoformat
PUBLIC = Requester.anonymous()


@pytest.fixture
def org():
    return make_org("Supplier compliance")


@pytest.fixture
def refiner():
    return make_company("Cobalt Refiner Ltd", stages=("refining",))


def test_a_verified_attestation_covers_its_standards_cells(refiner, org):
    make_attestation(refiner, "irma", org)
    coverage = company_coverage(refiner, PUBLIC, D("2025-01-01"))
    irma_cells = load_landscape().covered(Attestation.objects.get().standard_id)
    assert set(coverage.covered) == irma_cells


def test_coverage_includes_what_the_standard_incorporates(refiner, org):
    make_attestation(refiner, "rmi-rmap", org)
    coverage = company_coverage(refiner, PUBLIC, D("2025-01-01"))
    vias = {src.via for sources in coverage.covered.values() for src in sources}
    assert "oecd-ddg" in vias
    inherited = [c for c, srcs in coverage.covered.items() if all(s.via for s in srcs)]
    assert inherited, "some cells come only through the OECD Guidance"


def test_coverage_as_of_a_date_follows_the_status_history(refiner, org):
    make_attestation(
        refiner,
        "rmi-rmap",
        org,
        timeline=[("verified", "2025-01-10"), ("suspended", "2025-09-01")],
    )
    assert company_coverage(refiner, PUBLIC, D("2025-01-09")).covered == {}
    assert company_coverage(refiner, PUBLIC, D("2025-06-30")).covered
    assert company_coverage(refiner, PUBLIC, D("2025-09-02")).covered == {}


def test_revoked_and_rejected_attestations_never_count(refiner, org):
    make_attestation(
        refiner, "irma", org, timeline=[("verified", "2024-02-01"), ("revoked", "2024-03-01")]
    )
    make_attestation(
        refiner,
        "rmi-rmap",
        org,
        timeline=[("under_review", "2024-02-01"), ("rejected", "2024-02-10")],
    )
    assert company_coverage(refiner, PUBLIC, D("2024-06-01")).covered == {}


def test_an_attestation_stops_counting_after_its_validity_ends(refiner, org):
    make_attestation(refiner, "irma", org, valid_until="2025-12-31")
    assert company_coverage(refiner, PUBLIC, D("2025-12-31")).covered
    assert company_coverage(refiner, PUBLIC, D("2026-01-01")).covered == {}


def test_expiry_job_marks_lapsed_attestations_expired_and_keeps_history(refiner, org):
    lapsed = make_attestation(refiner, "irma", org, valid_until="2025-12-31")
    current = make_attestation(refiner, "rmi-rmap", org, valid_until="2030-01-01")
    assert expire_attestations(D("2026-01-05")) == 1
    lapsed.refresh_from_db()
    current.refresh_from_db()
    assert lapsed.status == "expired"
    assert current.status == "verified"
    assert lapsed.status_changes.last().to_status == "expired"
    # Still verified on a date inside its validity.
    assert company_coverage(refiner, PUBLIC, D("2025-06-01")).covered


def test_self_declarations_are_shown_apart_as_declared(refiner, org):
    make_attestation(refiner, "oecd-ddg", org, type="self_declaration", timeline=[])
    coverage = company_coverage(refiner, PUBLIC, D("2025-01-01"))
    assert coverage.covered == {}
    assert "content.violent_conflict" in coverage.declared
    gap = next(g for g in coverage.gaps if g.element.key == "content.violent_conflict")
    assert gap.declared


def test_requesters_see_coverage_only_from_attestations_they_may_see(refiner, org):
    other = make_org("Other org")
    partner = make_org("Partner")
    make_attestation(refiner, "irma", org, visibility="private")
    make_attestation(refiner, "rmi-rmap", org, visibility="shared", shared_with=[partner])
    make_attestation(refiner, "lme-rsr", org, visibility="public")

    def standards_seen(user):
        requester = Requester.for_user(user)
        coverage = company_coverage(refiner, requester, D("2025-01-01"))
        return {a.standard.code for a in coverage.attestations}

    from django.contrib.auth.models import AnonymousUser

    assert standards_seen(AnonymousUser()) == {"lme-rsr"}
    assert standards_seen(make_user(other)) == {"lme-rsr"}
    assert standards_seen(make_user(partner, role="viewer")) == {"lme-rsr", "rmi-rmap"}
    assert standards_seen(make_user(org, role="viewer")) == {"lme-rsr", "rmi-rmap", "irma"}
    assert standards_seen(make_user(None, is_staff=True)) == {"lme-rsr", "rmi-rmap", "irma"}


def test_gaps_are_expected_minus_covered_with_standards_that_close_them(refiner, org):
    make_attestation(refiner, "rmi-rmap", org)
    coverage = company_coverage(refiner, PUBLIC, D("2025-01-01"))
    keys = {e.key for e in coverage.expected}
    assert "content.climate_change" in keys
    assert "application.refining" in keys  # own stage
    assert "application.mining" in keys  # refiners answer for their mines
    assert "implementation.industry.grievance_mechanism" in keys  # OECD step
    assert "default:enforcement" in keys  # at least one consequence
    gap_keys = {g.element.key for g in coverage.gaps}
    assert gap_keys == keys - set(coverage.satisfied)
    assert "content.climate_change" in gap_keys
    landscape = load_landscape()
    for gap in coverage.gaps:
        for code in gap.closing_standards:
            standard = landscape.by_code()[code]
            assert set(gap.element.cells) & landscape.covered(standard.id)
    closed = set().union(*(landscape.covered(s.id) for s in coverage.closing_standards))
    for gap in coverage.gaps:
        if gap.element.key not in coverage.unclosable:
            assert set(gap.element.cells) & closed


def test_a_company_with_nothing_has_every_expectation_as_a_gap_and_grade_none():
    company = make_company("Nothing Co", stages=("vehicle",))
    coverage = company_coverage(company, PUBLIC, D("2025-01-01"))
    assert coverage.satisfied == []
    assert len(coverage.gaps) == len(coverage.expected)
    assert coverage.grade.level == "none"


@pytest.mark.parametrize(
    ("breadth", "depth", "level"),
    [
        (0.95, 0.8, "platinum"),
        (0.95, 0.7, "gold"),
        (0.75, 0.5, "gold"),
        (0.74, 0.5, "silver"),
        (0.5, 0.25, "silver"),
        (0.5, 0.24, "basic"),
        (0.25, 0.0, "basic"),
        (0.24, 0.24, "none"),
    ],
)
def test_grade_levels_follow_the_written_rule(breadth, depth, level):
    assert grade_for(breadth, depth).level == level
    assert [lvl for lvl, *_ in GRADE_LEVELS] == ["platinum", "gold", "silver", "basic"]


def test_independent_verification_raises_depth_not_breadth(refiner, org):
    make_attestation(refiner, "rmi-rmap", org, type="membership")
    member = company_coverage(refiner, PUBLIC, D("2025-01-01")).grade
    other = make_company("Audited Refiner", stages=("refining",))
    make_attestation(other, "rmi-rmap", org, type="third_party_audit")
    audited = company_coverage(other, PUBLIC, D("2025-01-01")).grade
    assert member.breadth == audited.breadth > 0
    assert member.depth == 0 < audited.depth
