"""An automaker's compliance officer logs a supplier's attestation with a PDF, a reviewer of
the same organisation verifies it, and the supplier's scorecard closes a gap: end to end,
in a real browser, as the people would do it."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from .conftest import TIMEOUT_MS, login, logout, screenshot

# django_db: the test database is set up for the module (see test_br_pages).
pytestmark = [pytest.mark.browser, pytest.mark.django_db]


def minimal_pdf() -> bytes:
    """A one-page PDF with a valid cross-reference table, written here."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _gap_count(page) -> int:
    heading = page.get_by_role("heading", name=re.compile(r"^Gaps \(\d+\)"))
    return int(re.search(r"\((\d+)\)", heading.inner_text()).group(1))


def test_officer_logs_an_attestation_a_reviewer_verifies_it_and_the_scorecard_changes(
    site, browser, live, tmp_path
):
    officer = browser.new_context(viewport={"width": 1280, "height": 900})
    reviewer = browser.new_context(viewport={"width": 1280, "height": 900})
    for context in (officer, reviewer):
        context.set_default_timeout(TIMEOUT_MS)
    try:
        # The supplier's gaps before, as the reviewer's organisation sees them, and a
        # standard that would close the first of them.
        review = reviewer.new_page()
        login(review, site, site.reviewer)
        review.goto(site.at(f"/companies/{site.supplier_pk}/"))
        gaps_before = _gap_count(review)
        assert gaps_before > 0, "the supplier has no gap to close"
        closing = review.locator("table td a[href^='/standards/']").first
        standard_code = closing.get_attribute("href").strip("/").split("/")[-1]

        page = officer.new_page()
        # The officer signs in and lands on their workspace.
        login(page, site, site.officer)
        assert "/workspace/" in page.url, f"signed in, the officer is at {page.url}"
        assert page.get_by_role("heading", level=1).inner_text().startswith("My workspace")
        screenshot(page, "officer_home")

        # Log an attestation: find the supplier, then fill the form with a PDF.
        page.get_by_role("link", name="Attestations", exact=True).click()
        page.wait_for_load_state()
        page.get_by_role("link", name="Log an attestation", exact=True).click()
        page.wait_for_load_state()
        page.get_by_label("Supplier").fill(site.supplier_name.split()[0])
        page.get_by_role("button", name=re.compile("Find supplier", re.I)).click()
        page.get_by_role("link", name=site.supplier_name).click()
        page.wait_for_load_state()

        today = dt.date.today()
        page.get_by_label("Standard", exact=True).select_option(value=standard_code)
        page.get_by_label("Type", exact=True).select_option(label="Third-party audit")
        page.get_by_label("Valid from").fill((today - dt.timedelta(days=30)).isoformat())
        page.get_by_label("Valid until").fill((today + dt.timedelta(days=365)).isoformat())
        pdf = tmp_path / "audit-report.pdf"
        pdf.write_bytes(minimal_pdf())
        page.get_by_label("Evidence file").set_input_files(str(pdf))
        screenshot(page, "attestation_form")
        page.get_by_role("button", name="Log attestation").click()
        page.wait_for_load_state()
        assert re.search(r"/attestations/\d+/$", page.url), (
            f"not logged ({page.url}): "
            + " | ".join(page.locator(".error, [role=alert]").all_inner_texts())
        )
        attestation_url = page.url
        assert page.get_by_text("Submitted", exact=True).first.is_visible()
        assert page.get_by_text("audit-report.pdf").first.is_visible(), "the PDF is not listed"
        # The one who logged it cannot verify it.
        assert not page.get_by_role("button", name="Verify").count()
        logout(page)

        # A reviewer of the organisation starts the review and verifies it.
        page = review
        page.goto(attestation_url)
        page.get_by_role("button", name="Start review").click()
        page.wait_for_load_state()
        assert page.get_by_text("Under review", exact=True).first.is_visible()
        page.get_by_role("button", name="Verify").click()
        page.wait_for_load_state()
        assert page.get_by_text("Verified", exact=True).first.is_visible()

        # The supplier's scorecard, as the organisation sees it, has one gap fewer.
        page.get_by_role("link", name=site.supplier_name).first.click()
        page.wait_for_load_state()
        assert _gap_count(page) < gaps_before
    finally:
        officer.close()
        reviewer.close()
