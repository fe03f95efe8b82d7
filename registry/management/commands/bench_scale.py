"""`make bench-scale`: every page and API route on the demo registry and on a large one.

    manage.py bench_scale --base-url postgresql://postgres@127.0.0.1:5432/registry_bench
        [--scale 1.0] [--seed 1] [--repeat 5] [--reuse] [--keep]

Builds two databases beside each other, <base>_demo (migrate, load_reference, load_demo)
and <base>_large (build_large_registry), then for each starts the same server (gunicorn,
2 workers, DEBUG off, X-Query-Count on; one Celery worker on the same database runs the
kept results' jobs, broker BENCH_BROKER_URL or Redis DB 7) on a free port and asks it, with
the same client, every GET route the URL resolver serves, with ids read from that
database. Prints one row
per route (median of --repeat timed requests after one warm-up), the queries the answer
took on each, and the workers' peak memory (VmHWM) against their idle peak right after
start. The last line: `worst ratio large/small: X.XX (route)`. Databases are dropped at
the end unless --keep.

Routes that only write are not asked; routes that need a login are asked as a staff user
the bench creates; routes whose ids a database lacks (passports in the large one) say so.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import URLPattern, URLResolver, get_resolver

from credentials.keys import new_key_set
from registry.management.commands.build_large_registry import (
    create_database,
    drop_database,
    manage,
)

STAFF_USER = "bench-staff"
SKIPPED_NAMESPACES = {"admin"}
# Pages and endpoints that answer only a signed-in user (asked as staff).
STAFF_ROUTES = {
    "metrics",
    "accounts:tokens",
    "accounts:audit",
    "taxonomy:proposals",
    "password_change",
    "password_change_done",
    "api:account-token-list",
    "workspace:home",
    "registry:attestation-create",
    "registry:attestation-edit",
    "accounts:two-factor",
    "api:account-token-detail",
    "api:intake-detail",
    "intake:job",
    "api:intake-rmi-conformance",
}
# Query strings a route needs to answer (or the variant the issue measured).
QUERIES = {
    "api:taxonomy-compare": "?standards=oecd-ddg,rmi-rmap,irma",
    "api:taxonomy-coverage": "?cells=content.labor_rights,application.refining",
    "api:taxonomy-set-cover": "?cells=content.labor_rights,content.climate_change",
    "api:taxonomy-changes": "?from=2025-01-01&to=2025-12-31",
    "api:concentration": "?mineral=cobalt&stage=mining&year=2024",
    "api:concentration-series": "?mineral=cobalt",
    "api:concentration-mine-to-refinery": "?mineral=cobalt",
    "api:sector-gaps": "?cells=content.labor_rights",  # every stage and mineral
    "api:supply-chain": "?mineral=cobalt",
    "api:what-if": "?mineral=cobalt",
    "registry:supply-chain": "?mineral=cobalt",
    "registry:sector-search": "?cells=content.labor_rights",
    "taxonomy:compare": "?standards=irma,rmi-rmap",
    "taxonomy:changes": "?from=2025-01-01&to=2026-12-31",
    "search": "?q=cobalt",
    "registry:attestation-create": "?q=cobalt",  # the supplier search, step 1
}
# More rows for one route: (route, label suffix, query string).
VARIANTS = [
    ("api:company-list", " ?mineral=cobalt", "?mineral=cobalt"),
    ("registry:company-list", " ?mineral=cobalt", "?mineral=cobalt"),
    (
        "registry:sector-search",
        " sector (grades)",
        "?cells=content.labor_rights&stage=refining&mineral=cobalt",
    ),
    ("registry:attestation-list", " ?company_name=cobalt", "?company_name=cobalt"),
    # The grade filter over every company: the kept grading (registry.selectors).
    ("api:company-list", " ?grade=none", "?grade=none"),
    ("registry:company-list", " ?grade=gold", "?grade=gold"),
    # The Digital Link's RFC 9264 link set (the bare link answers a scanner with a 307).
    ("passports:digital-link", " ?linkType=all", "?linkType=all"),
]
# Whole-table downloads: their time grows with the table by design (every row, streamed);
# their goals are bounded memory and no query per row, so their ratio is shown but is
# not a time goal nor the worst ratio.
WHOLE_TABLE_DOWNLOADS = {"api:intake-export"}
# Routes that trace a buyer: asked for the company with the most upstream suppliers.
TRACE_ROUTES = {"api:supply-chain", "api:what-if", "registry:supply-chain"}
# The jobs' broker (a Redis database of its own; BENCH_BROKER_URL to choose another).
BROKER_URL = os.environ.get("BENCH_BROKER_URL") or "redis://127.0.0.1:6379/7"
# Never asked: they write, log out, or answer only with a one-time token.
SKIPPED_ROUTES = {
    "logout",
    "password_reset_confirm",
    # POST only (require_POST): a GET is a 405 before any work.
    "accounts:token-revoke",
    "intake:job-commit",
    "taxonomy:proposal-approve",
    "taxonomy:proposal-reject",
    "intake:job-matches",
}


def get_routes() -> list[tuple[str, str, list[str], object]]:
    """(name, route pattern, url kwargs, callback) of every named route answering GET,
    outside the admin, as the resolver serves them."""
    found = []

    def walk(resolver, prefix="", namespace=""):
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                if pattern.namespace in SKIPPED_NAMESPACES:
                    continue
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                walk(pattern, prefix + str(pattern.pattern), inner)
                continue
            assert isinstance(pattern, URLPattern)
            if pattern.name is None:
                continue
            name = f"{namespace}{pattern.name}"
            callback = pattern.callback
            actions = getattr(callback, "actions", None)
            view = getattr(callback, "cls", None)
            if actions is not None and "get" not in actions:
                continue
            if actions is None and view is not None and not hasattr(view, "get"):
                continue
            if name in SKIPPED_ROUTES:
                continue
            found.append(
                (
                    name,
                    prefix + str(pattern.pattern),
                    list(pattern.pattern.regex.groupindex),
                    callback,
                )
            )

    walk(get_resolver())
    return found


# Routes of objects a registry may hold none of: the probe makes one (_bench_objects).
OBJECT_KWARGS = {
    ("api:account-token-detail", "pk"): "token",
    ("api:intake-detail", "pk"): "job",
    ("intake:job", "pk"): "job",
    ("api:attestation-download", "pk"): "evidence_attestation",
    ("api:attestation-download", "evidence_id"): "evidence",
}


def _bench_objects(user) -> dict:
    """The bench user's API token, a finished dry run of an import and an evidence file
    of a public attestation, made once per database; an intake table kind."""
    from django.core.files.base import ContentFile

    from accounts import services as accounts
    from accounts.models import ApiToken
    from intake.models import ImportJob
    from intake.tables import TABLES
    from registry.models import Attestation, Evidence

    token = ApiToken.objects.filter(user=user).first()
    if token is None:
        token = accounts.issue_token(user, "bench").token
    job = ImportJob.objects.filter(requested_by=user).first()
    if job is None:
        job = ImportJob.objects.create(
            kind="companies" if "companies" in TABLES else sorted(TABLES)[0],
            status=ImportJob.Status.DONE,
            file=ContentFile(b"legal_name,country\n", name="bench.csv"),
            filename="bench.csv",
            sha256="0" * 64,
            requested_by=user,
        )
    evidence = Evidence.objects.exclude(file="").order_by("pk").first()
    public = Attestation.objects.filter(visibility="public").order_by("pk").first()
    if evidence is None and public is not None:
        content = b"%PDF-1.4 bench evidence"
        evidence = Evidence.objects.create(
            attestation=public,
            file=ContentFile(content, name="bench-evidence.pdf"),
            filename="bench-evidence.pdf",
            content_type="application/pdf",
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            uploaded_by=user,
        )
    return {
        "token": token.pk,
        "job": job.pk,
        "kind": "companies" if "companies" in TABLES else sorted(TABLES)[0],
        "evidence": evidence.pk if evidence else None,
        "evidence_attestation": evidence.attestation_id if evidence else None,
    }


def _first(queryset, attr="pk"):
    obj = queryset.order_by("pk").first()
    return None if obj is None else getattr(obj, attr)


def _most_upstream_company() -> int | None:
    """The buyer with the most companies upstream of it for cobalt (recursive SQL over the
    ten buyers with the most direct cobalt suppliers that supply nobody)."""
    from django.db import connection
    from django.db.models import Count, Exists, OuterRef

    from registry.models import SupplyRelationship

    sells = SupplyRelationship.objects.filter(supplier=OuterRef("buyer"), mineral__code="cobalt")
    candidates = list(
        SupplyRelationship.objects.filter(mineral__code="cobalt")
        .filter(~Exists(sells))
        .values("buyer")
        .annotate(n=Count("supplier", distinct=True))
        .order_by("-n", "buyer")
        .values_list("buyer", flat=True)[:10]
    )
    table = SupplyRelationship._meta.db_table
    company = SupplyRelationship._meta.get_field("buyer").related_model._meta.db_table
    best, best_count = None, -1
    for buyer in candidates:
        with connection.cursor() as cursor:
            cursor.execute(
                f"""WITH RECURSIVE up(id) AS (
                SELECT id FROM {company} WHERE id = %s
                UNION SELECT r.supplier_id FROM {table} r
                JOIN up ON r.buyer_id = up.id WHERE r.mineral_id =
                (SELECT id FROM taxonomy_mineral WHERE code = 'cobalt'))
                SELECT COUNT(*) - 1 FROM up""",
                [buyer],
            )
            count = cursor.fetchone()[0]
        if count > best_count:
            best, best_count = buyer, count
    return best


def probe(password: str) -> dict:
    """Run inside the database's own process: the staff login and the URL of every route."""
    from django.contrib.auth import get_user_model
    from django.db.models import Count, Q

    from passports.models import BatteryPassport
    from registry.models import Attestation, Company

    User = get_user_model()
    user = User.objects.filter(username=STAFF_USER).first() or User(username=STAFF_USER)
    user.is_staff = user.is_superuser = True
    user.set_password(password)
    user.save()

    ordinary = (
        Company.objects.annotate(
            n=Count("attestations", filter=Q(attestations__visibility="public"))
        )
        .order_by("-n", "pk")
        .values_list("pk", flat=True)
        .first()
    )
    trace_buyer = _most_upstream_company() or ordinary
    passport = _first(BatteryPassport.objects.filter(lifecycle="published"), "internal_id")
    # The Digital Link names a battery by its model's GTIN and its serial.
    linked = (
        BatteryPassport.objects.filter(lifecycle="published")
        .exclude(battery_model__gtin="")
        .order_by("pk")
        .values_list("battery_model__gtin", "battery_identifier")
        .first()
    ) or (None, None)
    public_attestation = _first(Attestation.objects.filter(visibility="public"))
    # A credential is issued for a verified attestation only (else the route is a 404).
    verified_attestation = _first(
        Attestation.objects.filter(visibility="public", status="verified")
    )
    submitted = _first(Attestation.objects.filter(status="submitted"))
    bench_objects = _bench_objects(user)
    values = {
        **bench_objects,
        "code": "irma",
        "mineral": "cobalt",
        "identifier": passport,
        "number": 1,
        "gtin": linked[0],
        "serial": linked[1],
    }
    targets = []
    for name, pattern, kwargs, callback in get_routes():
        view = getattr(callback, "cls", None)
        url_kwargs = {}
        for kwarg in kwargs:
            if name in TRACE_ROUTES:
                value = trace_buyer
            elif (name, kwarg) in OBJECT_KWARGS:
                value = bench_objects.get(OBJECT_KWARGS[(name, kwarg)])
            elif kwarg == "pk" and (
                "company" in name
                or name
                in (
                    "registry:scorecard",
                    "workspace:grade-history",
                    "registry:supplier-report",
                    "api:intake-rmi-conformance",
                )
            ):
                value = ordinary
            elif kwarg == "pk" and "attestation" in name and "credential" in name:
                value = verified_attestation
            elif kwarg == "pk" and "attestation" in name:
                value = public_attestation
            elif getattr(view, "queryset", None) is not None:
                lookup = getattr(view, "lookup_field", "pk")
                value = _first(view.queryset.model.objects, lookup)
            else:
                value = values.get(kwarg)
            url_kwargs[kwarg] = value
        url = "/" + pattern
        for kwarg, value in url_kwargs.items():
            url = _fill(url, kwarg, value)
        url = url.replace("^", "").replace("$", "")
        if any(t["url"] == url for t in targets):
            continue  # one route served under two names (password_reset)
        missing = [k for k, v in url_kwargs.items() if v is None]
        who = "staff" if name in STAFF_ROUTES else "anonymous"
        targets.append(
            {"route": name, "url": None if missing else url + QUERIES.get(name, ""), "who": who}
        )
        for route, label, query in VARIANTS:
            if route == name:
                targets.append({"route": name + label, "url": url + query, "who": who})
    for label, url in (
        ("admin attestation list", "/admin/registry/attestation/"),
        ("admin attestation search", "/admin/registry/attestation/?q=Cobalt"),
        ("admin company search", "/admin/registry/company/?q=Cobalt"),
        ("admin facility search", "/admin/registry/facility/?q=Cobalt"),
        ("admin relationship search", "/admin/registry/supplyrelationship/?q=Cobalt"),
        (
            "admin attestation change (submitted)",
            f"/admin/registry/attestation/{submitted}/change/" if submitted else None,
        ),
    ):
        targets.append({"route": label, "url": url, "who": "staff"})
    # Downloads last: streaming a whole table churns the worker's heap, and every route
    # measured after it in that worker read up to twice as slow (taxonomy details too).
    targets.sort(key=lambda t: t["route"].split(" ")[0] in WHOLE_TABLE_DOWNLOADS)
    return {"targets": targets, "trace_buyer": trace_buyer, "ordinary": ordinary}


