"""Evidence files go through STORAGES (local filesystem or S3) and never by a public URL.

S3 mode runs against a real server that speaks S3: moto's standalone server, at
S3_TEST_ENDPOINT when set (CI: `bash .ci/services/s3.sh start`), else started here on a
free port; each test gets its own bucket. The S3 storage is configured exactly as
config/settings.py configures it from the environment (read from a subprocess).

moto refuses an unsigned GET of a private object (tested), but it does not check the
signature or the expiry of a presigned URL, only that one is present: so the expiry and
the signature are asserted on the URLs our code produces.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import default_storage, storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Max
from django.urls import Resolver404, clear_url_caches, resolve
from django.utils.functional import empty

from config.files import PrivateFileSystemStorage, download_response
from registry.models import Attestation, Evidence, Organisation

from .factories import make_attestation, make_company, make_org, make_user

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
KEY = "testing"  # moto takes any credentials
REGION = "us-east-1"


# --- The S3 server -------------------------------------------------------------


def _answers(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/", timeout=1) as response:
            response.read()
        return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint():
    """S3_TEST_ENDPOINT if set (it must answer), else a moto_server of our own."""
    endpoint = os.environ.get("S3_TEST_ENDPOINT", "").rstrip("/")
    if endpoint:
        if not _answers(endpoint):
            pytest.fail(f"S3_TEST_ENDPOINT={endpoint} does not answer")
        yield endpoint
        return
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    executable = shutil.which("moto_server", path=search)
    if executable is None:
        pytest.skip("no S3 server: set S3_TEST_ENDPOINT or pip install 'moto[server]'")
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [executable, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not _answers(endpoint):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"moto_server did not start on {endpoint}")
            time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _settings_from_env(**env) -> subprocess.CompletedProcess:
    """Import config.settings in a fresh interpreter with this environment; print the
    default storage it configures."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STORAGE_"))}
    clean.update({"DEBUG": "1", **env})
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, config.settings as s; print(json.dumps(s.STORAGES['default']))",
        ],
        cwd=django_settings.BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="session")
def s3_settings(s3_endpoint):
    """STORAGES['default'] as production builds it from the environment for this server."""
    result = _settings_from_env(
        STORAGE_BACKEND="s3",
        AWS_STORAGE_BUCKET_NAME="replaced-per-test",
        AWS_S3_ENDPOINT_URL=s3_endpoint,
        AWS_S3_REGION_NAME=REGION,
        AWS_S3_ADDRESSING_STYLE="path",
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _client(endpoint: str):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=KEY,
        aws_secret_access_key=KEY,
        config=Config(s3={"addressing_style": "path"}),
    )


# --- The storage, in each mode -------------------------------------------------


def _reset_storages() -> None:
    """Django keeps storage instances: `storages` caches its backends (the `backends`
    cached property, `_backends`) and instances (`_storages`); `default_storage` is a
    LazyObject holding the instance it resolved, and every FileField holds
    `default_storage`. Django's setting_changed receiver (storages_changed) clears them
    when STORAGES changes; done here too so no instance of the other mode survives."""
    storages.__dict__.pop("backends", None)
    storages._backends = None
    storages._storages = {}
    default_storage._wrapped = empty


@dataclass
class Store:
    mode: str
    root: Path | None = None
    endpoint: str | None = None
    bucket: str | None = None
    client: object = field(default=None, repr=False)

    def stored(self) -> list[str]:
        if self.mode == "local":
            return sorted(
                str(p.relative_to(self.root)) for p in self.root.rglob("*") if p.is_file()
            )
        listing = self.client.list_objects_v2(Bucket=self.bucket)
        return sorted(o["Key"] for o in listing.get("Contents", []))

    def secrets(self, evidence: Evidence) -> list[str]:
        """Strings that would give away where the file is stored."""
        found = [evidence.sha256, evidence.file.name, "/media/", "X-Amz-"]
        if self.bucket:
            found += [self.bucket, self.endpoint]
        return found


def _use_storage(request, settings, mode: str):
    """Point STORAGES['default'] at local files or at a fresh bucket; yield a Store."""
    if mode == "local":
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {"BACKEND": "config.files.PrivateFileSystemStorage"},
        }
        _reset_storages()
        assert isinstance(default_storage, PrivateFileSystemStorage)
        yield Store("local", root=Path(settings.MEDIA_ROOT))
        return
    from storages.backends.s3 import S3Storage

    endpoint = request.getfixturevalue("s3_endpoint")
    config = copy.deepcopy(request.getfixturevalue("s3_settings"))
    client = _client(endpoint)
    bucket = f"evidence-{uuid.uuid4().hex[:20]}"
    client.create_bucket(Bucket=bucket)
    config["OPTIONS"].update(bucket_name=bucket, access_key=KEY, secret_key=KEY)
    settings.STORAGES = {**settings.STORAGES, "default": config}
    _reset_storages()
    assert isinstance(default_storage, S3Storage)
    assert Evidence._meta.get_field("file").storage.bucket_name == bucket
    try:
        yield Store("s3", endpoint=endpoint, bucket=bucket, client=client)
    finally:
        for key in Store("s3", bucket=bucket, client=client).stored():
            client.delete_object(Bucket=bucket, Key=key)
        client.delete_bucket(Bucket=bucket)


