"""Read replicas: reads go to a replica, writes to the primary, a writer reads its writes.

The router and middleware tests need no replica and run everywhere (SQLite included).
The others run against a real PostgreSQL streaming standby (`.ci/services/replica.sh
start`, then DATABASE_REPLICA_URLS=postgresql://postgres@127.0.0.1:5433/<name>): under the
test runner the replica alias reads the standby's copy of the test database (TEST MIRROR).
They pause WAL replay on the standby, so it is deterministically stale: a read routed to
the replica does not see a row just committed on the primary.
"""

import os
import socket
import subprocess
import sys
import time
from contextlib import suppress
from types import SimpleNamespace

import pytest
from celery import shared_task
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import MiddlewareNotUsed
from django.db import connection, connections, router, transaction
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.services import issue_token
from config import db_router
from config.celery import app
from config.db_router import PrimaryReplicaRouter
from config.middleware import ReplicaPinMiddleware
from registry.models import Company

from .factories import make_company, make_org, make_user

REPLICA = "replica1"
HAS_REPLICA = (
    bool(os.environ.get("DATABASE_REPLICA_URLS"))
    and connection.vendor == "postgresql"
    and REPLICA in settings.DATABASES
)
needs_replica = pytest.mark.skipif(
    not HAS_REPLICA,
    reason="needs PostgreSQL and a streaming replica in DATABASE_REPLICA_URLS "
    "(.ci/services/replica.sh start)",
)
ROUTER = "config.db_router.PrimaryReplicaRouter"


@pytest.fixture(autouse=True)
def fresh_pin():
    """Each test starts unpinned (a write anywhere before, even the reference data load,
    pins the thread it ran in), as a request, a worker's task or a new command would."""
    with db_router.scope():
        yield


@shared_task(name="tests.replica_probe")
def replica_probe(company_id):
    """What a worker sees: is the job pinned, and does it find the company?"""
    return {
        "pinned": db_router.is_pinned(),
        "found": Company.objects.filter(pk=company_id).exists(),
    }


# --- The router, no database needed ------------------------------------------------------


def test_reads_go_to_the_replicas_until_a_write_pins_the_context():
    replicas = ["replica1", "replica2"]
    r = PrimaryReplicaRouter(replicas)
    assert {r.db_for_read(Company) for _ in range(200)} == set(replicas)
    assert r.db_for_write(Company) == "default"
    assert db_router.is_pinned()
    assert {r.db_for_read(Company) for _ in range(20)} == {"default"}


def test_a_new_scope_is_unpinned_and_the_previous_pin_comes_back_after_it():
    r = PrimaryReplicaRouter(["replica1"])
    r.db_for_write(Company)
    with db_router.scope() as state:
        assert r.db_for_read(Company) == "replica1"
        assert not state.wrote
        r.db_for_write(Company)
        assert state.wrote and r.db_for_read(Company) == "default"
    with db_router.scope(pinned=True):
        assert r.db_for_read(Company) == "default"
    assert db_router.is_pinned()


def test_relations_of_an_object_read_from_the_primary_are_read_there():
    r = PrimaryReplicaRouter(["replica1"])
    from_primary, from_replica = Company(), Company()
    from_primary._state.db, from_replica._state.db = "default", "replica1"
    assert r.db_for_read(Company, instance=from_primary) == "default"
    assert r.db_for_read(Company, instance=from_replica) == "replica1"
    assert r.db_for_read(Company, instance=Company()) == "replica1"


def test_without_replicas_everything_is_the_primary():
    assert PrimaryReplicaRouter([]).db_for_read(Company) == "default"


def test_a_read_inside_a_transaction_reads_the_primary(monkeypatch):
    r = PrimaryReplicaRouter(["replica1"])
    monkeypatch.setattr(connections["default"], "in_atomic_block", True)
    assert r.db_for_read(Company) == "default"


def test_migrations_only_on_the_primary_relations_everywhere():
    r = PrimaryReplicaRouter(["replica1", "replica2"])
    assert r.allow_migrate("default", "registry")
    assert r.allow_migrate("default", "registry", model_name="company")
    assert not r.allow_migrate("replica1", "registry")
    assert not r.allow_migrate("replica2", "auth", model_name="user")
    assert r.allow_relation(Company(), Company())


def test_select_for_update_is_routed_as_a_write(monkeypatch):
    """Django routes a locking read with db_for_write (QuerySet.db: `_for_write`)."""
    monkeypatch.setattr(router, "routers", [PrimaryReplicaRouter(["replica1"])])
    assert Company.objects.filter(pk=1).db == "replica1"
    assert Company.objects.select_for_update().filter(pk=1).db == "default"
    assert Company.objects.select_for_update(skip_locked=True).db == "default"


