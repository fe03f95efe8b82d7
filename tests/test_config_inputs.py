"""No input makes a 500: NUL and invisible format characters in paths, query parameters and
JSON, deep JSON, oversized bodies and disguised evidence files get a 4xx naming the
problem, and nothing is written. Run on PostgreSQL too: it cannot store NUL (the 500s)."""

import io
import json
import struct
import zipfile
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpResponse
from django.test import Client
from openpyxl import Workbook

from passports.models import BatteryModel
from registry.models import Evidence

from .factories import make_attestation, make_company, make_org, make_user

pytestmark = pytest.mark.django_db

NUL, ZWSP, BOM, RLO = "%00", "%E2%80%8B", "%EF%BB%BF", "%E2%80%AE"


@pytest.fixture
def client():
    # Server errors as responses, as a browser or API client meets them.
    return Client(raise_request_exception=False)


# --- Query parameters and paths ----------------------------------------------------------

QUERY_URLS = [
    "/api/taxonomy/standards/?search=cobalt{}",
    "/api/taxonomy/standards/?ordering=name{}",
    "/api/registry/companies/?search=a{}b",
    "/api/passports/?category=ev{}",
    "/api/passports/changes/?since=0{}",
    "/standards/?q=cobalt{}",
    "/companies/?q=glen{}core",
    "/gaps/?stage=refining{}",
]


@pytest.mark.parametrize("url", QUERY_URLS)
def test_nul_byte_in_query_parameter_is_a_400_naming_the_parameter(client, url):
    response = client.get(url.format(NUL))
    assert response.status_code == 400
    name = url.split("?")[1].split("=")[0]
    assert f"'{name}'" in response.json()["detail"]
    assert "NUL" in response.json()["detail"]


@pytest.mark.parametrize("character", [ZWSP, BOM, RLO])
@pytest.mark.parametrize("url", QUERY_URLS[::3])
def test_invisible_format_character_in_query_parameter_is_a_400(client, url, character):
    response = client.get(url.format(character))
    assert response.status_code == 400
    assert "format character" in response.json()["detail"]


def test_nul_in_a_query_parameter_name_is_a_400(client):
    response = client.get("/api/taxonomy/standards/?sea%00rch=x")
    assert response.status_code == 400
    assert "parameter name" in response.json()["detail"]


PATH_URLS = [
    "/api/passports/a{}b/",
    "/api/passports/a{}b/export/batterypass/",
    "/api/taxonomy/standards/irma{}/",
    "/api/taxonomy/standards/irma{}/matrix/",
    "/p/a{}b/",
    "/p/a{}b/qr.svg",
]


@pytest.mark.parametrize("character", [NUL, ZWSP, BOM, RLO])
@pytest.mark.parametrize("url", PATH_URLS)
def test_nul_or_format_character_in_the_path_is_a_400_not_a_server_error(client, url, character):
    response = client.get(url.format(character))
    assert response.status_code == 400
    assert "The path contains" in response.json()["detail"]


def test_ordinary_text_still_reaches_the_pages(client):
    assert client.get("/standards/?q=cobalt").status_code == 200
    assert client.get("/api/taxonomy/standards/?search=Zürich").status_code == 200


# --- JSON bodies -------------------------------------------------------------------------


def post_json(client, url, body: str, **headers):
    return client.post(url, body, content_type="application/json", **headers)


def test_nul_in_a_json_string_is_a_400_naming_where(client):
    body = json.dumps({"identifiers": ["ok", "a\x00b"]})
    response = post_json(client, "/api/passports/bulk/", body)
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "$.identifiers[1]" in detail and "NUL" in detail


@pytest.mark.parametrize("character", ["\u200b", "\ufeff", "\u202e"])
def test_format_character_in_a_json_string_is_a_400_naming_where(client, character):
    body = json.dumps({"identifiers": [f"SN{character}1"]})
    response = post_json(client, "/api/passports/bulk/", body)
    assert response.status_code == 400
    assert "$.identifiers[0]" in response.json()["detail"]


@pytest.mark.parametrize("key", ["identifiers\x00", "identi\u200bfiers", "\ufeffidentifiers"])
def test_nul_or_format_character_in_a_json_key_is_a_400(client, key):
    response = post_json(client, "/api/passports/bulk/", json.dumps({key: ["x"]}))
    assert response.status_code == 400
    assert "JSON key" in response.json()["detail"]


def test_deeply_nested_json_is_a_400_not_a_server_error(client):
    for depth in (100, 100_000):
        body = '{"identifiers": ' + "[" * depth + "]" * depth + "}"
        response = post_json(client, "/api/passports/bulk/", body)
        assert response.status_code == 400
        assert "nested deeper than" in response.json()["detail"]


def as_owner(api, world, model) -> dict:
    """Log in as the model's manufacturer; the If-Match of an update (the ETag as read)."""
    api.force_authenticate(world.owner)
    etag = api.get(f"/api/passports/models/{model.pk}/").headers.get("ETag")
    return {"HTTP_IF_MATCH": etag} if etag else {}


def test_nul_in_json_data_of_a_battery_model_is_refused_and_nothing_is_written(api, world):
    model = world.model()
    before = BatteryModel.objects.get(pk=model.pk).data
    response = api.patch(
        f"/api/passports/models/{model.pk}/",
        {"data": {"GeneralProductInformation": {"note": "a\x00b"}}},
        format="json",
        **as_owner(api, world, model),
    )
    assert response.status_code == 400
    assert "$.data.GeneralProductInformation.note" in response.json()["detail"]
    assert BatteryModel.objects.get(pk=model.pk).data == before


