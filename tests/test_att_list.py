"""The attestation list page: what each may see, its filters, downloads, flat queries."""

import re

import pytest

from taxonomy.models import Mineral

from .factories import make_attestation, make_company, make_org, make_user

pytestmark = pytest.mark.django_db


def fill(n, owner, visibility="public"):
    for i in range(n):
        company = make_company(f"Listed Co {owner.pk}-{i}")
        attestation = make_attestation(
            company,
            "irma" if i % 2 else "rmi-rmap",
            owner,
            visibility=visibility,
            valid_until="2027-06-30",
        )
        attestation.minerals.set(Mineral.objects.filter(code__in=["cobalt", "lithium"]))


def test_the_list_shows_public_ones_to_all_and_private_ones_to_their_organisation(client):
    mine, theirs = make_org("Mine"), make_org("Theirs")
    own = make_attestation(make_company("Own Supplier"), "irma", mine, visibility="private")
    other = make_attestation(make_company("Their Supplier"), "irma", theirs, visibility="private")
    public = make_attestation(make_company("Open Supplier"), "irma", theirs, visibility="public")
    anonymous = client.get("/attestations/").content.decode()
    assert f"/attestations/{public.pk}/" in anonymous
    assert f"/attestations/{own.pk}/" not in anonymous
    client.force_login(make_user(mine, "viewer"))
    page = client.get("/attestations/").content.decode()
    assert f"/attestations/{own.pk}/" in page
    assert f"/attestations/{public.pk}/" in page
    assert f"/attestations/{other.pk}/" not in page


def test_filters_narrow_the_list_and_the_downloads_carry_them(client):
    org = make_org("Logger")
    a = make_attestation(make_company("Alpha Mining"), "irma", org, valid_until="2026-01-31")
    b = make_attestation(make_company("Beta Refining"), "rmi-rmap", org, valid_until="2030-01-31")
    page = client.get("/attestations/", {"standard": "irma"}).content.decode()
    assert f"/attestations/{a.pk}/" in page and f"/attestations/{b.pk}/" not in page
    page = client.get("/attestations/", {"valid_until_before": "2027-01-01"}).content.decode()
    assert f"/attestations/{a.pk}/" in page and f"/attestations/{b.pk}/" not in page
    page = client.get("/attestations/", {"company": b.company_id}).content.decode()
    assert f"/attestations/{b.pk}/" in page and f"/attestations/{a.pk}/" not in page
    assert (
        f"/api/registry/attestations/?company={b.company_id}&amp;format=csv" in page
        or f"/api/registry/attestations/?company={b.company_id}&format=csv" in page
    )
    csv = client.get(f"/api/registry/attestations/?company={b.company_id}&format=csv")
    assert csv.status_code == 200
    assert len(b"".join(csv.streaming_content).decode().strip().splitlines()) == 2


def test_a_company_is_found_by_part_of_its_name_not_picked_from_a_menu_of_all(client):
    org = make_org("Logger")
    a = make_attestation(make_company("Alpha Mining"), "irma", org)
    b = make_attestation(make_company("Beta Refining"), "irma", org)
    page = client.get("/attestations/", {"company_name": "refin"}).content.decode()
    assert f"/attestations/{b.pk}/" in page and f"/attestations/{a.pk}/" not in page
    assert "<option" not in page.split('name="company_name"')[0].split("<form")[-1]
    api = client.get("/api/registry/attestations/", {"company_name": "REFIN"}).json()
    assert [row["id"] for row in api["results"]] == [b.pk]
    chosen = client.get("/attestations/", {"company": a.company_id}).content.decode()
    assert "Company: <strong>Alpha Mining</strong>" in chosen


def test_a_bad_filter_is_a_400_naming_it_not_a_500(client):
    response = client.get("/attestations/", {"valid_until_before": "someday", "company": "x"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Enter a valid date" in html
    assert "cannot be used" in html


def test_the_list_is_paged_at_50(client):
    fill(55, make_org("Big"))
    first = client.get("/attestations/").content.decode()
    assert len(re.findall(r'href="/attestations/\d+/"', first)) == 50
    assert "page 1 of 2" in first


def test_the_lists_query_count_does_not_grow_with_the_data(client, django_assert_max_num_queries):
    org = make_org("Logger")
    user = make_user(org, "viewer")
    client.force_login(user)
    fill(5, org, "private")
    fill(5, make_org("Others"))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        assert client.get("/attestations/").status_code == 200
    fill(10, org, "private")
    fill(10, make_org("More others"))
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get("/attestations/").status_code == 200


def test_a_long_list_says_more_than_the_cap_rather_than_counting_every_row(client, monkeypatch):
    from config.pagination import CappedCountPaginator

    monkeypatch.setattr(CappedCountPaginator, "cap", 4)
    monkeypatch.setattr("registry.attestation_views.LIST_PAGE_SIZE", 2)
    fill(6, make_org("Big"))
    page = client.get("/attestations/").content.decode()
    assert "More than 4 attestations" in page
    assert "(more than 4 in all)" in page
    assert len(re.findall(r'href="/attestations/\d+/"', page)) == 2