@pytest.mark.django_db
def test_a_test_in_a_transaction_reads_the_primary(monkeypatch):
    """pytest-django wraps a test in a transaction on default: the existing suite keeps
    reading what it wrote when replicas are configured."""
    monkeypatch.setattr(router, "routers", [PrimaryReplicaRouter(["replica1"])])
    with db_router.scope():
        assert router.db_for_read(Company) == "default"


def test_a_job_sent_from_a_pinned_context_carries_the_pin():
    headers = {}
    db_router._mark_pinned_task(headers=headers)
    assert headers == {}
    db_router.pin()
    db_router._mark_pinned_task(headers=headers)
    assert headers == {db_router.TASK_HEADER: True}


@pytest.mark.django_db
def test_a_job_run_eagerly_shares_its_callers_pin():
    assert replica_probe.apply(args=[0]).get() == {"pinned": False, "found": False}
    with db_router.scope(pinned=True):
        assert replica_probe.apply(args=[0]).get()["pinned"] is True


# --- The middleware, no database needed ----------------------------------------------------


@pytest.fixture
def pinning(settings):
    settings.DATABASE_ROUTERS = [ROUTER]
    settings.REPLICA_PIN_SECONDS = 1
    seen = []

    def view(request):
        seen.append(db_router.is_pinned())
        if request.GET.get("write"):
            db_router.pin()  # what the router does on any write
        return HttpResponse("ok")

    middleware = ReplicaPinMiddleware(view)
    factory = RequestFactory()
    tag = f"{os.getpid()}-{time.monotonic_ns()}"  # cache keys unique to this test

    def call(method="get", path="/", auth=None, session=None, user=None):
        """What the view saw: was the request pinned to the primary?"""
        headers = {"HTTP_AUTHORIZATION": auth} if auth else {}
        request = getattr(factory, method)(path, **headers)
        request.session = SimpleNamespace(session_key=session and f"{session}-{tag}")
        request.user = user or AnonymousUser()
        middleware(request)
        return seen[-1]

    return SimpleNamespace(call=call, tag=tag)


def test_an_anonymous_read_is_not_pinned(pinning):
    assert pinning.call() is False
    assert not db_router.is_pinned()  # the request's pin ends with it


def test_a_write_pins_the_request_and_the_requesters_next_requests(pinning):
    token = f"Token w-{pinning.tag}"
    assert pinning.call("post", auth=token) is True
    assert pinning.call(auth=token) is True  # the same client, or another process
    assert pinning.call(auth=f"Token other-{pinning.tag}") is False
    assert pinning.call() is False
    time.sleep(1.1)  # REPLICA_PIN_SECONDS = 1
    assert pinning.call(auth=token) is False


def test_a_safe_request_that_wrote_pins_its_session_and_user(pinning):
    user = SimpleNamespace(is_authenticated=True, pk=f"u-{pinning.tag}")
    assert pinning.call(path="/?write=1", session="s1") is False  # pinned from its write on
    assert pinning.call(session="s1") is True
    assert pinning.call(session="s2") is False
    pinning.call("post", session="s3", user=user)
    assert pinning.call(session="s4", user=user) is True  # same user, another session
    assert pinning.call(session="s5") is False


def test_without_a_readable_cache_requests_read_the_primary(pinning, monkeypatch):
    from django.core.cache import cache

    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get_many", down)
    assert pinning.call(auth="Token x") is True


def test_the_middleware_removes_itself_without_replicas(settings):
    settings.DATABASE_ROUTERS = []
    with pytest.raises(MiddlewareNotUsed):
        ReplicaPinMiddleware(lambda request: HttpResponse())


# --- Against a real streaming replica --------------------------------------------------------

replica_db = pytest.mark.django_db(transaction=True, databases=["default", REPLICA])


def _one(alias, sql, params=()):
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def _standby_has_the_test_database(timeout=30.0):
    """The standby receives the test database by streaming: wait for its CREATE DATABASE
    before the replica alias connects to it (asked of the standby's `postgres` database)."""
    import psycopg

    db = connections[REPLICA].settings_dict
    conninfo = {"host": db["HOST"], "port": db["PORT"], "user": db["USER"], "dbname": "postgres"}
    started = time.monotonic()
    with psycopg.connect(**conninfo, autocommit=True) as standby:
        query = "SELECT 1 FROM pg_database WHERE datname = %s"
        while not standby.execute(query, [db["NAME"]]).fetchone():
            assert time.monotonic() - started < timeout, "the standby lacks the test database"
            time.sleep(0.05)


