"""The main pages in a real browser: no serious accessibility violations (axe-core), and
each one renders and works with JavaScript turned off."""

from __future__ import annotations

import pytest

from .conftest import login, pick, serious_violations

# django_db: the test database is set up for the module and each test rolls back its own
# writes where it can (on SQLite the server shares the test's connection).
pytestmark = [pytest.mark.browser, pytest.mark.django_db]

# (name, path, who signs in): {...} is filled from the site's records.
MAIN_PAGES = [
    ("home", "/", None),
    ("standards list", "/standards/", None),
    ("a standard", "/standards/rmi-rmap/", None),
    ("compare", "/standards/compare/", None),
    ("landscape gaps", "/standards/gaps/", None),
    ("companies", "/companies/", None),
    ("a scorecard", "/companies/{supplier_pk}/", None),
    ("gap search", "/gaps/", None),
    ("gap search results", "/gaps/?cells=content.labor_rights&stage=refining", None),
    ("concentration", "/concentration/cobalt/", None),
    ("supply chain", "/companies/{maker_pk}/supply-chain/", None),
    ("a public passport", "/p/{passport_id}/", None),
    ("login", "/accounts/login/", None),
    ("password reset", "/accounts/password_reset/", None),
    ("workspace", "/workspace/", "officer"),
    ("attestation supplier step", "/attestations/new/", "officer"),
    ("attestation form", "/attestations/new/?company={supplier_pk}", "officer"),
    ("attestations", "/attestations/", "officer"),
    ("search", "/search/?q=cobalt", None),
    ("passports list", "/passports/", "officer"),
]


def _open(page, site, path: str, who: str | None):
    if who:
        login(page, site, getattr(site, who))
    return page.goto(site.at(path.format(**vars(site))))


@pytest.mark.parametrize("name,path,who", MAIN_PAGES, ids=[p[0] for p in MAIN_PAGES])
def test_main_page_has_no_serious_accessibility_violations(site, page, name, path, who):
    response = _open(page, site, path, who)
    assert response.ok, f"{name}: {response.status} at {page.url}"
    violations = serious_violations(page)
    assert not violations, f"{name} ({page.url}) has serious accessibility violations:\n" + (
        "\n".join(violations)
    )


@pytest.mark.parametrize("name,path,who", MAIN_PAGES, ids=[p[0] for p in MAIN_PAGES])
def test_main_page_renders_without_javascript(site, nojs_page, name, path, who):
    response = _open(nojs_page, site, path, who)
    assert response.ok, f"{name}: {response.status} at {nojs_page.url}"
    heading = nojs_page.get_by_role("heading", level=1)
    assert heading.count() >= 1 and heading.first.inner_text().strip(), f"{name}: no <h1>"
    # The site's navigation is plain links: a person can leave the page without scripts.
    assert nojs_page.get_by_role("link", name="Companies").first.is_visible()


def test_gap_search_submits_and_answers_without_javascript(site, nojs_page):
    nojs_page.goto(site.at("/gaps/"))
    pick(nojs_page.get_by_label("Cells"), r"labou?r rights")
    pick(nojs_page.get_by_label("Stage"), "refining")
    nojs_page.get_by_role("button", name="Search").click()
    nojs_page.wait_for_load_state()
    assert "cells=content.labor_rights" in nojs_page.url
    assert nojs_page.get_by_text("in scope").first.is_visible()
    lacking = nojs_page.get_by_role("heading", name="Companies lacking coverage")
    assert lacking.is_visible()


def test_login_form_names_the_problem_without_javascript(site, nojs_page):
    nojs_page.goto(site.at("/accounts/login/"))
    nojs_page.get_by_label("Username").fill(site.member)
    nojs_page.get_by_label("Password", exact=True).fill("not-the-password")
    nojs_page.get_by_role("button", name="Log in").click()
    nojs_page.wait_for_load_state()
    assert nojs_page.get_by_text("didn't match").is_visible()
