"""The public passport page a person reads (issue 14 §4): structured values as tables and
lists, formatted dates and units, clickable links, the API's names, a print stylesheet and
the credential's verification status."""

from __future__ import annotations

import copy
import datetime as dt
import html
import json
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from passports import services
from passports.models import BatteryPassport, BatteryStatus
from passports.presentation import humanise, render

from .test_api_passports import restricted_markers

pytestmark = pytest.mark.django_db


def page(passport, client=None) -> str:
    response = (client or Client()).get(f"/p/{passport.internal_id}/")
    assert response.status_code == 200
    return response.content.decode()


def text_of(markup: str) -> str:
    """What a reader sees: tags dropped, entities decoded, spaces squeezed."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", markup))
    return re.sub(r"[ \t\r\n]+", " ", text).strip()  # no-break spaces are kept


def attribute_cell(markup: str, number: int) -> str:
    found = re.search(rf'<tr id="attribute-{number}">(.*?)\n  </tr>', markup, re.S)
    assert found, f"attribute {number} is not on the page"
    return found.group(1)


def with_public_document(passport, change) -> BatteryPassport:
    """The passport with its stored public projection changed (values the schema would
    refuse on the way in, to show the page never trusts them either)."""
    document = copy.deepcopy(passport.public_document)
    change(document)
    BatteryPassport.objects.filter(pk=passport.pk).update(public_document=document)
    return passport


def _keys(node):
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _keys(value)
    elif isinstance(node, list):
        for value in node:
            yield from _keys(value)


# --- Values ----------------------------------------------------------------------------------


def test_critical_raw_materials_read_as_a_table_with_yes_never_true_true_true(world):
    markup = page(world.passport())
    cell = attribute_cell(markup, 32)
    assert "<table" in cell and "Nickel" in cell
    assert "Yes" in text_of(cell)
    assert "True" not in text_of(markup)
    assert render(False) == "No" and render(True) == "Yes"


def test_dates_read_as_dates_and_a_year_month_as_month_and_year():
    assert text_of(render("2031-08")) == "August 2031"
    assert 'datetime="2031-08"' in render("2031-08")
    assert text_of(render("2024-03-14T00:00:00Z")) == "14 March 2024"
    assert text_of(render("2024-06-03T10:00:00+02:00")) == "3 June 2024, 08:00 UTC"
    assert text_of(render("2024-06-03")) == "3 June 2024"
    assert text_of(render("2031-13")) == "2031-13"  # not a month: left as written


def test_warranty_month_reads_as_a_month_not_dash_dash_08(world):
    markup = page(world.passport())
    cell = text_of(attribute_cell(markup, 8))
    assert "August (no year given)" in cell
    assert "--08" not in cell
    assert "14 March 2024" in text_of(attribute_cell(markup, 6))  # manufacturing date


def test_nested_fields_are_labelled_by_name_not_flattened_into_at_so_c(world):
    markup = page(world.passport())
    power = attribute_cell(markup, 62)  # [{atSoC, powerCapabilityAt}, ...]
    assert "<table" in power
    assert "At state of charge" in power and '<code class="api" title="API field">atSoC' in power
    assert "at so c" not in text_of(markup).lower()
    address = attribute_cell(markup, 4)
    assert "Postal address" in address and "Postal code" in address and "99310" in address
    assert humanise("documentURL") == "Document URL"
    assert humanise("batteryMaterialName") == "Battery material name"


def test_web_addresses_are_links_and_e_mail_addresses_mail_links(world):
    passport = world.passport()
    markup = page(passport)
    urls = {
        value
        for value in re.findall(r'"(https?://[^"]+)"', json.dumps(passport.public_document))
        if "example.com" in value
    }
    assert len(urls) > 10
    for url in urls:
        assert f'href="{html.escape(url)}"' in markup, url
    assert render("spare@example.com") == (
        '<a class="url" href="mailto:spare@example.com">spare@example.com</a>'
    )


def test_a_javascript_or_data_address_is_shown_as_text_never_linked(world):
    hostile = "javascript:alert(document.cookie)"

    def change(document):
        info = document["GeneralProductInformation"]["manufacturerInformation"]
        info["webAddress"] = hostile
        info["contactName"] = '<script>alert("x")</script> Battery GmbH'
        document["Labeling"]["declarationOfConformity"] = "data:text/html,<b>hi</b>"

    markup = page(with_public_document(world.passport(), change))
    assert 'href="javascript' not in markup.lower() and 'href="data:' not in markup
    assert "<script>alert" not in markup
    assert hostile in text_of(markup)


def test_numbers_carry_the_attributes_unit(world):
    markup = page(world.passport())
    assert "452\xa0kg" in text_of(attribute_cell(markup, 10))
    assert "78.4\xa0kgCO2e/kWh" in text_of(attribute_cell(markup, 19))
    power = text_of(attribute_cell(markup, 62))
    assert "245\u202f000\xa0W" in power and "80\xa0%" in power  # the SoC is no wattage
    assert "5880\xa0tCO2e" in text_of(attribute_cell(markup, 27))


def test_the_header_names_the_manufacturer_of_attribute_4(world):
    passport = world.passport()
    markup = page(passport)
    header = re.search(r'<dl class="facts">(.*?)</dl>', markup, re.S).group(1)
    named = passport.public_document["GeneralProductInformation"]["manufacturerInformation"][
        "contactName"
    ]
    assert named in text_of(header) and named in text_of(attribute_cell(markup, 4))
    # The registry's company record of the model is another fact, not shown as the maker.
    assert passport.battery_model.manufacturer.legal_name not in text_of(header)

    def renamed(document):
        document["GeneralProductInformation"]["manufacturerInformation"]["contactName"] = "Z AG"

    markup = page(with_public_document(passport, renamed))
    header = re.search(r'<dl class="facts">(.*?)</dl>', markup, re.S).group(1)
    assert "Z AG" in text_of(header) and "Z AG" in text_of(attribute_cell(markup, 4))


def test_field_names_are_the_apis_names(api, world):
    passport = world.passport()
    markup = page(passport)
    document = api.get(f"/api/passports/{passport.internal_id}/").json()["document"]
    shown = set()
    for code in re.findall(r'<code class="api"[^>]*>([^<]+)</code>', markup):
        shown |= set(re.split(r"[./]", html.unescape(code)))
    expected = {key for key in _keys(document) if not re.fullmatch(r"[a-z]{2}", key)}  # en, de
    assert expected - shown == set()


def test_print_stylesheet_hides_navigation_prints_link_addresses_and_keeps_tables_whole(
    world,
):
    markup = page(world.passport())
    style = markup[markup.index("@media print") :]
    style = style[: style.index("</style>")]
    assert re.search(r"header\.site[^{]*\{[^}]*display:\s*none", style)
    assert "color: #000" in style and "background: #fff" in style
    assert 'content: " <" attr(href) ">"' in style
    assert "break-inside: avoid" in style and "page-break-inside: avoid" in style


# --- The credential --------------------------------------------------------------------------


def test_verification_status_is_shown_and_flips_to_superseded_on_a_new_version(api, world):
    passport = world.passport()
    markup = page(passport)
    status = re.search(r'id="credential-status">([^<]+)<', markup).group(1)
    assert status == "not issued yet"
    assert f"/api/passports/{passport.internal_id}/credential/" in markup
    assert "/.well-known/did.json" in markup
    assert "python manage.py verify_credential FILE" in markup

    assert api.get(f"/api/passports/{passport.internal_id}/credential/").status_code == 200
    markup = page(passport)
    assert re.search(r'id="credential-status">([^<]+)<', markup).group(1) == "issued and valid"
    assert "http://127.0.0.1:8000/credentials/status/1" in text_of(markup)

    services.passport_revise(
        passport=passport, data={}, user=world.owner, battery_status=BatteryStatus.REUSED
    )
    markup = page(passport)
    versions = re.search(r"Credentials of the latest versions.*?</table>", markup, re.S).group(0)
    rows = [text_of(row) for row in re.findall(r"<tr><td>.*?</tr>", versions, re.S)]
    assert rows[0].startswith("2 ") and "not issued" in rows[0]
    assert rows[1].startswith("1 ") and "superseded" in rows[1] and "revoked" in rows[1]


def test_a_ceased_passport_says_so_and_its_credentials_read_revoked(api, world):
    passport = world.passport()
    api.get(f"/api/passports/{passport.internal_id}/credential/")
    BatteryPassport.objects.filter(pk=passport.pk).update(ceased_at=dt.datetime.now(dt.UTC))
    markup = page(passport)
    assert "This passport has ceased" in markup
    assert re.search(r'id="credential-status">([^<]+)<', markup).group(1) == "revoked"


def test_without_a_signing_key_the_page_says_it_cannot_be_verified_here(world, settings):
    passport = world.passport()
    settings.CREDENTIAL_SIGNING_KEYS = ""
    settings.CREDENTIAL_SIGNING_KEYS_FILE = ""
    assert "does not sign credentials" in page(passport)


# --- Access and cost -------------------------------------------------------------------------


@pytest.mark.parametrize("tier", ["public", "commission", "owner"])
def test_no_restricted_value_reaches_the_page_whoever_reads_it(world, tier):
    passport = world.passport()
    services.append_reading(
        passport=passport,
        number=58,
        value={"stateOfChargeValue": 42.4242, "lastUpdate": "2026-11-01T10:00:00+00:00"},
        measured_at=dt.datetime(2026, 11, 1, 10, tzinfo=dt.UTC),
    )
    passport.refresh_from_db()
    markers = restricted_markers(passport.document, passport.public_document)
    assert "42.4242" in markers and len(markers) > 20
    client = Client()
    if world.users[tier] is not None:
        client.force_login(world.users[tier])
    markup = page(passport, client)
    shown = text_of(markup) + markup
    leaked = [m for m in markers if m in shown]
    assert not leaked, leaked[:5]
    assert "State of Charge" not in markup  # attribute 58's name: not a public attribute


def test_the_page_reads_the_same_number_of_queries_whatever_its_size(api, world):
    small = world.passport()
    with CaptureQueriesContext(connection) as queries:
        page(small)
    baseline = len(queries)
    assert baseline <= 3, [q["sql"] for q in queries]  # passport, attributes, credentials

    big = world.passport(serial="SN-BIG")
    for hour in range(6):
        services.append_reading(
            passport=big,
            number=58,
            value={"stateOfChargeValue": 50.0 + hour, "lastUpdate": "2026-11-01T10:00:00+00:00"},
            measured_at=dt.datetime(2026, 11, 1, hour, tzinfo=dt.UTC),
        )
    for status in (BatteryStatus.REUSED, BatteryStatus.ORIGINAL, BatteryStatus.REUSED):
        services.passport_revise(passport=big, data={}, user=world.owner, battery_status=status)
        api.get(f"/api/passports/{big.internal_id}/credential/")  # each version's issued
    with CaptureQueriesContext(connection) as queries:
        markup = page(big)
    assert len(queries) == baseline, [q["sql"] for q in queries]
    assert markup.count("superseded") >= 3


@pytest.mark.parametrize("sample", ["nmc811_ev_pack", "lfp_stationary_pack"])
def test_every_sample_passport_reads_without_a_raw_python_value(world, sample):
    markup = page(world.passport(name=sample))
    text = text_of(markup)
    for raw in ("True", "False", "None", "{'", "['"):
        assert raw not in text, raw
    assert "--" not in text_of(attribute_cell(markup, 8))


def test_texts_in_several_languages_keep_their_language_and_lists_stay_lists():
    meaning = render({"en": "Do not bin", "de": "Nicht wegwerfen"})
    assert '<dd lang="de">Nicht wegwerfen</dd>' in meaning
    assert render(["Water", "Powder"]) == '<ul class="values"><li>Water</li><li>Powder</li></ul>'
    assert "<script>" not in render(["<script>x</script>"])