def _fill(url: str, kwarg: str, value) -> str:
    """Put a value in place of a named group (<int:pk>, (?P<pk>[^/.]+)) of a route."""
    import re

    value = "" if value is None else urllib.parse.quote(str(value))
    url = re.sub(rf"\(\?P<{kwarg}>[^)]*\)", value, url)
    return re.sub(rf"<(?:\w+:)?{kwarg}>", value, url)


# --- The server and the client ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def worker_pids(master: int) -> list[int]:
    try:
        text = Path(f"/proc/{master}/task/{master}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def vm_hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass
class Server:
    database_url: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    worker: subprocess.Popen | None = None
    keys_file: str = ""  # a throwaway credential signing key: credential routes answer, not 503

    def env(self) -> dict:
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "DEBUG": "0",
            "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-scale-" + secrets.token_hex(16),
            "QUERY_COUNT_HEADER": "1",
            "SECURE_COOKIES": "0",  # plain http on localhost: the session cookie must pass
            "API_THROTTLE_ANON": "",  # the bench asks more often than a visitor may
            "API_THROTTLE_USER": "",
            "PORT": str(self.port),
            # The production shape: kept results' jobs run in a Celery worker, not eagerly
            # inside the web worker on the first request (that would count in its memory).
            "CELERY_BROKER_URL": BROKER_URL,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "CREDENTIAL_SIGNING_KEYS_FILE": self.keys_file,
        }

    def start(self, log) -> None:
        self.start_worker(log)
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "config.wsgi",
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--chdir",
                str(settings.BASE_DIR),
            ],
            env=self.env(),
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.base}/healthz", timeout=5).read()
                if len(worker_pids(self.process.pid)) >= 2:
                    time.sleep(1)
                    return
            except OSError:  # not listening yet, or no worker booted yet
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.3)
        log.seek(0)
        tail = log.read()[-3000:].decode(errors="replace")
        raise CommandError(f"gunicorn did not start on {self.port}:\n{tail}")

    def start_worker(self, log) -> None:
        """One Celery worker on the same database; --purge drops jobs a previous server
        left in the queue (they were for another database)."""
        self.worker = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("celery")),
                "-A",
                "config",
                "worker",
                "--purge",
                "--concurrency",
                "1",
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "INFO",
            ],
            cwd=str(settings.BASE_DIR),
            env=self.env(),
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            log.seek(0)
            if b" ready." in log.read():
                return
            if self.worker.poll() is not None:
                break
            time.sleep(0.3)
        log.seek(0)
        tail = log.read()[-3000:].decode(errors="replace")
        raise CommandError(f"the Celery worker did not start:\n{tail}")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def peak_mb(self) -> float:
        return max((vm_hwm_mb(p) for p in worker_pids(self.process.pid)), default=0.0)

    def stop(self) -> None:
        for process in (self.process, self.worker):
            if process and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Client:
    """One client for both servers: anonymous, or signed in through the admin login."""

    def __init__(self, base: str, timeout: float = 120):
        self.base, self.timeout = base, timeout
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )

    def get(self, path: str) -> tuple[int, float, int | None, int]:
        """(status, seconds, queries, bytes)"""
        started = time.perf_counter()
        try:
            with self.opener.open(self.base + path, timeout=self.timeout) as response:
                body = response.read()
                status, headers = response.status, response.headers
        except urllib.error.HTTPError as exc:
            body, status, headers = exc.read(), exc.code, exc.headers
        except OSError:  # timed out, or the worker was killed
            return 0, time.perf_counter() - started, None, 0
        seconds = time.perf_counter() - started
        count = headers.get("X-Query-Count")
        return status, seconds, int(count) if count else None, len(body)

    def login(self, username: str, password: str) -> None:
        self.get("/admin/login/")
        token = next((c.value for c in self.jar if c.name == "csrftoken"), "")
        data = urllib.parse.urlencode(
            {"username": username, "password": password, "csrfmiddlewaretoken": token}
        ).encode()
        request = urllib.request.Request(
            self.base + "/admin/login/?next=/admin/",
            data=data,
            headers={"Referer": self.base + "/admin/login/"},
        )
        try:
            self.opener.open(request, timeout=self.timeout).read()
        except urllib.error.HTTPError as exc:
            if exc.code != 302:
                raise CommandError(f"staff login failed: {exc.code}") from exc
        if not any(c.name == "sessionid" for c in self.jar):
            raise CommandError("staff login failed: no session")


