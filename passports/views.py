"""The public page of a battery: what its QR code opens. Public attributes only."""

from io import BytesIO

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .catalogue import ASPECTS
from .models import BatteryPassport, Lifecycle, PassportAttribute
from .selectors import identifier_q
from .services import attribute_values


def _published(identifier: str) -> BatteryPassport:
    passport = (
        BatteryPassport.objects.select_related("battery_model__manufacturer", "predecessor")
        .filter(identifier_q(identifier), lifecycle=Lifecycle.PUBLISHED)
        .first()
    )
    if passport is None:
        raise Http404(f"No published passport {identifier!r}.")
    return passport


def public_url(passport: BatteryPassport) -> str:
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/p/{passport.internal_id}/"


@require_GET
def public_page(request, identifier):
    passport = _published(identifier)
    document = passport.public_document  # the public projection, computed on each change
    rows = []
    for attribute in PassportAttribute.objects.filter(access="public"):
        values = attribute_values(document, attribute.number)
        if values:
            rows.append({"attribute": attribute, "values": values})
    return render(
        request,
        "passports/public.html",
        {
            "passport": passport,
            "rows": rows,
            "aspects": ASPECTS,
            "public_url": public_url(passport),
            "demo": passport.demo,
        },
    )


@require_GET
def qr_code(request, identifier):
    passport = _published(identifier)
    image = qrcode.make(
        public_url(passport), image_factory=qrcode.image.svg.SvgPathImage, box_size=8
    )
    buffer = BytesIO()
    image.save(buffer)
    return HttpResponse(buffer.getvalue(), content_type="image/svg+xml")
