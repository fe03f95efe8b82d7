"""Logins: members' login pages, lockout after failures, password reset, throttles, audit."""

import re

import pytest
from axes.models import AccessAttempt
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts import services
from registry.models import Organisation

from .factories import make_company, make_org, make_user

pytestmark = pytest.mark.django_db

PASSWORD = "pw-test-123"  # factories.make_user's


@pytest.fixture
def member():
    return make_user(make_org("Login Co"), "viewer", username="member", email="m@example.org")


def test_member_logs_in_and_out_on_the_site_pages(member):
    client = Client()
    page = client.get("/accounts/login/")
    assert page.status_code == 200 and b'name="password"' in page.content
    response = client.post("/accounts/login/", {"username": "member", "password": PASSWORD})
    assert response.status_code == 302
    home = client.get("/")
    assert b"Log out member" in home.content
    assert client.post("/accounts/logout/").status_code == 302
    assert b"Log in" in client.get("/").content


@pytest.mark.parametrize("login_url", ["/accounts/login/", "/admin/login/"])
def test_five_failed_logins_lock_the_account(member, login_url):
    member.is_staff = True  # the admin page logs staff in
    member.save()
    client = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(4):
        failed = client.post(login_url, {"username": "member", "password": "wrong"})
        assert failed.status_code == 200  # the form again, with its error
    fifth = client.post(login_url, {"username": "member", "password": "wrong"})
    assert fifth.status_code == 429
    # Locked: even the right password is refused now.
    locked = client.post(login_url, {"username": "member", "password": PASSWORD})
    assert locked.status_code == 429
    assert b"Too many failed logins" in locked.content
    assert "_auth_user_id" not in client.session
    # Keyed by username and address: the same person from elsewhere still logs in.
    elsewhere = Client(REMOTE_ADDR="198.51.100.9")
    ok = elsewhere.post(login_url, {"username": "member", "password": PASSWORD})
    assert ok.status_code == 302
    assert AccessAttempt.objects.filter(username="member", ip_address="203.0.113.7").exists()


def test_a_success_clears_the_failures(member):
    client = Client()
    for _ in range(4):
        client.post("/accounts/login/", {"username": "member", "password": "wrong"})
    client.post("/accounts/login/", {"username": "member", "password": PASSWORD})
    client.post("/accounts/logout/")
    for _ in range(4):
        client.post("/accounts/login/", {"username": "member", "password": "wrong"})
    ok = client.post("/accounts/login/", {"username": "member", "password": PASSWORD})
    assert ok.status_code == 302


