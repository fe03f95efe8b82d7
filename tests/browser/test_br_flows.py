"""What members and researchers do, in a real browser: sign in and out, reset a forgotten
password by email, search a sector's gaps with the pickers, download the companies list
and find in the files the rows the page shows, see the charts of a scorecard and of a
concentration page."""

from __future__ import annotations

import csv
import io
import re

import openpyxl
import pytest
from django.core import mail

from .conftest import FORGETFUL_EMAIL, PASSWORD, login, logout, path_of, pick, screenshot

# django_db: the test database is set up for the module (see test_br_pages).
pytestmark = [pytest.mark.browser, pytest.mark.django_db]


def test_member_signs_in_and_out(site, page):
    login(page, site, site.member)
    assert page.get_by_role("button", name=f"Log out {site.member}").is_visible()
    logout(page)
    assert page.get_by_role("link", name="Log in").is_visible()
    assert not page.get_by_role("button", name=re.compile("Log out")).count()


def _tab_to(page, element_id: str, limit: int = 60) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"#{element_id} is not reachable with the Tab key")


def test_member_signs_in_with_the_keyboard_alone(site, page):
    page.goto(site.at("/accounts/login/"))
    username_id = page.get_by_label("Username").get_attribute("id")
    password_id = page.get_by_label("Password", exact=True).get_attribute("id")
    _tab_to(page, username_id)
    page.keyboard.type(site.member)
    _tab_to(page, password_id, limit=3)
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("button", name=f"Log out {site.member}").is_visible()


def test_forgotten_password_is_reset_by_the_emailed_link(site, page):
    # br_forgetful, of the site fixture: the new password changes no one else's login.
    mail.outbox.clear()
    page.goto(site.at("/accounts/login/"))
    page.get_by_role("link", name="Forgotten your password?").click()
    page.get_by_label("Email").fill(FORGETFUL_EMAIL)
    page.get_by_role("button", name="Send the link").click()
    page.wait_for_load_state()
    assert len(mail.outbox) == 1, "no reset email was sent"
    message = mail.outbox[0]
    assert message.to == [FORGETFUL_EMAIL]
    link = re.search(r"https?://\S+/accounts/reset/\S+", message.body)
    assert link, f"no reset link in the email:\n{message.body}"

    page.goto(site.at(path_of(link.group(0))))
    page.get_by_label("New password").fill("a-new-password-42")
    page.get_by_label("Again").fill("a-new-password-42")
    page.get_by_role("button", name="Set password").click()
    page.wait_for_load_state()

    login(page, site, "br_forgetful", PASSWORD)
    assert page.get_by_text("didn't match").is_visible(), "the old password still works"
    login(page, site, "br_forgetful", "a-new-password-42")
    assert page.get_by_role("button", name="Log out br_forgetful").is_visible()


def test_ngo_finds_refiners_lacking_labour_rights_with_the_pickers(site, page):
    page.goto(site.at("/gaps/"))
    pick(page.get_by_label("Cells"), r"labou?r rights")
    pick(page.get_by_label("Stage"), "refining")
    pick(page.get_by_label("Mineral"), "cobalt")
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state()

    assert page.get_by_role("heading", name=re.compile(r"in scope")).is_visible()
    # The figures name the cell, not its code.
    figures = page.locator("table").first.inner_text()
    assert re.search(r"labou?r rights", figures, re.IGNORECASE), figures
    assert "content.labor_rights" not in figures
    lacking = page.get_by_role("heading", name=re.compile("Companies lacking coverage"))
    count = int(re.search(r"(\d+)\s*$", lacking.inner_text()).group(1))
    names = page.locator("table").last.locator("tbody tr td:first-child a").all_inner_texts()
    if not names:  # tables without <tbody> in the markup get one from the browser
        names = page.locator("table").last.locator("tr td:first-child a").all_inner_texts()
    assert count > 0 and len(names) == min(count, 50)
    # Company names, as people know them, each linked to its scorecard.
    assert all(name.strip() and not name.strip().isdigit() for name in names)
    page.get_by_role("link", name=names[0]).first.click()
    page.wait_for_load_state()
    assert names[0] in page.get_by_role("heading", level=1).inner_text()


def _company_names_shown(page) -> list[str]:
    return [
        name.strip()
        for name in page.locator("table tbody tr td:first-child a").all_inner_texts()
        if name.strip()
    ]


def _download(page, link_name: str, tmp_path):
    with page.expect_download() as info:
        page.get_by_role("link", name=link_name, exact=True).first.click()
    download = info.value
    assert download.failure() is None, download.failure()
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    return path


def test_companies_download_as_csv_and_xlsx_holding_the_rows_shown(site, page, tmp_path):
    page.goto(site.at("/companies/"))
    pick(page.get_by_label("Stage"), "refining")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state()
    shown = _company_names_shown(page)
    assert shown, "no refiners shown"
    assert not page.get_by_role("link", name=re.compile("next", re.I)).count(), (
        "the refiners fill more than one page: the comparison needs one"
    )

    csv_path = _download(page, "CSV", tmp_path)
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8-sig"))))
    assert "legal_name" in rows[0], f"CSV columns: {list(rows[0])}"
    assert [row["legal_name"] for row in rows] == shown

    xlsx_path = _download(page, "XLSX", tmp_path)
    sheet = openpyxl.load_workbook(xlsx_path, read_only=True).worksheets[0]
    table = [list(row) for row in sheet.iter_rows(values_only=True)]
    column = table[0].index("legal_name")
    assert [row[column] for row in table[1:] if any(row)] == shown


def test_scorecard_shows_its_coverage_chart_beside_its_table(site, page):
    page.goto(site.at(f"/companies/{site.supplier_pk}/"))
    assert site.supplier_name in page.get_by_role("heading", level=1).inner_text()
    assert page.get_by_role("heading", name="Coverage grid").is_visible()
    chart = page.get_by_role("img", name=re.compile(r"covers each dimension"))
    assert chart.is_visible()
    table = page.locator("#coverage-heat-map-table")
    assert table.is_visible()
    # beside it, not below: the chart and its table share a row on a desktop screen
    assert abs(chart.bounding_box()["y"] - table.bounding_box()["y"]) < 200
    chart.scroll_into_view_if_needed()
    screenshot(page, "scorecard")


def test_landscape_gaps_shows_the_coverage_chart_beside_its_table(site, page):
    page.goto(site.at("/standards/gaps/"))
    chart = page.locator("main svg").first
    assert chart.is_visible(), "the landscape gaps page draws no chart"
    assert page.get_by_role("table").count() >= 1
    screenshot(page, "landscape_gaps")


def test_concentration_page_shows_its_charts_and_tables(site, page):
    page.goto(site.at("/concentration/cobalt/"))
    charts = page.locator("main svg")
    assert charts.count() >= 2, "the concentration page draws fewer than two charts"
    assert charts.first.is_visible()
    assert page.get_by_text("HHI").first.is_visible()
    assert page.get_by_role("table").count() >= 1, "a table belongs beside each chart"
    screenshot(page, "concentration")


def test_signed_in_member_keeps_their_session_across_pages(site, page):
    login(page, site, site.member, PASSWORD)
    page.get_by_role("link", name="Companies").first.click()
    page.wait_for_load_state()
    assert page.get_by_role("button", name=f"Log out {site.member}").is_visible()