@pytest.fixture(params=["local", "s3"])
def store(request, settings):
    """Each test that takes it runs once per storage mode."""
    yield from _use_storage(request, settings, request.param)


@pytest.fixture
def s3_store(request, settings):
    yield from _use_storage(request, settings, "s3")


# --- People and attestations ---------------------------------------------------


@pytest.fixture
def people():
    org = make_org("Automaker compliance")
    supplier = make_company("Supplier Refining Co")
    supplier_org = Organisation.objects.create(
        name="Supplier Refining Co (team)", kind="company", company=supplier
    )
    return {
        "org": org,
        "officer": make_user(org, "compliance_officer", username="officer"),
        "outsider": make_user(make_org("Elsewhere"), "compliance_officer", username="outsider"),
        # A member of the company the attestation is about: it appears on it, no more.
        "supplier_member": make_user(supplier_org, "compliance_officer", username="supplier"),
        "supplier": supplier,
    }


def create(api, people, **overrides) -> int:
    api.force_authenticate(people["officer"])
    body = {
        "company": people["supplier"].pk,
        "standard": "rmi-rmap",
        "type": "third_party_audit",
        "valid_from": "2025-01-01",
        "minerals": ["cobalt"],
        "visibility": "private",
        **overrides,
    }
    response = api.post("/api/registry/attestations/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def upload(api, user, aid, name="audit-report.pdf", content=PDF):
    api.force_authenticate(user)
    return api.post(
        f"/api/registry/attestations/{aid}/evidence/",
        {"file": SimpleUploadedFile(name, content)},
        format="multipart",
    )


def missing_attestation_id() -> int:
    return (Attestation.objects.aggregate(m=Max("id"))["m"] or 0) + 1000


def body_of(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def assert_presigned(location: str, store: Store, evidence: Evidence) -> dict:
    """A URL on our bucket for this object, signed, short-lived, forcing a download."""
    url = urlsplit(location)
    assert f"{url.scheme}://{url.netloc}" == store.endpoint
    assert url.path == f"/{store.bucket}/{evidence.file.name}"
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["X-Amz-Signature"]
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert 0 < int(query["X-Amz-Expires"]) <= django_settings.FILE_URL_EXPIRE_SECONDS
    assert query["response-content-disposition"].startswith("attachment;")
    assert evidence.filename in query["response-content-disposition"]
    assert query["response-content-type"] == evidence.content_type
    return query


# --- Upload and download by those who may ----------------------------------------


def test_the_logging_officer_uploads_and_downloads_evidence(api, people, store):
    aid = create(api, people)
    response = upload(api, people["officer"], aid)
    assert response.status_code == 201, response.json()
    data = response.json()
    evidence = Evidence.objects.get(pk=data["id"])
    sha = hashlib.sha256(PDF).hexdigest()
    assert evidence.file.name == f"evidence/{sha[:2]}/{sha}"
    assert store.stored() == [evidence.file.name]
    # The API names its own download route, never the storage's URL.
    assert data["download"] == (
        f"http://testserver/api/registry/attestations/{aid}/evidence/{evidence.pk}/"
    )

    download = api.get(data["download"])
    if store.mode == "local":
        assert download.status_code == 200
        assert body_of(download) == PDF
        assert download["Content-Type"] == "application/pdf"
        assert download["Content-Disposition"] == 'attachment; filename="audit-report.pdf"'
        assert download["X-Content-Type-Options"] == "nosniff"
        assert download["Content-Security-Policy"] == "sandbox; default-src 'none'"
        assert download["Cache-Control"] == "private"
        assert download["Digest"] == f"sha-256={sha}"
        return
    assert download.status_code == 302
    assert download["Cache-Control"] == "private, no-store"
    assert_presigned(download["Location"], store, evidence)
    with urllib.request.urlopen(download["Location"], timeout=10) as fetched:
        assert fetched.status == 200
        assert fetched.read() == PDF
        assert fetched.headers["Content-Disposition"].startswith("attachment;")
        assert fetched.headers["Content-Type"] == "application/pdf"


def test_the_same_bytes_are_stored_once(api, people, store):
    first, second = create(api, people), create(api, people, reference="AUD-2")
    assert upload(api, people["officer"], first, "a.pdf").status_code == 201
    assert upload(api, people["officer"], second, "b.pdf").status_code == 201
    names = {e.file.name for e in Evidence.objects.all()}
    assert Evidence.objects.count() == 2
    assert len(names) == 1
    assert store.stored() == sorted(names)  # one object, and no renamed copy beside it


# --- Refused without access, on every route ----------------------------------------


@pytest.mark.parametrize("who", ["anonymous", "outsider", "supplier_member"])
def test_without_access_evidence_is_the_404_of_a_missing_id(api, people, store, who):
    aid = create(api, people)
    evidence = Evidence.objects.get(pk=upload(api, people["officer"], aid).json()["id"])
    missing = missing_attestation_id()
    routes = [
        "/api/registry/attestations/{}/",
        "/api/registry/attestations/{}/evidence/",
        "/api/registry/attestations/{}/evidence/" + f"{evidence.pk}/",
        "/api/registry/attestations/{}/history/",
    ]
    api.force_authenticate(people.get(who))
    for route in routes:
        refused = api.get(route.format(aid))
        absent = api.get(route.format(missing))
        assert refused.status_code == absent.status_code == 404, route
        assert body_of(refused) == body_of(absent), route
    # Nor can they add to it.
    assert upload(api, people.get(who), aid, "b.pdf", PDF + b" ").status_code in (401, 403, 404)
    # Nothing they can read gives the file's place away.
    api.force_authenticate(people.get(who))
    pages = [
        api.get("/api/registry/attestations/"),
        api.get(f"/api/registry/companies/{people['supplier'].pk}/coverage/"),
        api.get(f"/companies/{people['supplier'].pk}/"),
    ]
    for page in pages:
        assert page.status_code == 200
        text = body_of(page).decode()
        for secret in store.secrets(evidence):
            assert secret not in text


def test_an_evidence_id_of_another_attestation_is_a_404(api, people, store):
    private = create(api, people)
    evidence = Evidence.objects.get(pk=upload(api, people["officer"], private).json()["id"])
    public = create(api, people, visibility="public", reference="PUB-1")
    unknown = (Evidence.objects.aggregate(m=Max("id"))["m"] or 0) + 1000
    for user in (people["outsider"], people["officer"]):
        api.force_authenticate(user)
        through_public = api.get(f"/api/registry/attestations/{public}/evidence/{evidence.pk}/")
        nonexistent = api.get(f"/api/registry/attestations/{public}/evidence/{unknown}/")
        assert through_public.status_code == nonexistent.status_code == 404
        assert body_of(through_public) == body_of(nonexistent)


def test_those_with_access_see_only_the_download_route(api, people, store):
    aid = create(api, people)
    upload(api, people["officer"], aid)
    evidence = Evidence.objects.get()
    api.force_authenticate(people["officer"])
    for url in (
        f"/api/registry/attestations/{aid}/",
        f"/api/registry/attestations/{aid}/evidence/",
        "/api/registry/attestations/",
    ):
        text = api.get(url).content.decode()
        assert f"/api/registry/attestations/{aid}/evidence/{evidence.pk}/" in text
        for secret in store.secrets(evidence)[1:]:  # the SHA-256 itself is listed, by design
            assert secret not in text


# --- No public URL ---------------------------------------------------------------


def test_media_url_is_routed_nowhere_even_in_debug(client, settings, people, api):
    import config.urls

    aid = create(api, people)
    evidence = Evidence.objects.get(pk=upload(api, people["officer"], aid).json()["id"])
    assert (Path(settings.MEDIA_ROOT) / evidence.file.name).is_file()
    debug = settings.DEBUG
    settings.DEBUG = True
    importlib.reload(config.urls)
    clear_url_caches()
    try:
        path = f"/{settings.MEDIA_URL.strip('/')}/{evidence.file.name}"
        with pytest.raises(Resolver404):
            resolve(path)
        response = client.get(path)
        assert response.status_code == 404
        assert PDF not in response.content
    finally:
        settings.DEBUG = debug
        importlib.reload(config.urls)
        clear_url_caches()


def test_storage_urls_are_refused_or_signed(api, people, store):
    aid = create(api, people)
    evidence = Evidence.objects.get(pk=upload(api, people["officer"], aid).json()["id"])
    if store.mode == "local":
        with pytest.raises(NotImplementedError):
            evidence.file.url  # noqa: B018
        return
    # What the storage itself produces is signed and short-lived too.
    query = parse_qs(urlsplit(evidence.file.url).query)
    assert query["X-Amz-Signature"][0]
    assert int(query["X-Amz-Expires"][0]) <= django_settings.FILE_URL_EXPIRE_SECONDS


def test_the_bucket_refuses_an_unsigned_request(api, people, s3_store):
    store = s3_store
    aid = create(api, people)
    evidence = Evidence.objects.get(pk=upload(api, people["officer"], aid).json()["id"])
    grants = store.client.get_object_acl(Bucket=store.bucket, Key=evidence.file.name)["Grants"]
    assert not [g for g in grants if "AllUsers" in g["Grantee"].get("URI", "")]
    bare = f"{store.endpoint}/{store.bucket}/{evidence.file.name}"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(bare, timeout=10)
    assert refused.value.code == 403


def test_an_unsigned_url_is_never_handed_out(s3_store, settings):
    """Misconfigured (no query-string auth), the S3 storage would give a bare URL: the
    download helper refuses to redirect to it."""
    config = copy.deepcopy(settings.STORAGES["default"])
    config["OPTIONS"]["querystring_auth"] = False
    settings.STORAGES = {**settings.STORAGES, "default": config}
    _reset_storages()
    default_storage.save("evidence/00/unsigned", SimpleUploadedFile("x", b"x"))
    file = Evidence(file="evidence/00/unsigned").file
    with pytest.raises(ImproperlyConfigured, match="unsigned"):
        download_response(file, filename="x.txt", content_type="text/plain")


# --- The admin -----------------------------------------------------------------


def test_the_admin_links_evidence_to_its_own_download_view(client, api, admin_user, people, store):
    attestation = make_attestation(people["supplier"], "irma", people["org"], visibility="private")
    upload(api, people["officer"], attestation.pk)
    evidence = Evidence.objects.get()
    download = f"/admin/registry/attestation/{attestation.pk}/evidence/{evidence.pk}/"

    client.force_login(admin_user)
    page = client.get(f"/admin/registry/attestation/{attestation.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'href="{download}"' in html
    for secret in store.secrets(evidence)[1:]:  # the SHA-256 is shown as a field
        assert secret not in html

    served = client.get(download)
    if store.mode == "local":
        assert served.status_code == 200
        assert body_of(served) == PDF
        assert served["Content-Security-Policy"] == "sandbox; default-src 'none'"
    else:
        assert served.status_code == 302
        assert_presigned(served["Location"], store, evidence)
    unknown = Evidence.objects.aggregate(m=Max("id"))["m"] + 1000
    unknown_url = f"/admin/registry/attestation/{attestation.pk}/evidence/{unknown}/"
    assert client.get(unknown_url).status_code == 404

    # Staff without the view permission are refused; everyone else is sent to log in.
    staff = make_user(username="staff-no-perms", is_staff=True)
    client.force_login(staff)
    assert client.get(download).status_code == 403
    client.force_login(people["officer"])
    assert client.get(download).status_code == 302
    assert "/admin/login/" in client.get(download)["Location"]
    client.logout()
    assert "/admin/login/" in client.get(download)["Location"]


# --- Settings --------------------------------------------------------------------


def test_settings_choose_the_storage_from_the_environment():
    local = _settings_from_env()
    assert local.returncode == 0, local.stderr
    assert json.loads(local.stdout.splitlines()[-1]) == {
        "BACKEND": "config.files.PrivateFileSystemStorage"
    }
    s3 = _settings_from_env(
        STORAGE_BACKEND="s3", AWS_STORAGE_BUCKET_NAME="registry-files", FILE_URL_EXPIRE_SECONDS="30"
    )
    assert s3.returncode == 0, s3.stderr
    options = json.loads(s3.stdout.splitlines()[-1])["OPTIONS"]
    assert options["bucket_name"] == "registry-files"
    assert options["querystring_auth"] is True
    assert options["querystring_expire"] == 30
    assert options["file_overwrite"] is False
    assert options["custom_domain"] is None
    assert options["default_acl"] == "private"
    assert options["signature_version"] == "s3v4"


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"STORAGE_BACKEND": "s3"}, "AWS_STORAGE_BUCKET_NAME"),
        ({"STORAGE_BACKEND": "ftp"}, "STORAGE_BACKEND"),
        ({"FILE_URL_EXPIRE_SECONDS": "86400"}, "FILE_URL_EXPIRE_SECONDS"),
    ],
)
def test_a_bad_storage_setting_stops_start_up(env, needle):
    result = _settings_from_env(**env)
    assert result.returncode != 0
    assert needle in result.stderr