@dataclass
class Measure:
    ms: float | None = None
    queries: int | None = None
    status: int | None = None
    peak_mb: float = 0.0
    bytes: int = 0


def measure_all(server: Server, targets: list[dict], password: str, repeat: int) -> dict:
    anonymous, staff = Client(server.base), Client(server.base)
    staff.login(STAFF_USER, password)
    idle = server.peak_mb()
    results: dict[str, Measure] = {}
    for target in targets:
        if target["url"] is None:
            results[target["route"]] = Measure()
            continue
        client = staff if target["who"] == "staff" else anonymous
        # Warm-up (each worker's first request pays for imports); a route that wants a
        # login is asked as staff.
        status = client.get(target["url"])[0]
        if status in (302, 401, 403):
            client = staff
            status = client.get(target["url"])[0]
        # A population computation answers 202 until a job has kept its result: wait for
        # it, then measure serving the kept result.
        deadline = time.monotonic() + 300
        while status == 202 and time.monotonic() < deadline:
            time.sleep(1)
            status = client.get(target["url"])[0]
        runs = [client.get(target["url"]) for _ in range(repeat)]
        results[target["route"]] = Measure(
            ms=statistics.median(r[1] for r in runs) * 1000,
            queries=max((r[2] for r in runs if r[2] is not None), default=None),
            status=runs[-1][0],
            peak_mb=server.peak_mb(),
            bytes=runs[-1][3],
        )
    return {"idle": idle, "results": results, "peak": server.peak_mb()}