def test_joiners_that_scripts_need_are_kept_in_text(api, world):
    model = world.model()
    headers = as_owner(api, world, model)
    name = "می\u200cخواهم 👩\u200d🔧"  # Persian with ZWNJ, an emoji sequence with ZWJ
    response = api.patch(
        f"/api/passports/models/{model.pk}/", {"name": name}, format="json", **headers
    )
    assert response.status_code == 200, response.json()
    assert BatteryModel.objects.get(pk=model.pk).name == name


# --- Body size ---------------------------------------------------------------------------


@pytest.fixture
def people():
    org = make_org("Automaker compliance")
    officer = make_user(org, "compliance_officer", username="officer")
    attestation = make_attestation(make_company("Supplier Refining Co"), "rmi-rmap", org)
    return {"officer": officer, "attestation": attestation}


def evidence_url(people) -> str:
    return f"/api/registry/attestations/{people['attestation'].pk}/evidence/"


def test_an_upload_over_the_limit_is_a_413_naming_the_limit_before_it_is_read(
    client, people, settings
):
    client.force_login(people["officer"])
    # Claims 300 MB but sends nothing: reading it at all would fail the request.
    response = client.generic(
        "POST",
        evidence_url(people),
        b"",
        CONTENT_TYPE="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(300 * 1024 * 1024),
    )
    assert response.status_code == 413
    assert str(settings.EVIDENCE_MAX_BYTES + 64 * 1024) in response.json()["detail"]
    assert Evidence.objects.count() == 0


def test_a_json_body_over_the_limit_is_a_413_naming_the_limit(client, settings):
    response = client.generic(
        "POST",
        "/api/passports/bulk/",
        b"",
        CONTENT_TYPE="application/json",
        CONTENT_LENGTH=str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1),
    )
    assert response.status_code == 413
    assert str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE) in response.json()["detail"]


def test_a_chunked_body_is_read_only_up_to_the_limit(settings):
    from config.input_guard import InputGuardMiddleware, RequestTooLarge

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    source = io.BytesIO(b"x" * 5000)
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/anything/",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "CONTENT_TYPE": "application/octet-stream",
        "wsgi.input": source,
        "wsgi.input_terminated": True,
        "wsgi.url_scheme": "http",
    }
    request = WSGIRequest(environ)
    guard = InputGuardMiddleware(lambda r: HttpResponse(r.read()))
    with pytest.raises(RequestTooLarge) as raised:
        guard(request)
    assert source.tell() <= 1001  # stopped at the limit, not read whole
    response = guard.process_exception(request, raised.value)
    assert response.status_code == 413
    assert "1000 bytes" in json.loads(response.content)["detail"]


# --- Evidence by content -----------------------------------------------------------------


def upload(client, people, name: str, content: bytes):
    client.force_login(people["officer"])
    return client.post(evidence_url(people), {"file": SimpleUploadedFile(name, content)})


def xlsx() -> bytes:
    out = io.BytesIO()
    book = Workbook()
    book.active.append(["mine", "country"])
    book.save(out)
    return out.getvalue()


def zipped(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + chunk(b"IEND", b"")
    )


PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20 + b"\xff\xd9"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("register.xlsx", xlsx()),
        ("report.pdf", PDF),
        ("site.png", png()),
        ("site.jpg", JPEG),
        ("list.csv", b"mine,country\nKamoto,CD\nMurrin Murrin,AU\n"),
        ("notes.txt", "Audit notes: ü, 钴, ok.\n".encode()),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_whole_files_of_each_type_are_accepted(client, people, name, content):
    response = upload(client, people, name, content)
    assert response.status_code == 201, response.json()


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        (
            "bomb.xlsx",
            zipped({"[Content_Types].xml": b"<Types/>", "x.xml": bytes(101 * 1024 * 1024)}),
            "zip bomb",
        ),
        ("broken.xlsx", b"PK\x03\x04" + b"\x00" * 100, "not a readable zip"),
        ("plain.xlsx", zipped({"a.txt": b"hello"}), "[Content_Types].xml"),
        ("page.pdf", b"%PDF-1.4\n<html><script>alert(1)</script>\n%%EOF\n", "HTML"),
        ("doctype.pdf", b"%PDF-1.4\n<!DOCTYPE html>\n%%EOF\n", "HTML"),
        ("cut.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\n", "%%EOF"),
        ("cut.png", png()[:-12], "IEND"),
        ("fake.png", b"\x89PNG\r\n\x1a\n<html></html>", "IHDR"),
        ("cut.jpg", JPEG[:-2], "end-of-image"),
        ("nul.csv", b"a,b\n" + b"\x00" * 8, "NUL"),
        ("latin1.csv", b"a,b\n" * 1000 + "Zürich".encode("latin-1"), "UTF-8"),
    ],
    ids=lambda value: value if isinstance(value, str) and "." in value else "",
)
def test_evidence_that_is_not_the_whole_plain_file_its_name_says_is_refused(
    client, people, name, content, needle
):
    response = upload(client, people, name, content)
    assert response.status_code == 400
    assert needle in str(response.json())
    assert name in str(response.json())
    assert Evidence.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["mineral=cobalt%25", "covers=content.x%25d", "mineral=%25s%25"])
def test_a_percent_sign_in_a_filter_value_is_a_400_naming_the_value(api, query):
    """Found by schemathesis: a filter's message holding a user's "%" was %-formatted (500)."""
    response = api.get(f"/api/taxonomy/standards/?{query}")
    assert response.status_code == 400
    assert "%" in json.dumps(response.json())
