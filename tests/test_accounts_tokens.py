"""API tokens: Bearer and Token headers, hashed storage, expiry, revocation, 401s."""

import datetime as dt
import hashlib

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services
from accounts.models import ApiToken

from .factories import make_org, make_user

pytestmark = pytest.mark.django_db

ME = "/api/account/tokens/"
WRITE = "/api/registry/companies/"


def bearer(raw, keyword="Bearer"):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{keyword} {raw}")
    return client


@pytest.fixture
def officer():
    return make_user(make_org("Token Co"), "compliance_officer")


@pytest.mark.parametrize("keyword", ["Bearer", "Token", "bearer"])
def test_bearer_token_reads_as_its_user(officer, keyword):
    raw = services.issue_token(officer, "ci").raw
    response = bearer(raw, keyword).get(ME)
    assert response.status_code == 200, response.content
    assert [t["name"] for t in response.json()["results"]] == ["ci"]


def test_bad_token_is_401_with_www_authenticate(officer):
    services.issue_token(officer, "ci")
    for header in ("Bearer nonsense", "Token bmr_x", "Basic dXNlcjpwdw==", "Bearer a b"):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=header)
        # A public read too: a bad credential is refused, never read as anonymous.
        for url in (ME, "/api/taxonomy/cells/"):
            response = client.get(url)
            assert response.status_code == 401, (header, url)
            assert response["WWW-Authenticate"].startswith("Bearer"), header


