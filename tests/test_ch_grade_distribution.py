"""The grade distribution of a sector: as many companies per grade as their scorecards
say, every company of the sector counted once, in a number of queries that does not
grow with the sector."""

import datetime as dt

import pytest

from registry.models import Company
from registry.querysets import Requester
from registry.selectors import (
    GRADE_ORDER,
    company_coverage,
    sector_companies,
    sector_grade_distribution,
)
from tests.factories import make_attestation, make_company, make_org

PUBLIC = Requester.anonymous()
ON = dt.date(2025, 6, 30)


def graded_one_by_one(stage, mineral):
    counts = dict.fromkeys(GRADE_ORDER, 0)
    for company in sector_companies(stage, mineral):
        company = Company.objects.prefetch_related("stages").get(pk=company.pk)
        counts[company_coverage(company, PUBLIC, ON, mineral=mineral, stage=stage).grade.level] += 1
    return counts


@pytest.mark.django_db
@pytest.mark.parametrize(
    "stage, mineral", [("refining", "cobalt"), ("mining", "cobalt"), (None, "lithium")]
)
def test_each_company_of_the_demo_sector_is_counted_under_its_scorecard_grade(
    demo_registry, stage, mineral
):
    distribution = sector_grade_distribution(
        requester=PUBLIC, stage=stage, mineral=mineral, as_of=ON
    )
    assert list(distribution) == ["platinum", "gold", "silver", "basic", "none"]
    assert sum(distribution.values()) == sector_companies(stage, mineral).count() > 0
    assert distribution == graded_one_by_one(stage, mineral)


def _refiners(n, org):
    for i in range(n):
        company = make_company(f"Refiner {i}", stages=("refining",))
        # half of them audited to RMAP, the rest with nothing: two grades at least
        if i % 2 == 0:
            make_attestation(company, "rmi-rmap", org)


@pytest.mark.django_db
def test_the_distribution_of_synthetic_refiners_matches_their_scorecards():
    org = make_org()
    _refiners(6, org)
    make_company("Not a refiner", stages=("mining",))
    distribution = sector_grade_distribution(requester=PUBLIC, stage="refining", as_of=ON)
    # (the demo registry of the tests above may still be loaded: this module's fixture)
    assert sum(distribution.values()) == sector_companies("refining").count() >= 6
    assert distribution == graded_one_by_one("refining", None)
    assert distribution["none"] >= 3


@pytest.mark.django_db
def test_grading_a_sector_twice_as_large_takes_no_more_queries(django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    org = make_org()
    _refiners(4, org)
    with CaptureQueriesContext(connection) as small:
        sector_grade_distribution(requester=PUBLIC, stage="refining", as_of=ON)
    before = sector_companies("refining").count()
    _refiners(before, org)  # the sector doubles
    with django_assert_max_num_queries(len(small)):
        distribution = sector_grade_distribution(requester=PUBLIC, stage="refining", as_of=ON)
    assert sum(distribution.values()) == 2 * before


@pytest.mark.django_db
def test_the_sector_search_answers_its_grade_distribution_on_the_page_and_the_api(
    client, demo_registry
):
    query = {"cells": "content.labor_rights", "stage": "refining", "mineral": "cobalt"}
    expected = sector_grade_distribution(requester=PUBLIC, stage="refining", mineral="cobalt")
    api = client.get("/api/registry/sector-gaps/", query).json()
    assert api["grades"] == expected
    page = client.get("/gaps/", query).content.decode()
    assert "Grades of the" in page
    # Without a stage or mineral there is no sector to grade.
    everyone = client.get("/api/registry/sector-gaps/", {"cells": "content.labor_rights"})
    assert everyone.json()["grades"] is None


@pytest.mark.django_db(transaction=True)
def test_a_sector_larger_than_the_grades_threshold_is_graded_by_a_job_and_kept(client, settings):
    from registry.models import KeptResult

    settings.KEPT_GRADES_INLINE_BELOW = 3  # graded inline below 3 companies
    _refiners(4, make_org())
    cells = {"cells": "content.labor_rights"}
    # every stage: no sector to grade, a small population, computed inline, nothing kept
    assert client.get("/api/registry/sector-gaps/", cells).json()["grades"] is None
    assert not KeptResult.objects.exists()
    sector = client.get("/api/registry/sector-gaps/", {**cells, "stage": "refining"})
    # without a broker the job runs at once: the answer comes from what it kept
    assert sector.status_code == 200
    assert sum(sector.json()["grades"].values()) == sector_companies("refining").count() >= 4
    assert KeptResult.objects.filter(kind="sector_gaps").count() == 1
    assert sector.json()["computed_at"]