# --- The command -------------------------------------------------------------------------


def _fmt_ms(m: Measure) -> str:
    if m.ms is None:
        return "-"
    flag = "" if m.status == 200 else f" [{m.status}]"
    return f"{m.ms:.0f}{flag}"


def table(demo: dict, large: dict, order: list[str]) -> list[str]:
    rows = [
        ("route", "demo ms", "large ms", "ratio", "queries demo/large", "large peak MB", "misses"),
    ]
    idle = large["idle"] or 0.0
    peak_before = idle
    worst: tuple[float, str] = (0.0, "-")
    unmeasured = []
    for route in order:
        d = demo["results"].get(route, Measure())
        g = large["results"].get(route, Measure())
        if d.ms is None and g.ms is None:
            unmeasured.append(route)
            continue
        ratio = "-"
        download = route in WHOLE_TABLE_DOWNLOADS
        if d.ms and g.ms is not None:
            value = g.ms / d.ms
            ratio = f"{value:.2f}"
            if value > worst[0] and not download:
                worst = (value, route)
        queries = f"{d.queries if d.queries is not None else '-'} / " + (
            f"{g.queries if g.queries is not None else '-'}"
        )
        # The issue's goals: within 3x, no query count growing, memory within 2x of idle,
        # and the same answer (a 500 or a timeout on the large data is a miss too).
        misses = ["(download)"] if download else []
        if ratio != "-" and float(ratio) > 3 and not download:
            misses.append("time")
        if d.queries is not None and g.queries is not None and g.queries > d.queries:
            misses.append("queries")
        # VmHWM only grows: the route that pushed it over 2x idle is the one flagged.
        if idle and g.peak_mb > 2 * idle and g.peak_mb > peak_before:
            misses.append("memory")
        peak_before = max(peak_before, g.peak_mb)
        if d.status is not None and g.status is not None and g.status != d.status:
            misses.append(f"status {g.status}")
        row = (route, _fmt_ms(d), _fmt_ms(g), ratio, queries, f"{g.peak_mb:.0f}", ",".join(misses))
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells))
        lines[-1] = lines[-1].rstrip()
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append(
        f"worker memory (VmHWM, MB): demo idle {demo['idle']:.0f}, peak {demo['peak']:.0f}; "
        f"large idle {large['idle']:.0f}, peak {large['peak']:.0f} "
        f"({large['peak'] / large['idle']:.2f}x idle)"
        if large["idle"]
        else "worker memory: not readable (/proc)"
    )
    if unmeasured:
        lines.append("not measured (no id to ask in either database): " + ", ".join(unmeasured))
    lines.append(f"worst ratio large/small: {worst[0]:.2f} ({worst[1]})")
    return lines


