"""GS1 Digital Link: the resolver at /01/{GTIN}/21/{serial}, and the QR code that carries it."""

from __future__ import annotations

import json
import re
from io import BytesIO
from urllib.parse import urlsplit

import pytest
import zxingcpp
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from PIL import Image

from accounts.services import issue_token
from passports import services
from passports.catalogue import values_of
from passports.demo import DEMO_GTINS
from passports.gtin import normalise
from registry.reference import load_rules

pytestmark = pytest.mark.django_db

GTIN14 = "09520000000011"  # GS1 prefix 952: for examples
GTIN13 = "9520000000011"
STATE_OF_CHARGE = 58  # attributes.csv: legitimate interest only
GS1 = "https://gs1.org/voc/"


def base() -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/")


@pytest.fixture
def battery(world):
    model = world.model()
    model.gtin = GTIN13
    model.save()
    passport = world.passport(model=model, serial="SN-DL-1")
    services.append_reading(
        passport=passport,
        number=STATE_OF_CHARGE,
        value={"stateOfChargeValue": 42.4242, "lastUpdate": "2026-11-01T10:00:00+00:00"},
        measured_at="2026-11-01T10:00:00+00:00",
    )
    passport.refresh_from_db()
    return passport


LINK = f"/01/{GTIN14}/21/SN-DL-1"


def decoded(image: Image.Image) -> str:
    found = zxingcpp.read_barcodes(image.convert("L"))
    assert len(found) == 1 and found[0].format == zxingcpp.BarcodeFormat.QRCode
    assert found[0].ec_level == "M"
    return found[0].text


def svg_image(svg: bytes) -> Image.Image:
    """The SVG's modules drawn 6 px each (its viewBox holds the quiet zone)."""
    text = svg.decode()
    across = int(re.search(r'viewBox="0 0 (\d+) \1"', text).group(1))
    image = Image.new("L", (across * 6, across * 6), 255)
    for x, y in re.findall(r"M(\d+) (\d+)h1v1h-1z", text):
        x, y = int(x) * 6, int(y) * 6
        image.paste(0, (x, y, x + 6, y + 6))
    return image


# --- GTINs ---------------------------------------------------------------------------------


def test_a_gtin_given_in_8_12_13_or_14_digits_is_kept_as_gtin14(world):
    assert normalise("95050003") == "00000095050003"
    assert normalise("036000291452") == "00036000291452"
    assert normalise(GTIN13) == GTIN14
    model = world.model()
    model.gtin = GTIN13
    model.save()
    model.refresh_from_db()
    assert model.gtin == GTIN14
    assert all(normalise(gtin) == gtin for gtin in DEMO_GTINS.values())


def test_a_gtin_with_a_wrong_check_digit_is_refused_naming_it(world):
    model = world.model()
    model.gtin = "09520000000012"
    with pytest.raises(ValidationError, match="check digit: 2, expected 1"):
        model.full_clean()
    with pytest.raises(ValidationError, match="check digit"):
        model.save()
    with pytest.raises(ValidationError, match="8, 12, 13 or 14 digits"):
        normalise("952-000")


# --- The resolver --------------------------------------------------------------------------


