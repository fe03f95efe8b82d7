"""Operations: /healthz, /readyz (each dependency, really stopped), /metrics, request ids, logs."""

from __future__ import annotations

import contextlib
import glob
import io
import json
import logging
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import Client

from config import health
from config.request_id import (
    JsonFormatter,
    RequestIdFilter,
    _task_postrun,
    _task_prerun,
    get_request_id,
)
from tests.factories import make_user


@pytest.fixture(autouse=True)
def _no_probe_left_running():
    """A probe thread that outlived its deadline must not spill into the next test."""
    yield
    for thread in list(health._running.values()):
        thread.join(10)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


OPERATOR_TOKEN = "operator-token-for-readyz-details"


@pytest.fixture(autouse=True)
def operator_token(settings):
    settings.METRICS_TOKEN = OPERATOR_TOKEN


def readyz(client=None, operator=True):
    """/readyz as the operators see it (with the error messages), or as anyone does."""
    started = time.monotonic()
    headers = {"Authorization": f"Bearer {django_settings.METRICS_TOKEN}"} if operator else {}
    response = (client or Client()).get("/readyz", headers=headers)
    return response, response.json(), time.monotonic() - started


# --- /healthz ----------------------------------------------------------------
def test_healthz_answers_without_any_io():
    # No db fixture: a database query here would fail the test.
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-store" in response["Cache-Control"]


# --- /readyz: all up ---------------------------------------------------------
def test_readyz_is_200_listing_every_check_with_its_time(db):
    response, body, _ = readyz()
    assert response.status_code == 200, body
    assert "no-store" in response["Cache-Control"]
    assert body["status"] == "ok"
    assert body["failed"] == []
    expected = {f"database:{alias}" for alias in django_settings.DATABASES} | {
        "cache:default",
        "storage",
    }
    assert expected <= set(body["checks"])
    for result in body["checks"].values():
        assert result["ok"] is True
        assert isinstance(result["ms"], int | float)
    # memory:// runs tasks in-process: there is no broker to reach.
    if django_settings.CELERY_BROKER_URL.startswith("memory://"):
        assert "broker" not in body["checks"]