def test_password_reset_sends_a_link_that_sets_a_new_password(member, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    client = Client()
    response = client.post("/accounts/password_reset/", {"email": "m@example.org"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["m@example.org"]
    link = re.search(r"https?://\S+(/accounts/reset/\S+/)", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    assert link.group(0).startswith(settings.PUBLIC_BASE_URL.rstrip("/"))
    form = client.get(link.group(1), follow=True)  # redirects to the set-password form
    assert form.context["validlink"]
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a-new-Passw0rd-42", "new_password2": "a-new-Passw0rd-42"},
    )
    assert done.status_code == 302
    member.refresh_from_db()
    assert member.check_password("a-new-Passw0rd-42")
    # The link works once.
    assert not client.get(link.group(1), follow=True).context["validlink"]


def test_password_reset_of_an_unknown_address_sends_nothing_and_says_the_same(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    response = Client().post("/accounts/password_reset/", {"email": "nobody@example.org"})
    assert response.status_code == 302 and mail.outbox == []


# The addresses the throttle tests come from (TEST-NET, used by no other test).
THROTTLED_ADDRESSES = ("203.0.113.20", "203.0.113.21", "203.0.113.40", "203.0.113.41")


def clear_throttle_counters(user_pks=()):
    """Only these tests' counters: a whole-cache clear would also drop what other tests
    keep there at the same time when the cache is a shared Redis (replica pins)."""
    cache.delete_many(
        [f"throttle_anon_{ip}" for ip in THROTTLED_ADDRESSES]
        + [f"throttle_user_{pk}" for pk in user_pks]
    )


@pytest.fixture
def throttled():
    """Throttles on at low rates; call it with user pks to reset their counters too."""
    users = []

    def reset(user_pks=()):
        users.extend(user_pks)
        clear_throttle_counters(user_pks)

    reset()
    with override_settings(API_THROTTLE_RATES={"anon": "3/minute", "user": "5/minute"}):
        yield reset
    clear_throttle_counters(users)


def test_anonymous_api_is_throttled_with_retry_after(throttled):
    client = APIClient(REMOTE_ADDR="203.0.113.20")
    for _ in range(3):
        assert client.get("/api/taxonomy/dimensions/").status_code == 200
    refused = client.get("/api/taxonomy/dimensions/")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    # Another address has its own allowance.
    assert APIClient(REMOTE_ADDR="203.0.113.21").get("/api/taxonomy/dimensions/").status_code == 200


def test_authenticated_api_is_throttled_per_user(throttled):
    user = make_user()
    throttled([user.pk])  # a pk an earlier, rolled-back test may have used
    raw = services.issue_token(user, "ci").raw
    client = APIClient(REMOTE_ADDR="203.0.113.30")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    for _ in range(5):
        assert client.get("/api/taxonomy/dimensions/").status_code == 200
    refused = client.get("/api/taxonomy/dimensions/")
    assert refused.status_code == 429 and "Retry-After" in refused
    # The same user's session counts against the same allowance.
    browser = APIClient(REMOTE_ADDR="203.0.113.21")
    browser.force_login(user)
    assert browser.get("/api/taxonomy/dimensions/").status_code == 429


@override_settings(PROXY_COUNT=1)
def test_behind_a_proxy_the_client_is_the_address_it_saw(throttled):
    def get(forwarded):
        return APIClient(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded).get(
            "/api/taxonomy/dimensions/"
        )

    for _ in range(3):
        assert get("1.1.1.1, 203.0.113.40").status_code == 200
    # A client that writes its own X-Forwarded-For entry does not get a new allowance.
    assert get("9.9.9.9, 203.0.113.40").status_code == 429
    assert get("203.0.113.41").status_code == 200


# --- Audit -----------------------------------------------------------------------------


def test_audit_page_is_404_for_non_staff(member):
    assert Client().get("/audit/").status_code == 404
    client = Client()
    client.force_login(member)
    assert client.get("/audit/").status_code == 404


def test_audit_page_lists_history_across_apps_filterable():
    staff = make_user(is_staff=True, username="auditor")
    writer = make_user(username="writer")
    client = Client()
    client.force_login(staff)
    issued = services.issue_token(writer, "writer's ci")
    services.revoke_token(writer, issued.token.pk)
    with CaptureQueriesContext(connection) as two_models:
        assert client.get("/audit/").status_code == 200
    for n in range(60):
        Organisation.objects.create(name=f"Audited org {n}", kind="ngo")
    make_company("Audited Mining SA")
    # A page costs the same queries whatever it holds: no query per row nor per model.
    with CaptureQueriesContext(connection) as many:
        page = client.get("/audit/")
    assert len(many) == len(two_models.captured_queries)
    rows = page.context["rows"]
    assert len(rows) == 50 and page.context["page"].paginator.count >= 63
    assert {r.model for r in rows} >= {"registry.Organisation", "registry.Company"}
    assert rows[0].record == "Audited Mining SA" and rows[0].verbose_name == "company"
    tokens = client.get("/audit/", {"model": "accounts.ApiToken"}).context["rows"]
    assert [(r.change, r.reason, r.record) for r in tokens] == [
        ("changed", "revoked", "writer's ci"),
        ("created", "issued", "writer's ci"),
    ]
    assert client.get("/audit/", {"user": "nobody-such"}).context["rows"] == []
    kept = Organisation(name="Kept by the auditor", kind="ngo")
    kept._history_user = staff  # as the admin's middleware records it
    kept.save()
    by_staff = client.get("/audit/", {"user": "auditor"}).context["rows"]
    assert [(r.record, r.username) for r in by_staff] == [("Kept by the auditor", "auditor")]


def test_audit_records_who_changed_an_organisation():
    staff = make_user(is_staff=True, is_superuser=True, username="keeper")
    org = make_org("Renamed Ltd")
    client = Client()
    client.force_login(staff)
    response = client.post(
        f"/admin/registry/organisation/{org.pk}/change/",
        {
            "name": "Renamed Again Ltd",
            "kind": "ngo",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    rows = client.get("/audit/", {"model": "registry.Organisation", "user": "keeper"})
    changes = [(r.change, r.record, r.username) for r in rows.context["rows"]]
    assert changes == [("changed", "Renamed Again Ltd", "keeper")]
