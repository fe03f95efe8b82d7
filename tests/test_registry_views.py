"""The scorecard and the gap search as people read them."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from .factories import make_attestation, make_company, make_org, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def refiner():
    org = make_org("Refiner compliance")
    company = make_company("Visible Refining Co", stages=("refining",))
    make_attestation(company, "rmi-rmap", org, visibility="public", reference="PUB-1")
    make_attestation(company, "irma", org, visibility="private", reference="PRIV-1")
    return company, org


def test_scorecard_shows_grade_grid_gaps_and_the_closing_set(client, refiner):
    company, _ = refiner
    html = client.get(f"/companies/{company.pk}/").content.decode()
    assert "Visible Refining Co" in html
    assert 'class="grade' in html
    assert "Coverage grid" in html
    assert "Smallest set of standards that closes every gap" in html
    assert "PUB-1" in html
    assert "PRIV-1" not in html  # private to the logging organisation


def test_scorecard_shows_private_attestations_to_the_logging_organisation(client, refiner):
    company, org = refiner
    client.force_login(make_user(org, "viewer"))
    assert "PRIV-1" in client.get(f"/companies/{company.pk}/").content.decode()


def test_scorecard_as_of_a_date_before_anything_was_verified(client, refiner):
    company, _ = refiner
    html = client.get(f"/companies/{company.pk}/?as_of=2023-01-01").content.decode()
    assert "None you may see on this date" in html
    assert client.get(f"/companies/{company.pk}/?as_of=notadate").status_code == 400


def test_scorecard_runs_a_fixed_number_of_queries(client, refiner):
    company, org = refiner

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"/companies/{company.pk}/").status_code == 200
        return len(ctx.captured_queries)

    before = count()
    for code in ("lme-rsr", "ci-ciraf", "oecd-ddg", "eu-battery-regulation", "eiti"):
        make_attestation(company, code, org, visibility="public")
    assert count() == before


def test_unknown_company_is_404(client):
    assert client.get("/companies/999999/").status_code == 404


def test_company_list_filters_by_stage(client, refiner):
    make_company("Some Automaker", stages=("vehicle",))
    html = client.get("/companies/?stage=vehicle").content.decode()
    assert "Some Automaker" in html
    assert "Visible Refining Co" not in html


def test_gap_search_page_lists_companies_lacking_a_cell(client, refiner):
    make_company("Unverified Refining Co", stages=("refining",))
    html = client.get(
        "/gaps/?cells=content.climate_change&stage=refining&independent=on"
    ).content.decode()
    assert "Unverified Refining Co" in html
    assert "2 companies in scope" in html


def test_gap_search_page_names_bad_input(client):
    response = client.get("/gaps/?cells=content.bogus")
    assert response.status_code == 400
    assert "content.bogus" in response.content.decode()
