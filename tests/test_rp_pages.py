"""Pages a researcher reads: names, not codes; pickers grouped by dimension; links
between a company's scorecard, supply chain, concentration and passports; every number
says of what."""

import re

import pytest

from registry.models import SupplyRelationship
from registry.reference import load_rules
from taxonomy.models import Cell, Mineral

from .factories import make_attestation, make_company, make_org

pytestmark = pytest.mark.django_db


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def visible(html: str) -> str:
    """What a reader sees: tags and their attributes (title="code") dropped."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture(autouse=True)
def rules():
    load_rules()  # the HHI bands and the rule checks the supply-chain page applies


@pytest.fixture
def chain(world):
    """A refiner supplying cobalt to the cell maker, whose battery has a passport."""
    org = make_org("Auditors")
    refiner = make_company("Readable Refining", stages=("refining",), country="CN")
    make_attestation(refiner, "rmi-rmap", org)
    flow = SupplyRelationship.objects.create(
        supplier=refiner,
        buyer=world.manufacturer,
        mineral=Mineral.objects.get(code="cobalt"),
        material="refined_chemical",
        share_pct=100,
        stage=Cell.objects.get(code="application.refining"),
    )
    passport = world.passport()
    passport.battery_model.supply_relationships.add(flow)
    return refiner, world.manufacturer, passport


# --- Names, not codes ------------------------------------------------------------


def test_gap_search_names_cells_not_codes(client, chain):
    html = text(client.get("/gaps/?cells=content.labor_rights&stage=refining&mineral=cobalt"))
    seen = visible(html)
    assert "Labour rights" in seen or "Labor rights" in seen
    assert "content.labor_rights" not in seen  # only in a title attribute
    assert 'title="content.labor_rights"' in html


def test_scorecard_names_closing_standards_and_statuses(client, chain):
    refiner, _, _ = chain
    html = text(client.get(f"/companies/{refiner.pk}/"))
    seen = visible(html)
    # a gap's closing standards by their name, with the acronym
    assert "IRMA Standard for Responsible Mining" in seen
    assert not re.search(r">irma<", html)
    assert "Verified" in seen and " verified " not in seen.split("Attestations counted")[1][:400]


def test_supply_chain_names_the_cell_and_the_stage(client, chain):
    _, maker, _ = chain
    html = text(client.get(f"/companies/{maker.pk}/supply-chain/?mineral=cobalt"))
    seen = visible(html)
    assert "Lacking verified Content / Labour rights" in seen or "Lacking verified" in seen
    assert "content.labor_rights" not in seen
    assert "Refining and processing" in seen


def test_landscape_gaps_are_grouped_by_dimension_by_name(client):
    html = text(client.get("/standards/gaps/"))
    for heading in re.findall(r"<h2>(.*?)</h2>", html):
        assert "." not in heading and "_" not in heading
    links = re.findall(r'href="/gaps/\?cells=([^"]+)"', html)
    assert links  # each uncovered cell opens the gap search for it


# --- Pickers -----------------------------------------------------------------------


def test_gap_search_cells_picker_is_grouped_by_dimension_with_a_label(client):
    html = text(client.get("/gaps/"))
    assert '<label for="id_cells">' in html
    groups = re.findall(r'<optgroup label="([^"]+)">', html)
    assert "Content" in groups and "Application" in groups
    assert not any("." in g for g in groups)
    assert re.search(r'<option value="content.labor_rights"[^>]*>Labou?r rights</option>', html)
    # stage and mineral by name
    assert '<option value="refining">Refining and processing</option>' in html
    assert '<option value="cobalt">Cobalt</option>' in html


def test_comparison_picks_standards_by_name_grouped_by_kind(client):
    html = text(client.get("/standards/compare/?standards=rmi-rmap,irma"))
    assert '<label for="standards">' in html
    assert re.search(r'<optgroup label="[A-Z][^"]*">', html)
    assert re.search(
        r'<option value="irma" selected>IRMA \(IRMA Standard for Responsible Mining', html
    )


# --- "[invalid name]" ----------------------------------------------------------------


def test_standard_filters_have_real_labels(client):
    html = text(client.get("/standards/"))
    assert "[invalid name]" not in html
    assert '">In force on</label>' in html
    assert '">Status</label>' in html


def test_no_filter_of_any_list_is_labelled_invalid_name():
    from django_filters import FilterSet

    import api.urls  # noqa: F401  (every FilterSet the API uses, imported)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    checked = 0
    for filterset in subclasses(FilterSet):
        if filterset._meta.model is None:
            continue
        form = filterset(queryset=filterset._meta.model.objects.none()).form
        for name, field in form.fields.items():
            assert "[invalid name]" not in str(field.label), (filterset.__name__, name)
            checked += 1
    assert checked > 50


def test_openapi_schema_and_browsable_filter_forms_say_no_invalid_name(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"[invalid name]" not in schema.content
    for url in ("/api/taxonomy/standards/", "/api/registry/companies/"):
        page = client.get(url, HTTP_ACCEPT="text/html")
        assert b"[invalid name]" not in page.content, url


# --- Links between the four pages -----------------------------------------------


def test_scorecard_links_supply_chain_concentration_passports_and_report(client, chain):
    _, maker, passport = chain
    html = text(client.get(f"/companies/{maker.pk}/"))
    assert f'href="/companies/{maker.pk}/supply-chain/?mineral=cobalt"' in html
    assert 'href="/concentration/cobalt/"' in html
    assert f'href="/p/{passport.internal_id}/"' in html
    assert f'href="/companies/{maker.pk}/report/"' in html


def test_a_suppliers_scorecard_links_the_passports_it_is_part_of(client, chain):
    refiner, _, passport = chain
    html = text(client.get(f"/companies/{refiner.pk}/"))
    assert f'href="/p/{passport.internal_id}/"' in html


def test_supply_chain_links_back_and_to_a_prefilled_gap_search(client, chain):
    _, maker, passport = chain
    html = text(client.get(f"/companies/{maker.pk}/supply-chain/?mineral=cobalt"))
    assert f'href="/companies/{maker.pk}/"' in html
    assert 'href="/concentration/cobalt/"' in html
    assert f'href="/p/{passport.internal_id}/"' in html
    gaps = re.search(r'href="/gaps/\?([^"]+)"', html).group(1)
    assert (
        "stage=cell" in gaps and "mineral=cobalt" in gaps and "cells=content.labor_rights" in gaps
    )


def test_gap_search_links_each_company_to_its_scorecard(client, chain):
    unchecked = make_company("Unchecked Refining", stages=("refining",), country="CN")
    html = text(client.get("/gaps/?cells=content.labor_rights&stage=refining"))
    assert f'<a href="/companies/{unchecked.pk}/">Unchecked Refining</a>' in html


def test_concentration_links_the_companies_of_its_mineral(client):
    html = text(client.get("/concentration/cobalt/"))
    assert 'href="/companies/?mineral=cobalt"' in html


# --- Definitions: every percentage says of what ------------------------------------


def test_gap_search_shares_say_of_which_companies(client, chain):
    html = text(client.get("/gaps/?cells=content.labor_rights&stage=refining&country=CN"))
    seen = visible(html)
    assert re.search(r"\d+% of 1 refining and processing companies in China", seen)
    assert "valid on" in seen and "in force" in seen


def test_supply_chain_lacking_share_says_of_what_and_why(client, chain):
    _, maker, _ = chain
    seen = visible(text(client.get(f"/companies/{maker.pk}/supply-chain/?mineral=cobalt")))
    figure = re.search(r"Lacking verified [^:]+: [\d.]+% of its supply comes through", seen)
    assert figure
    assert "of Cell Maker AG's cobalt supply" in seen
    assert "nobody has checked" in seen


def test_scorecard_breadth_and_depth_say_of_how_many_items(client, chain):
    refiner, _, _ = chain
    seen = visible(text(client.get(f"/companies/{refiner.pk}/")))
    assert re.search(r"Breadth \d+% of the \d+ items expected", seen)
    assert re.search(r"depth \d+% of the same \d+ items", seen)


def test_concentration_defines_hhi_and_share(client):
    seen = visible(text(client.get("/concentration/cobalt/")))
    assert "sum of the squared percentage shares" in seen


def test_standard_list_shows_status_names(client):
    seen = visible(text(client.get("/standards/")))
    assert "In force" in seen or "Adopted" in seen or "Proposed" in seen
    assert "in_force" not in seen
