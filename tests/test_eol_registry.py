"""Each passport's record for the EU digital product passport registry (ESPR Art. 13): read
one, list and download them all, export them by command, and send them to the registry
(off until DPP_REGISTRY_URL is set)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from passports import registry_record, services
from passports.registry_record import commodity_code
from passports.tasks import submit_dpp_registry_task

pytestmark = pytest.mark.django_db


def recycled(world):
    passport = services.passport_revise(
        passport=world.passport(serial="SN-RECYCLED"), data={}, battery_status="waste"
    )
    return services.passport_recycle(passport=passport, recycled_on=dt.date.today())


@pytest.mark.parametrize(
    ("chemistry", "code"),
    [
        ("NMC811", "8507 60"),
        ("LFP", "8507 60"),
        ("NCA", "8507 60"),
        ("Li-ion", "8507 60"),
        ("NiMH", "8507 50"),
        ("NiCd", "8507 30"),
        ("PbA", "8507 20"),
        ("Na-ion", "8507 80"),
    ],
)
def test_the_commodity_code_follows_the_chemistry(chemistry, code):
    assert commodity_code(chemistry) == code


def test_a_passports_record_names_it_its_operator_and_where_it_resolves(api, world):
    passport = world.passport()
    for user in (None, world.users["legitimate_interest"], world.owner):
        api.force_authenticate(user)
        response = api.get(f"/api/passports/{passport.internal_id}/registration/")
        assert response.status_code == 200
        record = response.json()
        assert record["unique_product_identifier"] == f"urn:uuid:{passport.uuid}"
        assert record["passport_identifier"] == passport.batterypass_id
        assert record["commodity_code"] == "8507 60"  # NMC811: lithium-ion accumulators
        assert record["operator_name"] == world.operator.legal_name
        assert record["unique_operator_identifier"]
        assert record["resolver_endpoint"].endswith(f"/p/{passport.internal_id}/")
        assert record["data_carrier"] == "QR code"
        assert record["status"] == "active" and record["ceased_at"] is None


def test_a_recycled_passports_record_says_it_ceased(api, world):
    passport = recycled(world)
    record = api.get(f"/api/passports/{passport.internal_id}/registration/").json()
    assert record["status"] == "ceased" and record["ceased_at"] is not None


def test_a_draft_has_no_record_and_answers_like_a_missing_passport(api, world):
    draft = world.passport(publish=False)
    api.force_authenticate(world.owner)
    hidden = api.get(f"/api/passports/{draft.internal_id}/registration/")
    missing = api.get("/api/passports/no-such-passport/registration/")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"].replace(draft.internal_id, "X") == missing.json()[
        "detail"
    ].replace("no-such-passport", "X")
    listed = api.get("/api/passports/registration/").json()["results"]
    assert draft.internal_id not in {r["internal_id"] for r in listed}


def test_the_record_list_is_paged_by_cursor_and_downloads_as_csv(api, world):
    passports = [world.passport(serial=f"SN-R-{i}") for i in range(3)]
    world.passport(publish=False, serial="SN-R-draft")
    first = api.get("/api/passports/registration/?page_size=2").json()
    second = api.get(first["next"]).json()
    listed = [r["internal_id"] for r in first["results"] + second["results"]]
    assert listed == [p.internal_id for p in passports]
    assert second["next"] is None

    response = api.get("/api/passports/registration/?format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["internal_id"] for r in rows] == [p.internal_id for p in passports]
    assert rows[0]["commodity_code"] == "8507 60"
    assert list(rows[0]) == list(registry_record.FIELDS)


def test_an_unknown_format_is_refused_naming_it(api, world):
    response = api.get("/api/passports/registration/?format=xml")
    assert response.status_code == 400
    assert "format" in response.json()


@pytest.mark.parametrize("count", [2, 6])
def test_the_record_list_reads_the_same_number_of_queries_however_many(api, world, count):
    for i in range(count):
        world.passport(serial=f"SN-Q-{i}")
    with CaptureQueriesContext(connection) as queries:
        response = api.get("/api/passports/registration/")
    assert response.status_code == 200 and len(response.json()["results"]) == count
    assert len(queries) == 1, [q["sql"] for q in queries]  # the page's rows
    with CaptureQueriesContext(connection) as queries:
        b"".join(api.get("/api/passports/registration/?format=csv").streaming_content)
    assert len(queries) == 1


def test_the_export_command_writes_every_record_as_json_or_csv(world, tmp_path):
    passports = [world.passport(serial="SN-E-1"), recycled(world)]
    out = io.StringIO()
    call_command("export_dpp_registry", stdout=out, stderr=io.StringIO())
    records = json.loads(out.getvalue())
    assert [r["internal_id"] for r in records] == [p.internal_id for p in passports]
    assert [r["status"] for r in records] == ["active", "ceased"]
    target = tmp_path / "registry.csv"
    call_command("export_dpp_registry", format="csv", output=str(target), stderr=io.StringIO())
    with target.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["unique_product_identifier"] for r in rows] == [
        f"urn:uuid:{p.uuid}" for p in passports
    ]


# --- The submitter ----------------------------------------------------------------------------


class Registry:
    """A local HTTP server standing in for the EU registry: keeps what it is sent."""

    def __init__(self, status: int = 201):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                received.append((self.headers["Content-Type"], json.loads(self.rfile.read(length))))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/records"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def test_the_submitter_is_off_by_default_and_says_so(world, settings):
    world.passport()
    assert settings.DPP_REGISTRY_URL == ""
    message = submit_dpp_registry_task.delay().get()
    assert "DPP_REGISTRY_URL is not set" in message and "nothing sent" in message


def test_the_submitter_posts_every_record_in_batches(world, settings):
    passports = [world.passport(serial=f"SN-S-{i}") for i in range(3)]
    with Registry() as registry:
        settings.DPP_REGISTRY_URL = registry.url
        result = registry_record.submit(chunk_size=2)
    assert (result.submitted, result.batches) == (3, 2)
    assert [kind for kind, _ in registry.received] == ["application/json"] * 2
    sent = [r for _, body in registry.received for r in body["records"]]
    assert [r["unique_product_identifier"] for r in sent] == [
        f"urn:uuid:{p.uuid}" for p in passports
    ]
    assert sent[0]["commodity_code"] == "8507 60"


def test_a_refusing_registry_fails_the_submission_naming_its_answer(world, settings):
    world.passport()
    with Registry(status=503) as registry:
        settings.DPP_REGISTRY_URL = registry.url
        with pytest.raises(registry_record.SubmissionFailed, match="503"):
            submit_dpp_registry_task.delay().get()
