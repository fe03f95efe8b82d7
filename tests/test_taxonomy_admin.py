"""Data keepers edit a standard's cells as a grid in the admin."""

import re

import pytest

from taxonomy.models import Standard

pytestmark = pytest.mark.django_db


def test_standard_change_page_shows_the_matrix_grid_ticked(client, admin_user):
    client.force_login(admin_user)
    standard = Standard.objects.get(code="oecd-ddg")
    html = client.get(f"/admin/taxonomy/standard/{standard.pk}/change/").content.decode()
    assert 'class="matrix-grid"' in html
    assert re.search(r'value="content\.violent_conflict"[^>]*checked', html)
    assert not re.search(r'value="content\.reuse_recycling"[^>]*checked', html)


def test_ticking_and_unticking_cells_in_the_grid_updates_the_standard(client, admin_user):
    client.force_login(admin_user)
    standard = Standard.objects.create(
        code="grid-test",
        name="Grid test",
        short_name="GT",
        kind="industry_initiative",
        jurisdiction="INT",
        year=2024,
        binding=False,
    )
    url = f"/admin/taxonomy/standard/{standard.pk}/change/"
    form = {
        "code": "grid-test",
        "name": "Grid test",
        "short_name": "GT",
        "kind": "industry_initiative",
        "jurisdiction": "INT",
        "year": "2024",
        "url": "",
        "summary": "",
        "scope_note": "",
        "sources": "[]",
        "covers_industrial": "on",
        "covers_artisanal": "on",
        "matrix": ["content.human_rights", "application.mining", "scope.universal"],
        "standard_cells-TOTAL_FORMS": "0",
        "standard_cells-INITIAL_FORMS": "0",
        "links_out-TOTAL_FORMS": "0",
        "links_out-INITIAL_FORMS": "0",
    }
    response = client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert set(standard.standard_cells.values_list("cell__code", flat=True)) == {
        "content.human_rights",
        "application.mining",
        "scope.universal",
    }
    form["matrix"] = ["content.human_rights", "scope.universal"]
    form["standard_cells-TOTAL_FORMS"] = "0"
    client.post(url, form)
    assert set(standard.standard_cells.values_list("cell__code", flat=True)) == {
        "content.human_rights",
        "scope.universal",
    }


def test_the_grid_refuses_a_standard_without_exactly_one_scope(client, admin_user):
    client.force_login(admin_user)
    standard = Standard.objects.get(code="irma")
    response = client.post(
        f"/admin/taxonomy/standard/{standard.pk}/change/",
        {"code": "irma", "matrix": ["scope.universal", "scope.limited"]},
    )
    assert response.status_code == 200
    assert "exactly one scope cell" in response.content.decode()


def test_standard_list_in_admin_searches(client, admin_user):
    client.force_login(admin_user)
    html = client.get("/admin/taxonomy/standard/?q=cobalt").content.decode()
    assert "CIRAF" in html or "Cobalt" in html
