"""A company's coverage: what counts, on which date, for whom; its gaps and grade."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry.coverage import coverage_map
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


def test_companies_without_a_counting_attestation_cost_one_query_and_no_taxonomy_read(refiner, org):
    """A large unattested graph (a trace's suppliers, say) is answered from the attestation
    query alone; the landscape and the facilities' stages are read once one counts."""
    others = [make_company(f"Unattested {i}") for i in range(3)]
    ids = [c.pk for c in others]
    with CaptureQueriesContext(connection) as ctx:
        empty = coverage_map(ids, requester=PUBLIC, on=D("2025-01-01"))
        assert empty.cells(others[0].pk) == set()
    assert len(ctx.captured_queries) == 1
    irma_id = make_attestation(refiner, "irma", org).standard_id
    with CaptureQueriesContext(connection) as landscape:
        irma = load_landscape(D("2025-01-01")).covered(irma_id)
    with CaptureQueriesContext(connection) as ctx:
        found = coverage_map([*ids, refiner.pk], requester=PUBLIC, on=D("2025-01-01"))
        cells = found.cells(refiner.pk)
    assert cells and cells == irma
    # The attestations, their facilities' stages, then the landscape's own queries.
    assert len(ctx.captured_queries) == 2 + len(landscape.captured_queries)


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


# --- Mineral and stage scope, the same through every caller (registry.coverage) -----

LABOR = "content.labor_rights"


@pytest.fixture
def scoped(org):
    """A refiner of cobalt and lithium that also mines, with one IRMA audit scoped to
    lithium, and one RMAP audit scoped to its mine; an automaker buying from it."""
    from decimal import Decimal

    from registry.models import Facility, SupplyRelationship
    from registry.reference import load_rules
    from taxonomy.models import Cell, Mineral

    load_rules()

    cobalt, lithium = Mineral.objects.get(code="cobalt"), Mineral.objects.get(code="lithium")
    refiner = make_company("Scoped Refiner", stages=("refining", "mining"))
    refinery = Facility.objects.create(
        company=refiner,
        name="Refinery",
        kind="smelter_refiner",
        country="CN",
        stage=Cell.objects.get(code="application.refining"),
    )
    refinery.minerals.set([cobalt, lithium])
    mine = Facility.objects.create(
        company=refiner,
        name="Mine",
        kind="mine",
        country="CD",
        stage=Cell.objects.get(code="application.mining"),
    )
    mine.minerals.set([cobalt])
    lithium_only = make_attestation(refiner, "irma", org)
    lithium_only.minerals.set([lithium])
    mine_only = make_attestation(refiner, "rmi-rmap", org)
    mine_only.facilities.set([mine])
    buyer = make_company("Scoped Automaker", stages=("vehicle",), country="DE")
    for mineral in (cobalt, lithium):
        SupplyRelationship.objects.create(
            supplier=refiner,
            buyer=buyer,
            mineral=mineral,
            stage=Cell.objects.get(code="application.refining"),
            material="refined_chemical",
            volume_t=Decimal("100"),
            supplier_facility=refinery,
        )
    return {"refiner": refiner, "buyer": buyer, "irma": lithium_only, "rmap": mine_only}


def answers(api, scoped, mineral, stage):
    """Whether the refiner covers labour rights, as each caller answers it."""
    refiner, buyer = scoped["refiner"], scoped["buyer"]
    scorecard = api.get(
        f"/api/registry/companies/{refiner.pk}/coverage/",
        {"mineral": mineral, "stage": stage, "as_of": "2025-06-01"},
    ).json()
    sector = api.get(
        "/api/registry/sector-gaps/",
        {"cells": LABOR, "mineral": mineral, "stage": stage, "as_of": "2025-06-01"},
    ).json()
    trace = api.get(
        f"/api/registry/companies/{buyer.pk}/supply-chain/",
        {"mineral": mineral, "cells": LABOR, "checked_on": "2025-06-01"},
    ).json()
    page = company_coverage(refiner, PUBLIC, D("2025-06-01"), mineral=mineral, stage=stage).covered
    return {
        "scorecard": LABOR in scorecard["covered"],
        "sector search": refiner.pk not in {row["company"] for row in sector["lacking"]},
        "supply trace": trace["trace"]["lacking_coverage_pct"][LABOR] == 0,
        "selector": LABOR in page,
    }


def test_an_attestation_scoped_to_lithium_does_not_cover_cobalt_for_any_caller(api, scoped):
    scoped["rmap"].delete()
    assert set(answers(api, scoped, "cobalt", "refining").values()) == {False}
    assert set(answers(api, scoped, "lithium", "refining").values()) == {True}


def test_an_attestation_scoped_to_the_mine_does_not_cover_the_refinery_for_any_caller(api, scoped):
    scoped["irma"].delete()
    assert set(answers(api, scoped, "cobalt", "refining").values()) == {False}
    coverage = company_coverage(scoped["refiner"], PUBLIC, D("2025-06-01"), stage="mining")
    assert LABOR in coverage.covered
    mining = api.get(
        "/api/registry/sector-gaps/",
        {"cells": LABOR, "stage": "mining", "as_of": "2025-06-01"},
    ).json()
    assert scoped["refiner"].pk not in {row["company"] for row in mining["lacking"]}


def test_every_caller_gives_the_same_answer_for_the_same_question(api, scoped):
    for mineral in ("cobalt", "lithium"):
        verdicts = answers(api, scoped, mineral, "refining")
        assert len(set(verdicts.values())) == 1, (mineral, verdicts)


def test_the_scorecard_page_asks_with_mineral_and_stage(client, scoped):
    url = f"/companies/{scoped['refiner'].pk}/?as_of=2025-06-01&mineral=cobalt&stage=refining"
    page = client.get(url)
    assert page.status_code == 200
    assert page.context["coverage"].covered.get(LABOR) is None
