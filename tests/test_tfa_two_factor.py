"""Optional two-factor sign-in: turning it on and off, the code step after the password,
the admin login going through it, and the password reset email."""

import re

import pytest
from django.conf import settings
from django.core import mail
from django.shortcuts import resolve_url
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import twofactor

from .factories import make_org, make_user

pytestmark = pytest.mark.django_db

PASSWORD = "pw-test-123"  # factories.make_user's
PROTECTED = "/account/tokens/"  # any page that needs a login


@pytest.fixture(autouse=True)
def _no_throttle(settings):
    # django-otp delays a device after each wrong code; tests try a right one just after.
    settings.OTP_TOTP_THROTTLE_FACTOR = 0


def code_of(device: TOTPDevice) -> str:
    device.refresh_from_db()
    value = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{value:0{device.digits}d}"


def wrong_code(device: TOTPDevice) -> str:
    return "000000" if code_of(device) != "000000" else "111111"


@pytest.fixture
def member():
    return make_user(make_org("Two-factor Co"), "viewer", username="member", email="m@example.org")


@pytest.fixture
def device(member):
    return TOTPDevice.objects.create(user=member, name="phone", confirmed=True)


def _password_step(client, username="member", next_url=""):
    data = {"username": username, "password": PASSWORD}
    if next_url:
        data["next"] = next_url
    return client.post("/accounts/login/", data)


# --- turning it on and off -----------------------------------------------------------


def test_turning_two_factor_on_shows_a_qr_code_and_needs_a_valid_code(member):
    client = Client()
    client.force_login(member)
    page = client.get("/account/two-factor/")
    assert page.status_code == 200 and b"Off." in page.content
    started = client.post("/account/two-factor/", {"action": "start"})
    assert started.status_code == 302
    setup = client.get("/account/two-factor/")
    assert b"<svg" in setup.content and b"<?xml" not in setup.content
    device = TOTPDevice.objects.get(user=member)
    assert not device.confirmed
    assert twofactor.secret_text(device).encode() in setup.content
    assert not twofactor.has_two_factor(member)

    refused = client.post("/account/two-factor/", {"action": "confirm", "code": wrong_code(device)})
    assert refused.status_code == 400
    assert b"That code is not right" in refused.content
    assert not twofactor.has_two_factor(member)

    confirmed = client.post("/account/two-factor/", {"action": "confirm", "code": code_of(device)})
    assert confirmed.status_code == 302
    assert twofactor.has_two_factor(member)
    assert b"<strong>On.</strong>" in client.get("/account/two-factor/").content


def test_turning_two_factor_off_needs_a_code_or_the_password(member, device):
    client = Client()
    client.force_login(member)
    refused = client.post("/account/two-factor/", {"action": "off", "password": "not-it"})
    assert refused.status_code == 400 and b"current code or your password" in refused.content
    assert twofactor.has_two_factor(member)
    empty = client.post("/account/two-factor/", {"action": "off"})
    assert empty.status_code == 400 and twofactor.has_two_factor(member)
    by_code = client.post("/account/two-factor/", {"action": "off", "code": code_of(device)})
    assert by_code.status_code == 302
    assert not TOTPDevice.objects.filter(user=member).exists()


def test_turning_two_factor_off_with_the_password(member, device):
    client = Client()
    client.force_login(member)
    client.post("/account/two-factor/", {"action": "off", "password": PASSWORD})
    assert not twofactor.has_two_factor(member)