class Command(BaseCommand):
    help = "Measure every page and API route on the demo registry and on a large one."

    def add_arguments(self, parser):
        parser.add_argument(
            "--base-url",
            default=os.environ.get("PG_URL") or "postgresql://postgres@127.0.0.1:5432/registry",
            help="the server and a name: <name>_bench_demo and <name>_bench_large are built",
        )
        parser.add_argument("--scale", type=float, default=1.0)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--repeat", type=int, default=5)
        parser.add_argument("--reuse", action="store_true", help="use the databases if built")
        parser.add_argument("--keep", action="store_true", help="leave the databases")
        parser.add_argument("--probe", help="internal: print the routes of DATABASE_URL as JSON")

    def handle(self, *args, base_url, scale, seed, repeat, reuse, keep, probe, **options):
        if probe is not None:
            self.stdout.write("BENCH-TARGETS " + json.dumps(globals()["probe"](probe)))
            return
        parts = urlsplit(base_url)
        name = parts.path.lstrip("/") or "registry"
        demo_url = parts._replace(path=f"/{name}_bench_demo").geturl()
        large_url = parts._replace(path=f"/{name}_bench_large").geturl()
        password = secrets.token_urlsafe(16)
        say = self.stdout.write
        keys_dir = tempfile.TemporaryDirectory()
        keys_file = Path(keys_dir.name) / "credential-keys.json"
        keys_file.write_text(json.dumps(new_key_set(None)))
        try:
            self.build(demo_url, large_url, scale, seed, reuse)
            # DEBUG off serves hashed names from the manifest only collectstatic writes.
            manage(demo_url, "collectstatic", "--no-input", "-v0", env=Server(demo_url).env())
            measured, order = {}, []
            for label, url in (("demo", demo_url), ("large", large_url)):
                # One argument: a password may begin with "-", which argparse reads as an option.
                out = manage(url, "bench_scale", f"--probe={password}")
                found = json.loads(out.split("BENCH-TARGETS ", 1)[1])
                targets = found["targets"]
                order = order or [t["route"] for t in targets]
                with tempfile.TemporaryFile() as log:
                    server = Server(database_url=url, keys_file=str(keys_file))
                    try:
                        server.start(log)
                        t0 = time.perf_counter()
                        measured[label] = measure_all(server, targets, password, repeat)
                        say(
                            f"{label}: {len(targets)} routes measured in "
                            f"{time.perf_counter() - t0:.0f} s (trace buyer "
                            f"{found['trace_buyer']}, scorecard company {found['ordinary']})"
                        )
                    finally:
                        server.stop()
            for line in table(measured["demo"], measured["large"], order):
                say(line)
        finally:
            keys_dir.cleanup()
            if not keep:
                drop_database(demo_url)
                drop_database(large_url)

    def build(self, demo_url, large_url, scale, seed, reuse):
        say = self.stdout.write
        if not (reuse and _exists(demo_url)):
            t0 = time.perf_counter()
            create_database(demo_url, drop=True)
            manage(demo_url, "migrate", "--no-input", "-v0")
            manage(demo_url, "load_reference")
            manage(demo_url, "load_demo")
            manage(demo_url, "take_sector_snapshot")
            say(f"demo registry built in {time.perf_counter() - t0:.0f} s")
        elif reuse:  # built before: bring its schema up to this checkout's migrations
            manage(demo_url, "migrate", "--no-input", "-v0")
        if reuse and _exists(large_url):
            t0 = time.perf_counter()
            manage(large_url, "migrate", "--no-input", "-v0")
            say(f"large registry reused, migrated in {time.perf_counter() - t0:.0f} s")
        else:
            t0 = time.perf_counter()
            call = [
                "build_large_registry",
                "--database-url",
                large_url,
                "--seed",
                str(seed),
                "--scale",
                str(scale),
                "--drop",
            ]
            manage(large_url, *call)
            say(f"large registry (scale {scale}) built in {time.perf_counter() - t0:.0f} s")


def _exists(url: str) -> bool:
    from registry.management.commands.build_large_registry import _pg_admin

    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        return Path(parts.path).exists()
    with _pg_admin(url) as conn:
        return bool(
            conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [parts.path.lstrip("/")]
            ).fetchone()
        )