def test_readyz_needs_no_login_and_ignores_a_bad_session(db):
    client = Client()
    client.cookies["sessionid"] = "not-a-session"
    response, body, _ = readyz(client)
    assert response.status_code == 200, body


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379")
def test_readyz_with_a_real_redis_cache_and_broker(db, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/15",
        }
    }
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/15"
    response, body, _ = readyz()
    assert response.status_code == 200, body
    assert body["checks"]["cache:default"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True


# --- /readyz: a PostgreSQL that really stops ---------------------------------
def _postgres_bindir() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return str(Path(found[-1]).parent)
    initdb = shutil.which("initdb")
    return str(Path(initdb).parent) if initdb else None


def _as_postgres_prefix() -> list[str] | None:
    """How to run the server's binaries: directly if not root, else as the postgres user."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return None
    runuser = shutil.which("runuser")
    return [runuser, "-u", "postgres", "--"] if runuser else None


@pytest.fixture(scope="module")
def throwaway_postgres():
    """A PostgreSQL cluster of our own (initdb in a temporary folder, a free port)."""
    bindir = _postgres_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    prefix = _as_postgres_prefix()
    if prefix is None:
        pytest.skip("running as root without a postgres OS user (or runuser) to run initdb as")
    folder = tempfile.mkdtemp(prefix="readyz-pg-")
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data = os.path.join(folder, "data")
    port = closed_port()

    def run(*args, check=True):
        return subprocess.run(
            [*prefix, *args], capture_output=True, text=True, timeout=120, check=check
        )

    try:
        try:
            run(f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync")
        except subprocess.CalledProcessError as exc:
            pytest.skip(f"initdb as the postgres user failed: {exc.stderr.strip()[-300:]}")
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"

        def start():
            if run(f"{bindir}/pg_ctl", "-D", data, "status", check=False).returncode != 0:
                log = f"{folder}/log"
                run(f"{bindir}/pg_ctl", "-D", data, "-o", options, "-l", log, "-w", "start")

        def stop(mode="fast"):
            return run(f"{bindir}/pg_ctl", "-D", data, "-m", mode, "-w", "stop", check=False)

        start()
        yield {"port": port, "start": start, "stop": stop}
    finally:
        if os.path.exists(os.path.join(data, "postmaster.pid")):
            run(f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def extra_database(throwaway_postgres):
    """The throwaway cluster as one more alias in settings.DATABASES and connections.

    connections.settings is settings.DATABASES (the same dict) unless DATABASES was
    overridden, and it is not refreshed on setting_changed: so the alias is added to
    both in place, with the defaults Django's ConnectionHandler fills in, and removed
    (its connection closed) afterwards.
    """
    throwaway_postgres["start"]()  # an earlier test may have stopped it
    alias = "readyz_probe"
    config = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "postgres",
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": "127.0.0.1",
        "PORT": str(throwaway_postgres["port"]),
        "CONN_MAX_AGE": 0,
        "OPTIONS": {"connect_timeout": 2},
    }
    config = connections.configure_settings(
        {DEFAULT_DB_ALIAS: dict(connections.settings[DEFAULT_DB_ALIAS]), alias: config}
    )[alias]
    django_settings.DATABASES[alias] = config
    connections.settings[alias] = config
    try:
        yield alias, throwaway_postgres["stop"]
    finally:
        with contextlib.suppress(Exception):
            connections[alias].close()
        with contextlib.suppress(AttributeError):
            del connections[alias]
        django_settings.DATABASES.pop(alias, None)
        connections.settings.pop(alias, None)


@pytest.fixture
def probe_db(db, django_db_blocker):
    """The test database, and connections from probe threads to the extra alias.

    A Django test case lets threads connect only to the aliases it declares, and it
    fixes them before the alias here exists (declaring it would also open a transaction
    on it, which the stop would break). The probes only SELECT 1: lift that guard.
    """
    real = getattr(django_db_blocker, "_real_ensure_connection", None)
    if real is None:  # pragma: no cover - pytest-django changed its internals
        pytest.skip("cannot reach pytest-django's unpatched ensure_connection")
    with mock.patch.object(BaseDatabaseWrapper, "ensure_connection", real):
        yield


def test_readyz_is_503_naming_the_database_that_stopped(probe_db, extra_database):
    alias, stop = extra_database
    response, body, _ = readyz()
    assert response.status_code == 200, body
    assert body["checks"][f"database:{alias}"]["ok"] is True

    result = stop("fast")
    assert result.returncode == 0, result.stderr

    response, body, elapsed = readyz()
    assert response.status_code == 503, body
    assert body["status"] == "unavailable"
    assert body["failed"] == [f"database:{alias}"]
    failed = body["checks"][f"database:{alias}"]
    assert failed["ok"] is False
    assert failed["error"].startswith("OperationalError")
    assert isinstance(failed["ms"], int | float)
    # The rest is still checked and reported.
    assert body["checks"][f"database:{DEFAULT_DB_ALIAS}"]["ok"] is True
    assert body["checks"]["cache:default"]["ok"] is True
    assert body["checks"]["storage"]["ok"] is True
    assert elapsed < 5


def test_the_database_check_leaves_no_connection_open(probe_db, extra_database):
    alias, stop = extra_database
    health._check_database(alias)
    assert connections[alias].connection is None
    stop("fast")
    with pytest.raises(Exception, match="(?i)connect|refused"):
        health._check_database(alias)
    assert connections[alias].connection is None


# --- /readyz: cache, broker, storage ----------------------------------------
def test_readyz_is_503_naming_the_cache_on_a_closed_port(db, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://:cache-pw-123@127.0.0.1:{closed_port()}/0",
        }
    }
    response, body, elapsed = readyz()
    assert response.status_code == 503, body
    assert body["failed"] == ["cache:default"]
    assert body["checks"]["cache:default"]["error"].startswith("ConnectionError")
    assert body["checks"][f"database:{DEFAULT_DB_ALIAS}"]["ok"] is True
    assert "cache-pw-123" not in response.content.decode()
    assert elapsed < 5


def test_readyz_is_503_naming_the_broker_on_a_closed_port_and_answers_quickly(db, settings):
    settings.CELERY_BROKER_URL = f"redis://:broker-pw-123@127.0.0.1:{closed_port()}/0"
    response, body, elapsed = readyz()
    assert response.status_code == 503, body
    assert body["failed"] == ["broker"]
    assert body["checks"]["broker"]["ok"] is False
    assert "OperationalError" in body["checks"]["broker"]["error"]
    assert "broker-pw-123" not in response.content.decode()
    assert elapsed < 3


def test_a_broker_that_never_answers_cannot_hold_the_probe(db, settings):
    # Accepts connections (the kernel does, from the backlog) and never says a word.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        settings.READYZ_TIMEOUT = 1
        response, body, elapsed = readyz()
    assert response.status_code == 503, body
    assert body["failed"] == ["broker"]
    assert "Timeout" in body["checks"]["broker"]["error"]
    assert elapsed < 2.5


def test_readyz_is_503_naming_storage_whose_root_cannot_exist(db, settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    settings.MEDIA_ROOT = blocker / "media"  # under a regular file: can never be made
    response, body, _ = readyz()
    assert response.status_code == 503, body
    assert body["failed"] == ["storage"]
    assert body["checks"]["storage"]["error"].startswith("FileNotFoundError")

    settings.MEDIA_ROOT = blocker  # a file where the folder should be
    response, body, _ = readyz()
    assert response.status_code == 503, body
    assert body["checks"]["storage"]["error"].startswith("NotADirectoryError")
    assert str(tmp_path) not in response.content.decode()  # no paths handed out


class UnreachableStorage:
    """Stands for an object store that refuses (what S3Storage.exists() raises)."""

    def exists(self, name):
        raise PermissionError("An error occurred (403) when calling the HeadObject operation")


def test_readyz_probes_any_storage_backend_through_exists(db, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": f"{__name__}.UnreachableStorage"},
    }
    response, body, _ = readyz()
    assert response.status_code == 503, body
    assert body["failed"] == ["storage"]
    assert "403" in body["checks"]["storage"]["error"]


def test_anyone_learns_what_failed_but_only_operators_learn_why(db, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": f"{__name__}.UnreachableStorage"},
    }
    _, public, _ = readyz(operator=False)
    _, operator, _ = readyz()
    assert public["failed"] == operator["failed"] == ["storage"]
    assert public["checks"]["storage"]["error"] == "PermissionError"
    assert "HeadObject" in operator["checks"]["storage"]["error"]


def test_errors_never_carry_credentials(settings):
    settings.METRICS_TOKEN = "metrics-token-xyz"
    error = RuntimeError(
        "cannot reach amqp://user:hunter2@mq:5672// password=opensesame "
        "token 'metrics-token-xyz'\nsecond line"
    )
    text = health.describe_error(error)
    assert text.startswith("RuntimeError: cannot reach amqp://***@mq:5672//")
    for secret in ("hunter2", "opensesame", "metrics-token-xyz", "\n"):
        assert secret not in text


# --- /metrics ---------------------------------------------------------------
@pytest.fixture
def metrics_token(settings):
    settings.METRICS_TOKEN = "scrape-" + "x" * 32
    return settings.METRICS_TOKEN


def test_metrics_are_hidden_from_anonymous_users(db, metrics_token):
    assert Client().get("/metrics").status_code == 404
    assert Client().post("/metrics").status_code == 404


def test_metrics_are_hidden_from_logged_in_non_staff(db, metrics_token):
    client = Client()
    client.force_login(make_user())
    assert client.get("/metrics").status_code == 404


def test_metrics_are_hidden_from_a_wrong_bearer(db, metrics_token):
    client = Client()
    for header in (
        "Bearer wrong",
        f"Bearer {metrics_token}x",
        f"Token {metrics_token}",
        "Bearer ",
    ):
        assert client.get("/metrics", HTTP_AUTHORIZATION=header).status_code == 404, header


def test_an_empty_metrics_token_opens_nothing(db, settings):
    settings.METRICS_TOKEN = ""
    response = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 404


def test_metrics_are_shown_to_staff(db, metrics_token):
    client = Client()
    client.get("/healthz")  # at least one request counted
    client.force_login(make_user(is_staff=True))
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert "no-store" in response["Cache-Control"]
    assert "django_http_requests_total" in response.content.decode()


def test_metrics_are_shown_to_the_right_bearer(db, metrics_token):
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {metrics_token}")
    assert response.status_code == 200
    assert "django_http_requests_total" in response.content.decode()


def test_metrics_aggregate_processes_when_multiprocess_dir_is_set(
    db, metrics_token, monkeypatch, tmp_path
):
    # The counters of this process were made in single-process mode, so the (empty)
    # folder is all a MultiProcessCollector finds: proof that it is the one asked.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {metrics_token}")
    assert response.status_code == 200
    assert "django_http_requests_total" not in response.content.decode()


# --- request ids ------------------------------------------------------------
def test_every_response_carries_a_request_id():
    response = Client().get("/healthz")
    request_id = response["X-Request-ID"]
    assert len(request_id) == 32 and int(request_id, 16) >= 0
    assert Client().get("/healthz")["X-Request-ID"] != request_id
    assert get_request_id() == "-"  # nothing left behind after the request


def test_a_sane_incoming_request_id_is_echoed():
    sane = "edge-7f3a.9_b-" + "a" * 100
    response = Client().get("/healthz", HTTP_X_REQUEST_ID=sane)
    assert response["X-Request-ID"] == sane


@pytest.mark.parametrize(
    "insane",
    ["a" * 129, "two words", "line\nbreak", "semi;colon", 'quote"d', "ünïcode", ""],
)
def test_an_insane_incoming_request_id_is_replaced(insane):
    response = Client().get("/healthz", HTTP_X_REQUEST_ID=insane)
    replaced = response["X-Request-ID"]
    assert replaced != insane
    assert len(replaced) == 32 and int(replaced, 16) >= 0


@pytest.fixture
def json_log():
    """Formatted output of the JSON formatter, as production writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    loggers = [logging.getLogger(name) for name in ("access", "django.request", "registry")]
    saved = [(logger, logger.level) for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)

    def lines():
        return [json.loads(line) for line in stream.getvalue().splitlines() if line]

    yield lines
    for logger, level in saved:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_a_request_writes_a_json_access_line_with_its_request_id(db, json_log):
    user = make_user()
    client = Client()
    client.force_login(user)
    response = client.get("/no-such-page/?secret=1", HTTP_X_REQUEST_ID="trace-42")
    assert response.status_code == 404
    lines = json_log()
    access = [line for line in lines if line["logger"] == "access"]
    assert len(access) == 1
    (line,) = access
    assert line["request_id"] == "trace-42"
    assert line["method"] == "GET"
    assert line["path"] == "/no-such-page/"  # never the query string
    assert line["status"] == 404
    assert isinstance(line["duration_ms"], int | float)
    assert line["level"] == "INFO"
    assert line["time"].endswith("Z")
    # Django's own "Not Found" line, written after the middleware returned, has it too.
    (not_found,) = [line for line in lines if line["logger"] == "django.request"]
    assert not_found["request_id"] == "trace-42"


def test_the_access_line_names_an_authenticated_user(db, json_log):
    user = make_user()
    client = Client()
    client.force_login(user)
    client.get("/api/taxonomy/cells/")
    (line,) = [line for line in json_log() if line["logger"] == "access"]
    assert line["status"] == 200
    assert line["user_id"] == user.pk


def test_records_outside_a_request_have_a_dash(json_log):
    logging.getLogger("registry").info("between requests")
    (line,) = json_log()
    assert line["request_id"] == "-"
    assert line["message"] == "between requests"


def test_a_worker_task_logs_with_its_task_id():
    _task_prerun(task_id="task-123")
    try:
        assert get_request_id() == "task-123"
    finally:
        _task_postrun(task_id="task-123")
    assert get_request_id() == "-"


def _settings_in_subprocess(code: str, **env):
    clean = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "LOG_FORMAT")}
    clean.update({"SECRET_KEY": "s3cret", **env})
    return subprocess.run(
        [sys.executable, "-c", f"import config.settings as s; {code}"],
        cwd=django_settings.BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_log_format_is_json_in_production_text_in_development_and_checked():
    show = "print(s.LOGGING['handlers']['console']['formatter'])"
    assert _settings_in_subprocess(show, DEBUG="0").stdout.strip() == "json"
    assert _settings_in_subprocess(show, DEBUG="1").stdout.strip() == "text"
    assert _settings_in_subprocess(show, DEBUG="1", LOG_FORMAT="json").stdout.strip() == "json"
    bad = _settings_in_subprocess(show, DEBUG="0", LOG_FORMAT="xml")
    assert bad.returncode != 0 and "LOG_FORMAT" in bad.stderr


def test_probe_threads_do_not_pile_up_behind_a_hung_check():
    release = threading.Event()
    checks = [("slow", release.wait)]
    first = health.run_checks(checks, 0.2)
    second = health.run_checks(checks, 0.2)
    release.set()
    assert first["slow"]["ok"] is False and "no answer within" in first["slow"]["error"]
    assert "previous probe" in second["slow"]["error"]
