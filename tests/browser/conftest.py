"""Fixtures for the browser tests: a live server over the demo registry, headless Chromium
(Debian's, never a downloaded one), pages with and without JavaScript, a login helper,
screenshots and an axe-core check.

The server is started once per module over the demo registry (committed, as `make run`
loads it), not per test: pytest-django's `live_server` fixture would make every test
transactional, which empties the tables after each test and would mean loading the demo
registry again for each one. The module's end removes it (`demo_registry`).

Tests are marked `django_db`: each runs in a transaction rolled back after it. On SQLite
(in memory) the server answers through that same connection, so what a test's clicks
write is rolled back too; on PostgreSQL the server's own connections commit, and rows a
test needs the server to see must be made here, in the module's set-up."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# The network is closed: without these Chromium keeps trying to reach Google's services.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
PASSWORD = "pw-browser-123"
# Generous: a loaded CI machine (two workers, PostgreSQL) can take many seconds for a page.
TIMEOUT_MS = 60_000
FORGETFUL_EMAIL = "forgetful@example.org"


def chromium_path() -> str:
    """Chromium's executable: skipped without it locally, a failure under CI=true (where
    .ci/run installs it)."""
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    if "CHROMIUM" not in os.environ and shutil.which("chromium"):
        return shutil.which("chromium")
    message = (
        f"Chromium is not installed ({CHROMIUM} missing): apt-get install -y "
        "--no-install-recommends chromium, or set CHROMIUM to its path"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true: {message}")
    pytest.skip(message)


@dataclass
class Site:
    """The live server and the people and records the tests use."""

    url: str
    officer: str  # compliance officer of an automaker (BMW Group)
    reviewer: str  # reviewer of the same organisation
    member: str  # an NGO member, for signing in and out
    maker_pk: int
    supplier_pk: int  # a supplier of the maker with a gap a standard closes
    supplier_name: str
    passport_id: str  # a published passport's internal id (its public page /p/<id>/)
    server: object = None  # pytest_django.live_server_helper.LiveServer

    def at(self, path: str) -> str:
        return self.url + path


def _people_and_records() -> dict:
    from django.contrib.auth import get_user_model

    from passports.models import BatteryPassport, Lifecycle
    from registry.models import Membership, Organisation

    User = get_user_model()  # noqa: N806
    maker_org = Organisation.objects.get(name="BMW Group compliance")
    ngo = Organisation.objects.create(name="Browser Test Watch", kind="ngo")
    people = {
        "officer": (maker_org, Membership.Role.COMPLIANCE_OFFICER),
        "reviewer": (maker_org, Membership.Role.REVIEWER),
        "member": (ngo, Membership.Role.COMPLIANCE_OFFICER),
    }
    names = {}
    # Committed here, not in a test: on PostgreSQL the server would not see a test's
    # uncommitted rows. Only the password reset uses this one.
    User.objects.create_user("br_forgetful", email=FORGETFUL_EMAIL, password=PASSWORD)
    for key, (org, role) in people.items():
        username = f"br_{key}"
        user = User.objects.create_user(
            username, email=f"{username}@example.org", password=PASSWORD
        )
        Membership.objects.create(user=user, organisation=org, role=role)
        names[key] = username
    supplier = _supplier_with_a_closable_gap(
        maker_org.company, User.objects.get(username="br_reviewer")
    )
    return {
        **names,
        "maker_pk": maker_org.company_id,
        "supplier_pk": supplier.pk,
        "supplier_name": supplier.legal_name,
        "passport_id": BatteryPassport.objects.filter(lifecycle=Lifecycle.PUBLISHED)
        .order_by("pk")
        .values_list("internal_id", flat=True)
        .first(),
    }


def _supplier_with_a_closable_gap(maker, reviewer):
    """A direct supplier of the maker with a gap some standard closes, as the maker's
    reviewer sees it (the officer flow closes it)."""
    from registry.models import Company
    from registry.querysets import Requester
    from registry.selectors import company_coverage

    requester = Requester.for_user(reviewer)
    suppliers = Company.objects.filter(supplies__buyer=maker).distinct().order_by("legal_name")
    for company in suppliers:
        coverage = company_coverage(company, requester)
        if any(gap.closing_standards for gap in coverage.gaps):
            return company
    raise AssertionError(f"no supplier of {maker} has a gap a standard closes")


@pytest.fixture(scope="module")
def chromium_executable() -> str:
    return chromium_path()


# chromium_executable first: without Chromium, skip before the demo registry is loaded.
@pytest.fixture(scope="module")
def site(chromium_executable, demo_registry, django_db_blocker):
    """A live server over the demo registry, with three people (password PASSWORD).

    Database access stays open for the module: the server's threads read and write
    through it (on SQLite the in-memory connection is shared with them)."""
    from pytest_django.live_server_helper import LiveServer

    with django_db_blocker.unblock():
        records = _people_and_records()
        server = LiveServer("localhost")
        server._live_server_modified_settings.enable()
        try:
            yield Site(url=server.url, server=server, **records)
        finally:
            server._live_server_modified_settings.disable()
            server.stop()


@pytest.fixture(scope="module")
def browser(chromium_executable):
    """One headless Chromium per module (starting it takes about a second)."""
    executable = chromium_executable
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; Django's guard against
    # database calls from async code would refuse the test's own (synchronous) queries.
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture
def live(site):
    """The server answers through the test's own database connection on SQLite (in
    memory): the test's set-up gives the test thread a connection of its own, and a
    second connection to the shared in-memory database would find its tables locked."""
    from django.db import connections

    override = site.server.thread.connections_override  # read by every request thread
    for conn in connections.all():
        if (
            conn.vendor == "sqlite"
            and conn.is_in_memory_db()
            and override.get(conn.alias) is not conn
        ):
            # Left shared after the test: a request thread may still close it afterwards.
            conn.inc_thread_sharing()
            override[conn.alias] = conn
    return site


@pytest.fixture
def page(browser, live):
    """A fresh page (own cookies) with JavaScript on."""
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


@pytest.fixture
def nojs_page(browser, live):
    """A fresh page with JavaScript off: every page must work without it."""
    context = browser.new_context(java_script_enabled=False, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


def login(page, site: Site, username: str, password: str = PASSWORD) -> None:
    """Sign in through the login form, by its labels, as a person would."""
    page.goto(site.at("/accounts/login/"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def logout(page) -> None:
    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state()


def screenshot(page, name: str) -> Path:
    """A full-page PNG at var/screenshots/<name>.png (git-ignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000, f"{path} is empty"
    return path


def path_of(url: str) -> str:
    """The path and query of a link (mails point at PUBLIC_BASE_URL, not the live server)."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


SERIOUS = ("serious", "critical")


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical violations on the page, one line per rule:
    id, impact, what it is and the nodes (CSS targets) it failed on."""
    from axe_playwright_python.sync_playwright import Axe

    result = Axe().run(page)
    lines = []
    for violation in result.response["violations"]:
        if violation.get("impact") not in SERIOUS:
            continue
        targets = [" ".join(map(str, node["target"])) for node in violation["nodes"]]
        lines.append(
            f"{violation['id']} ({violation['impact']}): {violation['help']} -> "
            + "; ".join(targets[:8])
            + (f" (+{len(targets) - 8} more)" if len(targets) > 8 else "")
        )
    return lines


def pick(select, pattern: str) -> str:
    """Choose, in a <select> found by its label, the option whose shown name matches
    `pattern` (a case-insensitive regular expression); returns the option's value."""
    import re

    option = select.locator("option").filter(has_text=re.compile(pattern, re.IGNORECASE)).first
    value = option.get_attribute("value")
    assert value, f"no option matching {pattern!r}"
    select.select_option(value=value)
    return value