def test_two_factor_page_needs_a_login():
    response = Client().get("/account/two-factor/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- signing in -------------------------------------------------------------------------


def test_users_without_a_device_sign_in_in_one_step(member):
    client = Client()
    response = _password_step(client, next_url=PROTECTED)
    assert response.status_code == 302 and response["Location"] == PROTECTED
    assert client.get(PROTECTED).status_code == 200


def test_password_alone_does_not_sign_in_a_user_with_two_factor(member, device):
    client = Client()
    response = _password_step(client, next_url=PROTECTED)
    assert response.status_code == 302 and response["Location"] == "/accounts/login/code/"
    assert "_auth_user_id" not in client.session
    still_out = client.get(PROTECTED)
    assert still_out.status_code == 302 and "/accounts/login/" in still_out["Location"]
    page = client.get("/accounts/login/code/")
    assert page.status_code == 200 and b'<label for="id_code">' in page.content
    done = client.post("/accounts/login/code/", {"code": code_of(device)})
    assert done.status_code == 302 and done["Location"] == PROTECTED  # next= kept
    assert client.get(PROTECTED).status_code == 200


def test_a_wrong_code_is_refused_with_a_message(member, device):
    client = Client()
    _password_step(client)
    refused = client.post("/accounts/login/code/", {"code": wrong_code(device)})
    assert refused.status_code == 400
    assert b"That code is not right" in refused.content and b"4 tries left" in refused.content
    assert "_auth_user_id" not in client.session
    ok = client.post("/accounts/login/code/", {"code": code_of(device)})
    assert ok.status_code == 302 and ok["Location"] == resolve_url(settings.LOGIN_REDIRECT_URL)
    assert client.session["_auth_user_id"] == str(member.pk)


def test_five_wrong_codes_end_the_pending_sign_in(member, device):
    client = Client()
    _password_step(client)
    for _ in range(4):
        assert client.post("/accounts/login/code/", {"code": wrong_code(device)}).status_code == 400
    fifth = client.post("/accounts/login/code/", {"code": wrong_code(device)}, follow=True)
    assert fifth.redirect_chain[-1][0] == "/accounts/login/"
    assert b"Too many wrong codes" in fifth.content
    # Even the right code does not sign in now: the password step must be done again.
    late = client.post("/accounts/login/code/", {"code": code_of(device)})
    assert late.status_code == 302 and late["Location"] == "/accounts/login/"
    assert "_auth_user_id" not in client.session


def test_a_pending_sign_in_expires_after_five_minutes(member, device):
    client = Client()
    _password_step(client)
    session = client.session
    state = session[twofactor.PENDING_KEY]
    state["at"] -= twofactor.PENDING_SECONDS + 1
    session[twofactor.PENDING_KEY] = state
    session.save()
    late = client.post("/accounts/login/code/", {"code": code_of(device)})
    assert late.status_code == 302 and late["Location"] == "/accounts/login/"
    assert "_auth_user_id" not in client.session


def test_code_page_without_a_password_step_sends_to_the_login():
    response = Client().get("/accounts/login/code/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"


def test_a_foreign_next_is_not_followed_after_the_code(member, device):
    client = Client()
    _password_step(client, next_url="https://evil.example/")
    done = client.post("/accounts/login/code/", {"code": code_of(device)})
    assert done.status_code == 302 and done["Location"] == resolve_url(settings.LOGIN_REDIRECT_URL)


def test_admin_login_goes_through_the_same_second_step(member, device):
    member.is_staff = True
    member.is_superuser = True
    member.save()
    client = Client()
    page = client.get("/admin/login/?next=/admin/")
    assert page.status_code == 200
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "member", "password": PASSWORD, "next": "/admin/"},
    )
    assert response.status_code == 302 and response["Location"] == "/accounts/login/code/"
    assert "_auth_user_id" not in client.session
    refused = client.get("/admin/")
    assert refused.status_code == 302 and "/admin/login/" in refused["Location"]
    done = client.post("/accounts/login/code/", {"code": code_of(device)})
    assert done["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_admin_login_without_a_device_signs_staff_in_at_once():
    make_user(None, username="boss", is_staff=True)
    client = Client()
    response = client.post(
        "/admin/login/", {"username": "boss", "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_api_tokens_work_without_the_code_step(member, device):
    from rest_framework.test import APIClient

    from accounts import services

    issued = services.issue_token(member, "ci")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.raw}")
    mine = client.get("/api/account/tokens/")
    assert mine.status_code == 200 and "ci" in mine.content.decode()


def test_staff_can_reset_a_users_device_in_the_admin(member, device):
    staff = make_user(None, username="boss", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    listing = client.get("/admin/otp_totp/totpdevice/")
    assert listing.status_code == 200 and b"phone" in listing.content


# --- password reset -------------------------------------------------------------------


def test_password_reset_email_holds_a_working_link(member, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    client = Client()
    sent = client.post("/accounts/password_reset/", {"email": "m@example.org"})
    assert sent.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^\s]+/accounts/reset/[^\s]+/", mail.outbox[0].body).group(0)
    path = re.sub(r"^https?://[^/]+", "", link)
    form = client.get(path, follow=True)
    assert form.status_code == 200 and b"new_password1" in form.content
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a-fresh-Passw0rd!", "new_password2": "a-fresh-Passw0rd!"},
    )
    assert done.status_code == 302
    member.refresh_from_db()
    assert member.check_password("a-fresh-Passw0rd!")
