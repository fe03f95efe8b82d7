"""Optional two-factor sign-in: one TOTP device per user (django-otp), and the pending
sign-in between the password and the code, kept in the session.

A user is signed in (django.contrib.auth.login) only once the code is right; until then the
session holds only the pending user's id, for PENDING_SECONDS and MAX_CODE_FAILURES wrong
codes at most."""

from __future__ import annotations

import time
from base64 import b32encode
from io import BytesIO

import qrcode
import qrcode.image.svg
from django.contrib.auth import get_user_model
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

PENDING_KEY = "two_factor_pending"
PENDING_SECONDS = 5 * 60
MAX_CODE_FAILURES = 5
DEVICE_NAME = "Authenticator app"


def confirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def has_two_factor(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def unconfirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=False).first()


@transaction.atomic
def start_setup(user) -> TOTPDevice:
    """A new secret, not in force until confirmed by a code (an earlier unconfirmed one is
    dropped: only the secret last shown can be confirmed)."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def verify(device: TOTPDevice, code: str) -> bool:
    code = (code or "").strip().replace(" ", "")
    return code.isdigit() and device.verify_token(code)


@transaction.atomic
def confirm_setup(user, code: str) -> bool:
    """Turns two-factor on if `code` is the current code of the secret being set up."""
    device = unconfirmed_device(user)
    if device is None or not verify(device, code):
        return False
    TOTPDevice.objects.filter(user=user, confirmed=True).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return True


def cancel_setup(user) -> None:
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()


@transaction.atomic
def turn_off(user) -> None:
    TOTPDevice.objects.filter(user=user).delete()


def secret_text(device: TOTPDevice) -> str:
    """The secret as authenticator apps take it typed in: base32, in groups of four."""
    raw = b32encode(device.bin_key).decode()
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def qr_svg(device: TOTPDevice) -> str:
    """The otpauth:// URI as an inline SVG (no XML declaration, so it can sit in HTML)."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage)
    buffer = BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode()
    if svg.startswith("<?xml"):
        svg = svg[svg.index("?>") + 2 :].lstrip()
    return svg


# --- The pending sign-in ---------------------------------------------------------------


def begin(session, user, backend: str, next_url: str) -> None:
    session[PENDING_KEY] = {
        "user": user.pk,
        "backend": backend,
        "next": next_url,
        "at": time.time(),
        "failures": 0,
    }


def pending(session) -> dict | None:
    """The pending sign-in, or None (none, or expired: then it is dropped)."""
    state = session.get(PENDING_KEY)
    if not state:
        return None
    if time.time() - state["at"] > PENDING_SECONDS:
        session.pop(PENDING_KEY, None)
        return None
    return state


def pending_user(state: dict):
    return get_user_model().objects.filter(pk=state["user"], is_active=True).first()


def record_failure(session, state: dict) -> int:
    """Counts a wrong code; the pending sign-in ends at MAX_CODE_FAILURES. The failures left."""
    state["failures"] += 1
    left = MAX_CODE_FAILURES - state["failures"]
    if left <= 0:
        session.pop(PENDING_KEY, None)
    else:
        session[PENDING_KEY] = state
    return left


def end(session) -> None:
    session.pop(PENDING_KEY, None)
