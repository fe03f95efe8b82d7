"""Pages people read: the matrix like Figure 2 and the heat-map comparison."""

import pytest

from taxonomy.models import Standard

pytestmark = pytest.mark.django_db


def test_home_page_links_to_the_standards(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"standards and regulations" in response.content


def test_standard_page_shows_its_matrix_with_the_basis_of_each_judgement(client):
    standard = Standard.objects.get(code="irma")
    response = client.get("/standards/irma/")
    html = response.content.decode()
    assert response.status_code == 200
    for dimension in (
        "Content",
        "Participants",
        "Implementation",
        "Application",
        "Scope",
        "Enforcement",
        "Sponsor",
        "Links",
    ):
        assert f"<h2>{dimension}" in html
    covered = standard.standard_cells.select_related("cell").first()
    assert covered.basis in html
    assert "<script" not in html


def test_standard_page_shows_inherited_cells_and_reverse_links(client):
    html = client.get("/standards/rmi-rmap/").content.decode()
    assert "via OECD" in html
    assert "Incorporated by" in client.get("/standards/oecd-ddg/").content.decode()


def test_unknown_standard_page_is_404(client):
    assert client.get("/standards/no-such/").status_code == 404


def test_compare_page_is_a_heat_map_of_all_standards_by_default(client):
    html = client.get("/standards/compare/").content.decode()
    for standard in Standard.objects.all():
        assert standard.short_name in html
    assert 'class="heat"' in html


def test_compare_page_with_a_selection_shows_overlaps(client):
    html = client.get("/standards/compare/?standards=oecd-ddg,rmi-rmap").content.decode()
    assert "Jaccard" in html


def test_compare_page_names_an_unknown_standard(client):
    response = client.get("/standards/compare/?standards=bogus")
    assert response.status_code == 400
    assert "bogus" in response.content.decode()


def test_standard_list_filters_and_shows_filter_errors(client):
    html = client.get("/standards/?kind=law_regulation").content.decode()
    assert "Dodd-Frank" in html
    assert "OECD DDG" not in html
    bad = client.get("/standards/?covers=content.bogus")
    assert "content.bogus" in bad.content.decode()


def test_landscape_gaps_page(client):
    assert client.get("/standards/gaps/").status_code == 200