def wait_for_replay(timeout=30.0) -> float:
    """Wait until the standby has replayed all the primary has written; seconds waited."""
    _standby_has_the_test_database()
    target = _one("default", "SELECT pg_current_wal_lsn()::text")
    started = time.monotonic()
    while not _one(REPLICA, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]):
        assert time.monotonic() - started < timeout, "the replica did not catch up"
        time.sleep(0.01)
    return time.monotonic() - started


def pause_replay():
    _one(REPLICA, "SELECT pg_wal_replay_pause()::text")
    started = time.monotonic()
    while _one(REPLICA, "SELECT pg_get_wal_replay_pause_state()") != "paused":
        assert time.monotonic() - started < 10, "replay did not pause"
        time.sleep(0.01)


def resume_replay() -> float:
    _one(REPLICA, "SELECT pg_wal_replay_resume()::text")
    return wait_for_replay()


@pytest.fixture(scope="module", autouse=True)
def reload_reference_after(reference_reloaded_after):
    """Transactional tests empty the database (see conftest)."""


@pytest.fixture
def people():
    """Officers with tokens and a logged-in session, all on the standby before it stalls."""
    from taxonomy.services import load_standards

    load_standards()  # the cells (stages); emptied by the previous transactional test
    writer = make_user(make_org("Writer Ltd"), "compliance_officer")
    other = make_user(make_org("Other Ltd"), "compliance_officer")
    writer_token = issue_token(writer, "replica test").raw
    other_token = issue_token(other, "replica test").raw
    sessions = []
    for _ in range(2):  # the writer logged in on two browsers
        browser = Client()
        browser.force_login(writer)
        sessions.append(browser.cookies[settings.SESSION_COOKIE_NAME].value)
    return SimpleNamespace(
        writer=writer, writer_token=writer_token, other_token=other_token, sessions=sessions
    )


@pytest.fixture
def replay_lock():
    """Pausing replay stalls the whole standby: one test at a time does it, across xdist
    workers and concurrent runs (a session advisory lock on the primary)."""
    import psycopg

    db = connection.settings_dict
    conninfo = {"host": db["HOST"], "port": db["PORT"], "user": db["USER"], "dbname": "postgres"}
    take = "SELECT pg_try_advisory_lock(hashtext('tests.test_replica: replay paused'))"
    with psycopg.connect(**conninfo, autocommit=True) as lock:
        started = time.monotonic()
        while not lock.execute(take).fetchone()[0]:
            assert time.monotonic() - started < 300, "another test keeps the replica paused"
            time.sleep(0.1)
        yield  # the lock ends with the connection


@pytest.fixture
def stale_replica(replay_lock, people):
    """The standby has everything up to now, then replays nothing until the test ends."""
    wait_for_replay()
    pause_replay()
    try:
        yield people
    finally:
        _one(REPLICA, "SELECT pg_wal_replay_resume()::text")