def test_no_credentials_on_a_write_is_401_with_www_authenticate():
    response = APIClient().post(WRITE, {}, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert APIClient().get(ME).status_code == 401


def test_token_is_shown_once_and_stored_hashed(officer):
    client = APIClient()
    client.force_login(officer)
    created = client.post(ME, {"name": "export job", "days": 30}, format="json")
    assert created.status_code == 201, created.content
    assert "no-store" in created["Cache-Control"]
    raw = created.json()["token"]
    token = ApiToken.objects.get(pk=created.json()["id"])
    assert token.digest == hashlib.sha256(raw.encode()).hexdigest()
    assert raw.startswith(token.prefix) and len(token.prefix) < 16 and len(raw) > 40
    assert raw not in {str(v) for v in ApiToken.objects.values_list(flat=False).get()}
    assert token.expires_at - token.created_at == dt.timedelta(days=30)
    # Never again: not in the list, not in the detail.
    listed = client.get(ME).json()["results"]
    detail = client.get(f"{ME}{token.pk}/").json()
    assert raw not in str(listed) + str(detail)
    assert "token" not in detail and "digest" not in detail
    assert bearer(raw).get(ME).status_code == 200


def test_token_lifetime_is_at_most_a_year(officer):
    client = APIClient()
    client.force_login(officer)
    response = client.post(ME, {"name": "forever", "days": 366}, format="json")
    assert response.status_code == 400
    default = client.post(ME, {"name": "default"}, format="json").json()
    token = ApiToken.objects.get(pk=default["id"])
    assert token.expires_at - token.created_at == dt.timedelta(days=services.DEFAULT_DAYS)


def test_expired_token_is_refused(officer):
    issued = services.issue_token(officer, "short", days=1)
    ApiToken.objects.filter(pk=issued.token.pk).update(expires_at=timezone.now())
    response = bearer(issued.raw).get(ME)
    assert response.status_code == 401
    assert "expired" in response.json()["detail"].lower()


def test_revoked_token_is_refused(officer):
    issued = services.issue_token(officer, "ci")
    client = bearer(issued.raw)
    assert client.get(ME).status_code == 200
    assert client.delete(f"{ME}{issued.token.pk}/").status_code == 204
    response = client.get(ME)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"].lower()
    history = issued.token.history.order_by("history_id")
    assert [(h.history_type, h.history_change_reason) for h in history] == [
        ("+", "issued"),
        ("~", "revoked"),
    ]


def test_a_token_of_an_inactive_user_is_refused(officer):
    raw = services.issue_token(officer, "ci").raw
    officer.is_active = False
    officer.save()
    assert bearer(raw).get(ME).status_code == 401


def test_one_cannot_revoke_anothers_token(officer):
    other = services.issue_token(make_user(), "theirs")
    client = bearer(services.issue_token(officer, "mine").raw)
    assert client.delete(f"{ME}{other.token.pk}/").status_code == 404
    assert client.get(f"{ME}{other.token.pk}/").status_code == 404
    other.token.refresh_from_db()
    assert other.token.revoked_at is None


def test_last_use_is_recorded_at_most_once_a_minute(officer, django_assert_num_queries):
    issued = services.issue_token(officer, "ci")
    token = issued.token
    assert token.last_used_at is None
    first = timezone.now()
    services.record_use(token, now=first)
    token.refresh_from_db()
    assert token.last_used_at == first
    with django_assert_num_queries(0):  # within the minute: no write
        services.record_use(token, now=first + dt.timedelta(seconds=30))
    later = first + dt.timedelta(seconds=61)
    services.record_use(token, now=later)
    token.refresh_from_db()
    assert token.last_used_at == later
    assert token.history.count() == 1  # use is not history


def test_a_token_request_writes_no_use_within_the_minute(officer, django_assert_num_queries):
    raw = services.issue_token(officer, "ci").raw
    client = bearer(raw)
    assert client.get(ME).status_code == 200  # first use: recorded
    with django_assert_num_queries(2):  # token+user, the page: no UPDATE
        assert client.get(ME).status_code == 200


def test_create_token_command_prints_the_raw_token_on_the_last_line(officer, capsys):
    call_command("create_token", officer.username, "--name", "CI", "--days", "7")
    raw = capsys.readouterr().out.strip().splitlines()[-1]
    token = ApiToken.objects.get(user=officer)
    assert token.name == "CI" and token.digest == services.digest_of(raw)
    assert token.expires_at - token.created_at == dt.timedelta(days=7)
    assert bearer(raw).get(ME).status_code == 200


def test_token_page_creates_shows_once_and_revokes(officer):
    from django.test import Client

    client = Client()
    client.force_login(officer)
    url = reverse("accounts:tokens")
    page = client.post(url, {"name": "laptop", "days": "10"})
    assert page.status_code == 200
    raw = page.context["issued"].raw
    assert raw in page.content.decode()
    assert "no-store" in page["Cache-Control"]
    again = client.get(url).content.decode()
    assert "laptop" in again and raw not in again
    token = ApiToken.objects.get(user=officer)
    client.post(reverse("accounts:token-revoke", args=[token.pk]))
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert Client().get(url).status_code == 302  # to the login page


def test_authtoken_keys_are_carried_over_hashed_and_erased(officer):
    """The data migration, run on a legacy authtoken table (rolled back with the test)."""
    import importlib
    from types import SimpleNamespace

    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    migration = importlib.import_module("accounts.migrations.0002_carry_over_authtoken_keys")
    key = "0123456789abcdef0123456789abcdef01234567"
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, "
            "created timestamp with time zone, user_id integer)"
            if connection.vendor == "postgresql"
            else "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, "
            "created datetime, user_id integer)"
        )
        cursor.execute(
            "INSERT INTO authtoken_token VALUES (%s, %s, %s)",
            [key, timezone.now() - dt.timedelta(days=400), officer.pk],
        )
    # The models as the migration sees them (no history signals: it writes its own row).
    apps = MigrationLoader(connection).project_state(("accounts", "0001_initial")).apps
    migration.carry_over(apps, SimpleNamespace(connection=connection))
    token = ApiToken.objects.get(user=officer)
    assert token.digest == services.digest_of(key) and token.prefix == key[:8]
    assert token.expires_at > timezone.now()
    assert bearer(key, "Token").get(ME).status_code == 200  # the old key keeps working
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM authtoken_token")
        assert cursor.fetchone()[0] == 0  # no raw key left
    assert token.history.get().history_type == "+"
