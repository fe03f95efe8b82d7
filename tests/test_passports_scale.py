"""Passports in the large registry (passports.scale): published, each with its own
identifiers in its documents, its version and event, and the passport routes answer."""

import pytest

from passports.models import BatteryPassport, PassportVersion
from passports.scale import build_passports
from registry.scale import build_registry

pytestmark = pytest.mark.django_db

SCALE = 0.002  # 100 companies, 40 passports


@pytest.fixture
def passports():
    build_registry(1, SCALE)
    assert build_passports(1, SCALE) == 40
    return BatteryPassport.objects.order_by("pk")


def test_every_built_passport_is_published_with_its_own_identifiers(passports):
    assert passports.filter(lifecycle="published").count() == 40
    assert len(set(passports.values_list("internal_id", flat=True))) == 40
    for passport in passports[:5]:
        general = passport.document["GeneralProductInformation"]
        assert general["batteryPassportIdentifier"] == passport.batterypass_id
        assert general["productIdentifier"] == passport.battery_identifier
        public = passport.public_document["GeneralProductInformation"]
        assert public["productIdentifier"] == passport.battery_identifier
    assert PassportVersion.objects.filter(number=1).count() == 40


def test_built_passports_answer_on_the_api_and_the_public_page(passports, api, client):
    passport = passports.last()
    detail = api.get(f"/api/passports/{passport.internal_id}/")
    assert detail.status_code == 200, detail.content[:300]
    assert passport.battery_identifier in detail.content.decode()
    assert client.get(f"/p/{passport.internal_id}/").status_code == 200
    assert api.get(f"/api/passports/{passport.internal_id}/versions/").status_code == 200


def test_built_passports_resolve_by_their_digital_link(passports, client):
    passport = passports.select_related("battery_model").last()
    gtin = passport.battery_model.gtin
    assert len(gtin) == 14
    link = f"/01/{gtin}/21/{passport.battery_identifier}"
    answer = client.get(link)
    assert answer.status_code == 307 and answer["Location"].endswith(f"/p/{passport.internal_id}/")
    assert client.get(link, {"linkType": "all"}).status_code == 200
