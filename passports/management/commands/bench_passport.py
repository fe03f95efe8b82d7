"""Benchmark: requests per second of the passport detail and credential routes against a
bare endpoint that reads the same row with psycopg and returns it as JsonResponse, and of
the detail route reading its row through the ORM instead of its fast path (what the fast
path is worth: keep it only while it pays).

One gunicorn server, started here on loopback, serves every route; wrk (a C load
generator, another process than the server's) asks them in rounds, one route after the
other, and each route's figure is the median of its rounds. A grantee's rows (an API
token of a legitimate-interest organisation, sent by a wrk Lua script) are measured too.
PostgreSQL only (set DATABASE_URL); the grantee made for the run is removed after it.
"""

from __future__ import annotations

import dataclasses
import http.client
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from accounts.services import issue_token
from passports.models import AccessGrant, BatteryPassport
from registry.models import Membership, Organisation

GOALS = {"detail": 0.80, "credential": 0.50}  # issue 14 §6: the ratio to the bare route
BARE = "bare psycopg + JsonResponse"
RATIOS = ("rps", "p50_ms", "p99_ms", "cpu_ms")
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}
LATENCY = re.compile(r"^\s*(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$", re.M)
RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
COUNT = re.compile(r"^\s*(\d+) requests in", re.M)
NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


@dataclass(frozen=True)
class Route:
    name: str
    path: str
    script: str | None = None  # a wrk Lua script (the grantee's Authorization header)


@dataclass(frozen=True)
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    cpu_ms: float = 0.0  # the server's CPU time per request (its workers'), if known


def parse_wrk(output: str) -> Run:
    """Requests/sec and the 50th/99th latency percentiles of `wrk --latency`; a ValueError
    naming what is wrong when a request failed or the output cannot be read."""
    refused = NON_2XX.search(output)
    if refused and int(refused.group(1)):
        raise ValueError(f"{refused.group(1)} answers were not 2xx")
    errors = SOCKET_ERRORS.search(output)
    if errors and any(int(n) for n in errors.groups()):
        raise ValueError(f"socket errors: {errors.group(0)}")
    rate, count = RATE.search(output), COUNT.search(output)
    latency = {p: float(v) * UNITS[unit] for p, v, unit in LATENCY.findall(output)}
    if rate is None or count is None or set(latency) != {"50", "99"}:
        raise ValueError(f"unreadable wrk output:\n{output}")
    if not int(count.group(1)):
        raise ValueError("no request was answered")
    return Run(float(rate.group(1)), latency["50"], latency["99"], int(count.group(1)))


def _cpu_seconds(master: int) -> float:
    """User + system CPU time of the server's workers so far (Linux /proc; 0 elsewhere).
    Robust where req/s is not: other processes on the machine do not add to it."""
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        total = 0
        for pid in children:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    except OSError:
        return 0.0
    return total / os.sysconf("SC_CLK_TCK")


def _ratio(bare: float, route: float) -> str:
    return f"{bare / route:.2f}" if bare and route else "-"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database_url() -> str:
    """settings.DATABASE_URL on the database this process uses (the test database too)."""
    name = connection.settings_dict["NAME"]
    return urlsplit(settings.DATABASE_URL)._replace(path=f"/{name}").geturl()