def token_client(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def session_client(cookie):
    client = APIClient()
    client.cookies[settings.SESSION_COOKIE_NAME] = cookie
    return client


def on_replica(pk):
    return Company.objects.using(REPLICA).filter(pk=pk).exists()


def post_company(client, name):
    response = client.post(
        "/api/registry/companies/",
        {
            "legal_name": name,
            "country": "CD",
            "stages": ["mining", "refining"],
            "identifiers": [{"scheme": "rmi_cid", "value": "CID009999"}],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


@needs_replica
@replica_db
def test_the_test_replica_is_a_streaming_standby_of_the_test_database(replay_lock):
    wait_for_replay()
    assert connections[REPLICA].settings_dict["NAME"] == connection.settings_dict["NAME"]
    assert connections[REPLICA].settings_dict["PORT"] != connection.settings_dict["PORT"]
    assert _one(REPLICA, "SELECT pg_is_in_recovery()") is True
    assert _one("default", "SELECT pg_is_in_recovery()") is False


@needs_replica
@replica_db
def test_an_anonymous_read_goes_to_the_replica(stale_replica):
    company = make_company("Committed Meanwhile Co")
    url = f"/api/registry/companies/{company.pk}/"
    assert Company.objects.using("default").filter(pk=company.pk).exists()
    with CaptureQueriesContext(connections[REPLICA]) as on_standby:
        assert APIClient().get(url).status_code == 404  # the stalled standby lacks it
    assert on_standby.captured_queries
    lag = resume_replay()
    assert APIClient().get(url).status_code == 200
    print(f"\nreplica caught up {lag * 1000:.1f} ms after replay resumed")


@needs_replica
@replica_db
def test_a_request_that_writes_reads_its_write(stale_replica):
    client = token_client(stale_replica.writer_token)
    with CaptureQueriesContext(connections[REPLICA]) as on_standby:
        body = post_company(client, "Read Back Co")
    # The response reads the stages and identifiers back after the commit: from the primary.
    assert body["stages"] == ["mining", "refining"]
    assert [i["value"] for i in body["identifiers"]] == ["CID009999"]
    assert not on_standby.captured_queries
    assert not on_replica(body["id"])


@needs_replica
@replica_db
@pytest.mark.parametrize("credential", ["token", "session"])
def test_the_writers_next_request_reads_the_primary_until_the_pin_expires(
    stale_replica, settings, credential
):
    settings.REPLICA_PIN_SECONDS = 3
    people = stale_replica
    # A fresh client each time, as the next request may land on another process or machine.
    # The same user elsewhere is recognised by session (a token names its user only
    # inside the view, after the routing of its first reads is decided).
    if credential == "token":
        writer = lambda: token_client(people.writer_token)  # noqa: E731
    else:
        writer = lambda: session_client(people.sessions[0])  # noqa: E731
    same_user = lambda: session_client(people.sessions[1])  # noqa: E731

    company = post_company(writer(), f"Pinned By {credential}")
    written = time.monotonic()
    url = f"/api/registry/companies/{company['id']}/"
    assert writer().get(url).status_code == 200  # read right after the write: the primary
    assert same_user().get(url).status_code == 200  # the same user by another credential
    assert token_client(people.other_token).get(url).status_code == 404  # the replica
    assert APIClient().get(url).status_code == 404
    assert not on_replica(company["id"])
    assert time.monotonic() - written < settings.REPLICA_PIN_SECONDS, "too slow to tell"

    time.sleep(max(0.0, written + settings.REPLICA_PIN_SECONDS + 0.2 - time.monotonic()))
    assert writer().get(url).status_code == 404  # the pin expired: the replica again

    resume_replay()
    assert writer().get(url).status_code == 200
    assert token_client(people.other_token).get(url).status_code == 200


@needs_replica
@replica_db
def test_a_locking_read_runs_on_the_primary(stale_replica):
    company = make_company("Locked Co")
    with db_router.scope():
        assert Company.objects.filter(pk=company.pk).db == REPLICA
        assert Company.objects.select_for_update().filter(pk=company.pk).db == "default"
    with (
        db_router.scope(),
        CaptureQueriesContext(connections["default"]) as on_primary,
        CaptureQueriesContext(connections[REPLICA]) as on_standby,
        transaction.atomic(),
    ):
        locked = list(Company.objects.select_for_update().filter(pk=company.pk))
    assert [c.pk for c in locked] == [company.pk]
    assert any("FOR UPDATE" in q["sql"] for q in on_primary.captured_queries)
    assert not on_standby.captured_queries


@needs_replica
@replica_db
def test_migrations_only_touch_the_primary():
    assert router.allow_migrate("default", "registry")
    assert not router.allow_migrate(REPLICA, "registry")
    assert not router.allow_migrate_model(REPLICA, Company)
    # `migrate` with a replica that cannot even be reached: it never connects to it.
    db = connection.settings_dict
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DATABASE_REPLICA_URLS": "postgresql://nobody@127.0.0.1:1/unreachable",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "No migrations to apply" in result.stdout


REDIS = ("127.0.0.1", 6379)
BROKER = "redis://127.0.0.1:6379/11"  # this module's Redis database


def _redis_available() -> bool:
    with suppress(OSError):
        socket.create_connection(REDIS, timeout=0.5).close()
        return True
    return False


def _forget_celery_connections():
    """The app caches its result backend and broker pool (an eager run made them already);
    drop them so that a change of URLs takes effect."""
    app._backend_cache = None
    app._local.__dict__.pop("backend", None)
    app._after_fork()


@pytest.fixture
def worker():
    saved = {k: app.conf[k] for k in ("broker_url", "result_backend", "task_always_eager")}
    app.conf.update(broker_url=BROKER, result_backend=BROKER, task_always_eager=False)
    _forget_celery_connections()
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING"):
            yield
    finally:
        app.conf.update(saved)
        _forget_celery_connections()


@needs_replica
@pytest.mark.skipif(not _redis_available(), reason="no Redis on 127.0.0.1:6379")
@replica_db
def test_a_job_sent_after_a_write_reads_the_primary_on_its_worker(stale_replica, worker):
    with db_router.scope():
        company = make_company("Enqueued Co")  # this context wrote: it is pinned
        assert replica_probe.delay(company.pk).get(timeout=20) == {"pinned": True, "found": True}
    with db_router.scope():  # a job from a context that did not write reads the replica
        assert replica_probe.delay(company.pk).get(timeout=20) == {
            "pinned": False,
            "found": False,
        }