def test_a_browser_scanning_the_code_lands_on_the_public_page(client, battery):
    response = client.get(LINK, HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert response.status_code == 307
    assert response["Location"] == f"{base()}/p/{battery.internal_id}/"
    assert f'<{base()}{LINK}?linkType=all>; rel="linkset"' in response["Link"]
    assert "Accept" in response["Vary"]
    page = client.get(urlsplit(response["Location"]).path)
    assert page.status_code == 200 and "SN-DL-1" in page.content.decode()
    # A scanner app sends no Accept at all: the page too.
    assert client.get(LINK).status_code == 307


def test_the_gtin_in_13_digits_resolves_like_its_14_digit_form(client, battery):
    response = client.get(f"/01/{GTIN13}/21/SN-DL-1")
    assert response.status_code == 307
    assert response["Location"] == f"{base()}/p/{battery.internal_id}/"


def test_an_api_client_gets_the_passport_json_its_tier_may_see(api, battery, world):
    public = api.get(LINK, HTTP_ACCEPT="application/json")
    assert public.status_code == 200 and public["Content-Type"] == "application/json"
    data = public.json()
    assert data["tier"] == "public" and data["internal_id"] == battery.internal_id
    assert not values_of(data["document"], STATE_OF_CHARGE)
    assert "42.4242" not in public.content.decode()
    # The very answer the API gives the same requester.
    assert data == api.get(f"/api/passports/{battery.internal_id}/").json()

    raw = issue_token(world.users["legitimate_interest"], "scanner").raw
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    grantee = api.get(LINK, HTTP_ACCEPT="application/json").json()
    assert grantee["tier"] == "legitimate_interest"
    assert values_of(grantee["document"], STATE_OF_CHARGE)
    assert grantee == api.get(f"/api/passports/{battery.internal_id}/").json()


def test_the_link_set_lists_the_batterys_links_per_rfc_9264(api, battery):
    response = api.get(f"{LINK}?linkType=all")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/linkset+json"
    body = json.loads(response.content)
    assert list(body) == ["linkset"] and len(body["linkset"]) == 1
    context = body["linkset"][0]
    assert context["anchor"] == f"{base()}{LINK}"
    relations = {rel for rel in context if rel != "anchor"}
    assert {GS1 + t for t in ("defaultLink", "pip", "sustainabilityInfo")} <= relations
    assert {GS1 + t for t in ("certificationInfo", "traceability", "masterData")} <= relations
    for rel in relations:
        assert isinstance(context[rel], list) and context[rel]
        for target in context[rel]:
            assert {"href", "type", "title"} <= set(target)
            assert target["href"].startswith(base())
    pid = battery.internal_id
    assert context[GS1 + "pip"][0]["href"] == f"{base()}/p/{pid}/"
    assert context[GS1 + "pip"][0]["type"] == "text/html"
    assert context[GS1 + "sustainabilityInfo"][0]["href"] == f"{base()}/api/passports/{pid}/"
    assert context[GS1 + "defaultLink"] == context[GS1 + "pip"]
    # Asked by Accept instead: the same set.
    negotiated = api.get(LINK, HTTP_ACCEPT="application/linkset+json")
    assert json.loads(negotiated.content) == body


def test_every_link_of_the_set_opens_for_the_public(api, battery):
    load_rules()  # the provenance's Art. 8 minimums
    context = json.loads(api.get(f"{LINK}?linkType=all").content)["linkset"][0]
    for rel, targets in context.items():
        if rel == "anchor" or rel.endswith("certificationInfo"):
            continue  # the credential needs signing keys: tests/test_credentials_*.py
        path = urlsplit(targets[0]["href"]).path
        assert api.get(path).status_code == 200, rel


def test_a_link_type_asked_for_redirects_to_that_link_or_is_not_found(api, battery):
    pid = battery.internal_id
    response = api.get(f"{LINK}?linkType=gs1:certificationInfo")
    assert response.status_code == 307
    assert response["Location"] == f"{base()}/api/passports/{pid}/credential/"
    full = api.get(f"{LINK}?linkType={GS1}sustainabilityInfo")
    assert full["Location"] == f"{base()}/api/passports/{pid}/"
    missing = api.get(f"{LINK}?linkType=gs1:recipeInfo")
    assert missing.status_code == 404 and "gs1:recipeInfo" in missing.json()["detail"]


def test_a_gtin_with_a_wrong_check_digit_gets_400_naming_it(api, battery):
    response = api.get("/01/09520000000012/21/SN-DL-1")
    assert response.status_code == 400
    assert "check digit" in response.json()["gtin"][0]
    assert api.get("/01/12345/21/SN-DL-1").status_code == 400


def test_an_unknown_or_draft_battery_is_not_found_alike(api, battery, world):
    draft = world.passport(model=battery.battery_model, serial="SN-DL-DRAFT", publish=False)
    unknown = api.get(f"/01/{GTIN14}/21/NO-SUCH")
    assert unknown.status_code == 404
    api.force_authenticate(world.owner)  # its owner too: a Digital Link is for published ones
    hidden = api.get(f"/01/{GTIN14}/21/{draft.battery_identifier}", HTTP_ACCEPT="application/json")
    assert hidden.status_code == 404
    assert hidden.json()["detail"].replace("SN-DL-DRAFT", "X") == unknown.json()["detail"].replace(
        "NO-SUCH", "X"
    )
    other_gtin = api.get("/01/09520000000028/21/SN-DL-1")
    assert other_gtin.status_code == 404


def test_the_resolver_answers_in_the_same_number_of_queries_however_many_batteries(
    api, battery, world
):
    def count(accept):
        with CaptureQueriesContext(connection) as queries:
            assert api.get(LINK, HTTP_ACCEPT=accept).status_code in (200, 307)
        return len(queries)

    raw = issue_token(world.users["legitimate_interest"], "scanner").raw
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    accepts = ("application/json", "text/html", "application/linkset+json")
    [count(accept) for accept in accepts]  # a token's first use is recorded once
    before = [count(accept) for accept in accepts]
    for n in range(4):
        passport = world.passport(model=battery.battery_model, serial=f"SN-DL-X{n}")
        services.passport_revise(passport=passport, data={}, note="again")
    assert [count(accept) for accept in accepts] == before


def test_the_resolver_describes_itself_at_well_known(client):
    body = client.get("/.well-known/gs1resolver").json()
    assert body["resolverRoot"] == base()
    assert body["supportedPrimaryKeys"] == ["01"]
    assert body["supportedLinkType"][0]["prefix"] == "gs1:"


# --- The QR code ---------------------------------------------------------------------------


def test_the_qr_code_carries_the_digital_link(client, battery):
    png = client.get(f"/p/{battery.internal_id}/qr.png")
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    assert decoded(Image.open(BytesIO(png.content))) == f"{base()}{LINK}"
    svg = client.get(f"/p/{battery.internal_id}/qr.svg")
    assert svg["Content-Type"] == "image/svg+xml"
    assert decoded(svg_image(svg.content)) == f"{base()}{LINK}"


def test_without_a_gtin_the_qr_code_carries_the_public_page(client, world):
    passport = world.passport()
    png = client.get(f"/p/{passport.internal_id}/qr.png")
    assert decoded(Image.open(BytesIO(png.content))) == f"{base()}/p/{passport.internal_id}/"


def test_a_print_ready_png_is_the_size_asked_with_a_quiet_zone(client, battery):
    for size in (128, 300, 2048):
        response = client.get(f"/p/{battery.internal_id}/qr.png?size={size}")
        image = Image.open(BytesIO(response.content))
        assert image.size == (size, size)
        assert decoded(image) == f"{base()}{LINK}"
    image = Image.open(BytesIO(client.get(f"/p/{battery.internal_id}/qr.png?size=600").content))
    dark = [x for x in range(600) if image.convert("L").getpixel((x, 300)) == 0]
    finder = dark[0]  # the left finder pattern: 7 modules of dark and light
    module = (min(x for x in dark if x > finder + 1 and x - 1 not in dark) - finder) // 6 or 1
    assert finder >= 4 * module


def test_a_qr_size_out_of_range_gets_400_naming_the_limits(client, battery):
    for size in ("100", "4096", "big"):
        response = client.get(f"/p/{battery.internal_id}/qr.png?size={size}")
        assert response.status_code == 400
        assert "128 to 2048" in response.content.decode()
    assert "public" in client.get(f"/p/{battery.internal_id}/qr.png")["Cache-Control"]
    svg = client.get(f"/p/{battery.internal_id}/qr.svg?size=512")
    assert b'width="512" height="512"' in svg.content
    assert client.get("/p/no-such/qr.png?size=100").status_code == 404


# --- Setting a GTIN --------------------------------------------------------------------


def test_the_manufacturer_sets_a_models_gtin_through_the_api(api, world):
    from config.preconditions import record_etag

    model, other = world.model(), world.model()
    api.force_authenticate(world.owner)
    url = f"/api/passports/models/{model.pk}/"

    def patch(gtin):
        model.refresh_from_db()
        return api.patch(url, {"gtin": gtin}, format="json", HTTP_IF_MATCH=record_etag(model))

    response = patch(GTIN13)
    assert response.status_code == 200, response.json()
    assert response.json()["gtin"] == GTIN14
    wrong = patch("09520000000012")
    assert wrong.status_code == 400 and "check digit" in wrong.json()["gtin"][0]
    other.gtin = "09520000000028"
    other.save()
    taken = patch("9520000000028")
    assert taken.status_code == 400, taken.content
    assert api.get(url).json()["gtin"] == GTIN14


@pytest.fixture
def gtin_taken_after_the_check(world, monkeypatch):
    """Two claims of one GTIN at once: the serializer finds it free, then another model's
    save takes it before this one's (a rival model, written in between)."""
    from api.serializers.passports import BatteryModelSerializer
    from passports.models import BatteryModel

    rival = world.model(identifier="RIVAL-1")
    checked = BatteryModelSerializer.validate_gtin

    def then_taken(self, value):
        gtin = checked(self, value)
        BatteryModel.objects.filter(pk=rival.pk).update(gtin=gtin)
        return gtin

    monkeypatch.setattr(BatteryModelSerializer, "validate_gtin", then_taken)
    return rival


def test_a_gtin_claimed_by_two_new_models_at_once_gives_the_second_400_naming_it(
    api, world, gtin_taken_after_the_check
):
    from passports.models import BatteryModel

    api.force_authenticate(world.owner)
    body = {
        "manufacturer": world.manufacturer.pk,
        "model_identifier": "RACER-1",
        "name": "Racer",
        "category": "ev",
        "chemistry": "NMC811",
        "gtin": GTIN13,
    }
    response = api.post("/api/passports/models/", body, format="json")
    assert response.status_code == 400, response.content[:300]
    assert GTIN14 in response.json()["gtin"][0]
    assert "RIVAL-1" in response.json()["gtin"][0]
    assert not BatteryModel.objects.filter(model_identifier="RACER-1").exists()
    assert BatteryModel.objects.get(gtin=GTIN14) == gtin_taken_after_the_check


def test_a_gtin_claimed_by_two_models_at_once_leaves_the_second_unchanged_with_400(
    api, world, gtin_taken_after_the_check
):
    from config.preconditions import record_etag

    model = world.model(identifier="RACER-2")
    api.force_authenticate(world.owner)
    response = api.patch(
        f"/api/passports/models/{model.pk}/",
        {"gtin": GTIN13, "name": "Renamed"},
        format="json",
        HTTP_IF_MATCH=record_etag(model),
    )
    assert response.status_code == 400, response.content[:300]
    assert GTIN14 in response.json()["gtin"][0]
    model.refresh_from_db()
    assert model.gtin == "" and model.name != "Renamed"


def test_a_serial_holding_a_slash_resolves_through_its_printed_link(client, world, battery):
    from passports.qr import digital_link

    passport = world.passport(model=battery.battery_model, serial="LOT/7-0001")
    link = digital_link(battery.battery_model.gtin, passport.battery_identifier)
    assert "LOT%2F7-0001" in link  # as printed in the QR code
    response = client.get(urlsplit(link).path, HTTP_ACCEPT="text/html")
    assert response.status_code == 307
    assert response["Location"].endswith(f"/p/{passport.internal_id}/")
