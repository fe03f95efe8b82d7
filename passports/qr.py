"""The QR code on a battery: it carries the battery's GS1 Digital Link when its model has a
GTIN (passports/resolver.py answers it), else the public page's address. Print-ready as
SVG and PNG: error correction M, a quiet zone of four modules, a size asked in pixels."""

from __future__ import annotations

from io import BytesIO
from urllib.parse import quote

import qrcode
from django.conf import settings
from django.http import HttpResponse
from PIL import Image

from config.errors import DomainError

from .models import BatteryPassport

QUIET_ZONE = 4  # modules (ISO/IEC 18004: at least 4)
MIN_SIZE, MAX_SIZE = 128, 2048  # pixels across, quiet zone included
DEFAULT_MODULE_PX = 8  # without ?size=: the page's code as it was
KINDS = {"svg": "image/svg+xml", "png": "image/png"}


class BadSize(DomainError):
    status = 400
    code = "qr_size"


def base_url() -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/")


def digital_link(gtin: str, serial: str) -> str:
    """The GS1 Digital Link URI of one battery: GTIN-14 (AI 01) and serial (AI 21)."""
    return f"{base_url()}/01/{gtin}/21/{quote(serial, safe='')}"


def payload(passport: BatteryPassport) -> str:
    """What the battery's QR code encodes."""
    gtin = passport.battery_model.gtin
    if gtin:
        return digital_link(gtin, passport.battery_identifier)
    return f"{base_url()}/p/{passport.internal_id}/"


def matrix(data: str) -> list[list[bool]]:
    """The code's modules, dark True, without the quiet zone."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    code.add_data(data)
    code.make(fit=True)
    return code.get_matrix()


def parse_size(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        size = int(raw)
    except ValueError:
        raise BadSize(f"size is a whole number of pixels, {MIN_SIZE} to {MAX_SIZE}.") from None
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise BadSize(f"size must be {MIN_SIZE} to {MAX_SIZE} pixels; {size} is out of range.")
    return size


def _layout(modules: int, size: int | None) -> tuple[int, int, int]:
    """(pixels a module, pixels of margin, pixels across): modules stay whole pixels; what
    `size` leaves over widens the quiet zone, so the image is exactly `size` across."""
    across = modules + 2 * QUIET_ZONE
    if size is None:
        return DEFAULT_MODULE_PX, QUIET_ZONE * DEFAULT_MODULE_PX, across * DEFAULT_MODULE_PX
    module = size // across
    if module < 1:
        raise BadSize(f"size {size} is too small for this code: at least {across} pixels.")
    return module, (size - modules * module) // 2, size


def svg(data: str, size: int | None = None) -> bytes:
    """A scalable SVG: the viewBox in modules (quiet zone included), width and height in
    pixels as asked; one path of unit squares, crisp edges."""
    grid = matrix(data)
    n = len(grid)
    _, _, across_px = _layout(n, size)
    across = n + 2 * QUIET_ZONE
    path = "".join(
        f"M{x + QUIET_ZONE} {y + QUIET_ZONE}h1v1h-1z"
        for y, row in enumerate(grid)
        for x, dark in enumerate(row)
        if dark
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{across_px}" height="{across_px}" '
        f'viewBox="0 0 {across} {across}" shape-rendering="crispEdges">'
        f'<rect width="{across}" height="{across}" fill="#fff"/>'
        f'<path d="{path}" fill="#000"/></svg>\n'
    ).encode()


def png(data: str, size: int | None = None) -> bytes:
    """A 1-bit PNG exactly `size` pixels across (whole pixels a module)."""
    grid = matrix(data)
    n = len(grid)
    module, margin, across_px = _layout(n, size)
    small = Image.new("1", (n, n), 1)
    small.putdata([0 if dark else 1 for row in grid for dark in row])
    image = Image.new("1", (across_px, across_px), 1)
    image.paste(small.resize((n * module, n * module), Image.Resampling.NEAREST), (margin, margin))
    buffer = BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def response(passport: BatteryPassport, kind: str, raw_size: str | None) -> HttpResponse:
    """The download of a passport's QR code; a bad size is a 400 naming the limits."""
    try:
        size = parse_size(raw_size)
        data = payload(passport)
        body = svg(data, size) if kind == "svg" else png(data, size)
    except BadSize as error:
        return HttpResponse(
            str(error.detail()), status=400, content_type="text/plain; charset=utf-8"
        )
    answer = HttpResponse(body, content_type=KINDS[kind])
    answer["Content-Disposition"] = f'inline; filename="{passport.internal_id}-qr.{kind}"'
    return answer
