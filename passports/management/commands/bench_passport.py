"""Benchmark: requests per second of the passport detail endpoint against a bare endpoint
that reads the same row with psycopg and returns it as JsonResponse, and against the same
detail endpoint reading its row through the ORM instead of its fast path (what the fast
path is worth: keep it only while it pays).

Both are served by the same gunicorn server, started here on loopback, and hit by the
same client, alternately, in one run. PostgreSQL only (set DATABASE_URL).
"""

import http.client
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from passports.models import BatteryPassport


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _hammer(port: int, path: str, seconds: float, threads: int) -> tuple[float, int]:
    """Keep-alive GETs from `threads` threads for `seconds`; returns (req/s, errors)."""
    done, errors = [0] * threads, [0] * threads
    stop = time.perf_counter() + seconds

    def worker(i):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.perf_counter() < stop:
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    done[i] += 1
                else:
                    errors[i] += 1
            except (OSError, http.client.HTTPException):
                errors[i] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.close()

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(done) / (time.perf_counter() - started), sum(errors)


class Command(BaseCommand):
    help = "Passport detail endpoint vs a bare psycopg endpoint, req/s side by side."

    def add_arguments(self, parser):
        parser.add_argument("--seconds", type=float, default=5.0)
        parser.add_argument("--rounds", type=int, default=3)
        parser.add_argument("--threads", type=int, default=8)
        parser.add_argument("--workers", type=int, default=2)

    def handle(self, *args, seconds, rounds, threads, workers, **options):
        if connection.vendor != "postgresql":
            raise CommandError("Run it on PostgreSQL: set DATABASE_URL (make bench-passport).")
        passport = BatteryPassport.objects.filter(lifecycle="published").order_by("id").first()
        if passport is None:
            raise CommandError("No published passport: run `manage.py load_demo` first.")
        port = _free_port()
        env = {
            **os.environ,
            "DEBUG": "0",
            "SECRET_KEY": "bench-only",
            "BENCH_ENDPOINTS": "1",
            "ALLOWED_HOSTS": "127.0.0.1",
            "DATABASE_URL": settings.DATABASE_URL,
            "LOG_LEVEL": "WARNING",
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "-w",
                str(workers),
                "-b",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                "--keep-alive",
                "30",
            ],
            env=env,
            cwd=settings.BASE_DIR,
        )
        try:
            self._wait(port)
            paths = {
                "bare psycopg + JsonResponse": f"/bench/bare/{passport.internal_id}/",
                "passport detail endpoint": f"/api/passports/{passport.internal_id}/",
                "detail endpoint, ORM read": f"/api/bench/passports/{passport.internal_id}/",
            }
            for path in paths.values():
                _hammer(port, path, 1.0, threads)  # warm up both
            results = {name: [] for name in paths}
            for _ in range(rounds):
                for name, path in paths.items():
                    rps, errors = _hammer(port, path, seconds, threads)
                    if errors:
                        raise CommandError(f"{errors} failed requests on {path}")
                    results[name].append(rps)
        finally:
            server.terminate()
            server.wait(10)
        self.stdout.write(
            f"PostgreSQL, gunicorn {workers} sync workers, {threads} keep-alive "
            f"client threads, {rounds} x {seconds:g} s per endpoint, alternating"
        )
        medians = {name: statistics.median(values) for name, values in results.items()}
        for name, values in results.items():
            runs = ", ".join(f"{v:.0f}" for v in values)
            self.stdout.write(f"  {name:<30} {medians[name]:8.0f} req/s  (runs: {runs})")
        ratio = medians["passport detail endpoint"] / medians["bare psycopg + JsonResponse"]
        verdict = "meets" if ratio >= 0.6 else "MISSES"
        self.stdout.write(f"  detail / bare: {ratio:.0%} ({verdict} the 60% target)")
        gain = medians["passport detail endpoint"] / medians["detail endpoint, ORM read"]
        pays = "pays" if gain >= 1.1 else "does NOT pay (under 10%): read through the ORM"
        self.stdout.write(f"  fast path / ORM read: {gain:.2f}x (the fast path {pays})")

    def _wait(self, port: int) -> None:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.2)
        raise CommandError("gunicorn did not start")