class Command(BaseCommand):
    help = "Passport detail and credential routes vs a bare psycopg endpoint, by wrk."

    def add_arguments(self, parser):
        parser.add_argument("--seconds", type=int, default=5, help="per route and round")
        parser.add_argument("--rounds", type=int, default=3)
        parser.add_argument("--connections", type=int, default=8)
        parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
        parser.add_argument("--wrk", default="wrk", help="the wrk binary")

    def handle(self, *args, seconds, rounds, connections, workers, wrk, **options):
        binary = shutil.which(wrk)
        if binary is None:
            raise CommandError(
                f"wrk not found ({wrk!r}): install it with `apt-get install wrk` (Debian)."
            )
        if connection.vendor != "postgresql":
            raise CommandError("Run it on PostgreSQL: set DATABASE_URL (make bench-passport).")
        if min(seconds, rounds, connections, workers) < 1:
            raise CommandError("--seconds, --rounds, --connections and --workers are 1 or more.")
        if not (settings.CREDENTIAL_SIGNING_KEYS or settings.CREDENTIAL_SIGNING_KEYS_FILE):
            raise CommandError(
                "No credential signing key: set CREDENTIAL_SIGNING_KEYS_FILE "
                "(`manage.py credential_devkey` makes one; make bench-passport does)."
            )
        passport = BatteryPassport.objects.filter(lifecycle="published").order_by("id").first()
        if passport is None:
            raise CommandError("No published passport: run `manage.py load_demo` first.")
        with tempfile.TemporaryDirectory(prefix="bench-passport-") as folder:
            grantee, token = self._grantee()
            try:
                script = Path(folder) / "grantee.lua"
                script.write_text(f'wrk.headers["Authorization"] = "Bearer {token}"\n')
                routes = self._routes(passport.internal_id, str(script))
                results = self._measure(
                    binary, routes, token, Path(folder), seconds, rounds, connections, workers
                )
            finally:
                grantee.delete()  # its membership, grant and token go with it
                get_user_model().objects.filter(username=grantee.name).delete()
        self._report(results, seconds, rounds, connections, workers)

    def _grantee(self) -> tuple[Organisation, str]:
        """A legitimate-interest organisation with a member holding an API token."""
        name = f"bench-grantee-{secrets.token_hex(4)}"
        org = Organisation.objects.create(name=name, kind="research")
        AccessGrant.objects.create(
            organisation=org,
            tier=AccessGrant.Tier.LEGITIMATE_INTEREST,
            purpose=AccessGrant.Purpose.RECYCLER,
            valid_from="2020-01-01",
        )
        user = get_user_model().objects.create_user(name)
        Membership.objects.create(user=user, organisation=org, role="viewer")
        return org, issue_token(user, "bench_passport", days=1).raw

    @staticmethod
    def _routes(identifier: str, script: str) -> list[Route]:
        detail = f"/api/passports/{identifier}/"
        return [
            Route(BARE, f"/bench/bare/{identifier}/"),
            Route("detail", detail),
            Route("credential", f"{detail}credential/"),
            Route("detail, grantee", detail, script),
            Route("credential, grantee", f"{detail}credential/", script),
            Route("detail, ORM read", f"/api/bench/passports/{identifier}/"),
        ]

    def _measure(self, binary, routes, token, folder, seconds, rounds, connections, workers):
        port = _free_port()
        env = {
            **os.environ,
            "DEBUG": "0",
            "SECRET_KEY": "bench-only",
            "BENCH_ENDPOINTS": "1",
            "ALLOWED_HOSTS": "127.0.0.1",
            "DATABASE_URL": _database_url(),
            "LOG_LEVEL": "WARNING",
            # Throttled, wrk would measure 429s; throttling is not what is compared here.
            "API_THROTTLE_ANON": "",
            "API_THROTTLE_USER": "",
            "CREDENTIAL_SIGNING_KEYS": settings.CREDENTIAL_SIGNING_KEYS,
            "CREDENTIAL_SIGNING_KEYS_FILE": settings.CREDENTIAL_SIGNING_KEYS_FILE,
        }
        log = (folder / "gunicorn.log").open("w+")
        server = subprocess.Popen(
            [
                *(sys.executable, "-m", "gunicorn", "config.wsgi"),
                *("-w", str(workers), "-b", f"127.0.0.1:{port}", "--log-level", "warning"),
            ],
            env=env,
            cwd=settings.BASE_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait(port, server, log)
            base = f"http://127.0.0.1:{port}"
            for route in routes:  # warm up: imports, the credential's one signature, caches
                for _ in range(2 * workers):
                    self._get(port, route, token, log)
                self._wrk(binary, base, route, 1, connections, log, warm_up=True)
            results: dict[str, list[Run]] = {route.name: [] for route in routes}
            for _ in range(rounds):
                for route in routes:
                    before = _cpu_seconds(server.pid)
                    run = self._wrk(binary, base, route, seconds, connections, log)
                    cpu_ms = (_cpu_seconds(server.pid) - before) * 1000 / run.requests
                    results[route.name].append(dataclasses.replace(run, cpu_ms=cpu_ms))
        finally:
            server.terminate()
            server.wait(10)
            log.close()
        return results

    @staticmethod
    def _get(port, route: Route, token, log) -> None:
        """One request, waited for however long it takes (a cold worker loads the app)."""
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        headers = {"Authorization": f"Bearer {token}"} if route.script else {}
        try:
            client.request("GET", route.path, headers=headers)
            response = client.getresponse()
            response.read()
        finally:
            client.close()
        if response.status != 200:
            log.seek(0)
            tail = "".join(log.readlines()[-20:])
            raise CommandError(f"{route.name} ({route.path}) answered {response.status}\n{tail}")

    @staticmethod
    def _wrk(binary, base, route: Route, seconds, connections, log, warm_up=False) -> Run:
        command = [binary, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
        if route.script:
            command += ["-s", route.script]
        done = subprocess.run(
            [*command, base + route.path], capture_output=True, text=True, timeout=seconds + 30
        )
        if warm_up:
            return Run(0.0, 0.0, 0.0, 0)
        try:
            if done.returncode:
                raise ValueError(done.stderr.strip() or f"wrk exited {done.returncode}")
            return parse_wrk(done.stdout)
        except ValueError as error:
            log.seek(0)
            tail = "".join(log.readlines()[-20:])
            raise CommandError(f"{route.name} ({route.path}): {error}\n{tail}") from None

    def _report(self, results, seconds, rounds, connections, workers) -> None:
        self.stdout.write(
            f"PostgreSQL, gunicorn {workers} sync workers, wrk -t2 -c{connections}, "
            f"{rounds} rounds x {seconds} s per route, alternating; median of the rounds"
        )
        medians = {
            name: {f: statistics.median(getattr(r, f) for r in runs) for f in RATIOS}
            for name, runs in results.items()
        }
        bare = medians[BARE]
        self.stdout.write(
            f"  {'route':<28} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'CPU ms':>7} "
            f"{'/bare':>6} {'CPU/bare':>8}  req/s of each round"
        )
        for name, run in medians.items():
            runs = ", ".join(f"{r.rps:.0f}" for r in results[name])
            self.stdout.write(
                f"  {name:<28} {run['rps']:7.0f} {run['p50_ms']:7.2f} {run['p99_ms']:7.2f} "
                f"{run['cpu_ms']:7.2f} {run['rps'] / bare['rps']:6.2f} "
                f"{_ratio(bare['cpu_ms'], run['cpu_ms']):>8}  {runs}"
            )
        gain = medians["detail"]["rps"] / medians["detail, ORM read"]["rps"]
        pays = "pays" if gain >= 1.1 else "does NOT pay (under 10%): read through the ORM"
        self.stdout.write(f"fast path / ORM read: {gain:.2f}x (the fast path {pays})")
        self.stdout.write(
            "CPU ms: the server's CPU time per request; CPU/bare: bare's CPU ms over the "
            "route's (what req/s/bare would be on an idle machine)"
        )
        for name, goal in GOALS.items():
            self.stdout.write(
                f"{name}/bare: {medians[name]['rps'] / bare['rps']:.2f} (goal >= {goal:.2f})"
            )

    @staticmethod
    def _wait(port: int, server, log) -> None:
        deadline = time.time() + 30
        while time.time() < deadline and server.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.2)
        log.seek(0)
        raise CommandError(f"gunicorn did not start:\n{log.read()[-2000:]}")
