"""The companies list as a researcher filters it: by name, country, stage, mineral and
grade, chosen by name; its downloads carry the same filters; its queries stay flat."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry import selectors
from registry.models import Company, Facility
from registry.querysets import Requester
from taxonomy.models import Cell, Mineral

from .factories import make_attestation, make_company, make_org

pytestmark = pytest.mark.django_db


def with_facility(company, mineral, stage="refining"):
    facility = Facility.objects.create(
        company=company,
        name=f"{company.legal_name} plant",
        kind="smelter_refiner" if stage == "refining" else "mine",
        country=company.country,
        stage=Cell.objects.get(code=f"application.{stage}"),
    )
    facility.minerals.set([Mineral.objects.get(code=mineral)])
    return company


@pytest.fixture
def companies():
    org = make_org("Auditors")
    graded = make_company("Graded Cobalt Refining", stages=("refining",), country="CN")
    for code in ("rmi-rmap", "irma", "oecd-ddg", "lme-rsr", "eu-battery-regulation"):
        make_attestation(graded, code, org)
    with_facility(graded, "cobalt")
    with_facility(
        make_company("Lithium Refining Chile", stages=("refining",), country="CL"), "lithium"
    )
    with_facility(
        make_company("Congo Cobalt Mining", stages=("mining",), country="CD"),
        "cobalt",
        stage="mining",
    )
    return graded


def names(response) -> list[str]:
    html = response.content.decode()
    return re.findall(r'<tr class="company-row">.*?<strong>(.*?)</strong>', html, re.S)


def test_filters_are_named_selects_with_labels(client, companies):
    html = client.get("/companies/").content.decode()
    for name in ("search", "country", "stage", "mineral", "grade"):
        assert f'<label for="id_{name}">' in html
    assert re.search(r'<option value="CD">[^<]*Congo[^<]*</option>', html)
    assert '<option value="cobalt">Cobalt</option>' in html
    assert '<option value="refining">Refining and processing</option>' in html
    assert '<option value="gold">Gold</option>' in html


def test_country_filter_narrows_to_the_country(client, companies):
    assert names(client.get("/companies/?country=CL")) == ["Lithium Refining Chile"]


def test_stage_filter_narrows_to_the_stage(client, companies):
    assert names(client.get("/companies/?stage=mining")) == ["Congo Cobalt Mining"]


def test_mineral_filter_narrows_to_companies_handling_it(client, companies):
    assert names(client.get("/companies/?mineral=cobalt")) == [
        "Congo Cobalt Mining",
        "Graded Cobalt Refining",
    ]


def test_search_finds_by_name(client, companies):
    assert names(client.get("/companies/?search=chile")) == ["Lithium Refining Chile"]


def test_grade_filter_keeps_the_companies_of_that_grade(client, companies):
    grade = selectors.company_coverage(companies, Requester.anonymous()).grade.level
    assert grade != "none"  # the fixture's attestations earn a grade
    assert names(client.get(f"/companies/?grade={grade}")) == ["Graded Cobalt Refining"]
    assert "Graded Cobalt Refining" not in names(client.get("/companies/?grade=none"))
    assert set(names(client.get("/companies/?grade=none"))) == {
        "Lithium Refining Chile",
        "Congo Cobalt Mining",
    }


def test_grade_column_agrees_with_the_scorecard(client, companies):
    grade = selectors.company_coverage(companies, Requester.anonymous()).grade.level
    html = client.get("/companies/?search=Graded").content.decode()
    assert f'<span class="grade {grade}">{grade.capitalize()}</span>' in html


def test_grade_filter_over_too_many_companies_says_to_narrow_first(client, companies, monkeypatch):
    monkeypatch.setattr(selectors, "GRADE_FILTER_LIMIT", 2)
    response = client.get("/companies/?grade=gold")
    assert response.status_code == 400
    assert "narrow the list to at most 2 companies first" in response.content.decode()
    assert names(client.get("/companies/?grade=none&country=CL")) == ["Lithium Refining Chile"]


def test_unknown_filter_value_is_a_400_naming_the_field(client, companies):
    response = client.get("/companies/?stage=moon")
    assert response.status_code == 400
    assert 'id="stage-error"' in response.content.decode()


def test_download_links_carry_the_filters(client, companies):
    html = client.get("/companies/?country=CD&stage=mining&mineral=cobalt&grade=none").content
    links = re.findall(r'href="(/api/registry/companies/\?[^"]+)"', html.decode())
    assert links
    for link in links:
        for part in ("country=CD", "stage=mining", "mineral=cobalt", "grade=none"):
            assert part in link


def test_api_download_filters_by_grade_like_the_page(client, companies):
    response = client.get("/api/registry/companies/?grade=none&format=csv")
    rows = b"".join(response.streaming_content).decode()
    assert "Lithium Refining Chile" in rows
    assert "Graded Cobalt Refining" not in rows


def test_filtered_list_runs_a_fixed_number_of_queries(client, companies):
    url = "/companies/?mineral=cobalt&grade=none&search=co"

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    before = count()
    org = make_org("More")
    for n in range(6):
        company = with_facility(
            make_company(f"Cobalt Co {n}", stages=("refining", "mining"), country="CD"), "cobalt"
        )
        make_attestation(company, "rmi-rmap", org)
    assert Company.objects.count() == 9
    assert count() == before
