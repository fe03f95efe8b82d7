"""Build a registry of the real world's size into a database you name (registry.scale).

    manage.py build_large_registry --database-url postgresql://.../NAME [--seed 1]
        [--scale 1.0] [--drop]

Creates the database (refusing to overwrite one unless --drop), then, in child processes
with DATABASE_URL set to it: migrate, load_reference, the bulk build, a sector snapshot
(as `make setup` does without demo data). The child processes keep this process's
settings from ever pointing at the new database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


def _pg_admin(url: str):
    """A psycopg connection to the server's maintenance database, in autocommit."""
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True)


def create_database(url: str, *, drop: bool) -> None:
    """Create the empty database at `url`; an existing one is refused unless `drop`."""
    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        path = Path(parts.path[1:] if parts.path.startswith("//") else parts.path)
        if path.exists():
            if not drop:
                raise CommandError(f"{path} exists; pass --drop to replace it.")
            path.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)
        return
    if not parts.scheme.startswith("postgres"):
        raise CommandError(f"--database-url: {parts.scheme!r} is neither postgresql nor sqlite")
    name = parts.path.lstrip("/")
    if not name or not name.replace("_", "").isalnum():
        raise CommandError(f"--database-url: {name!r} is not a plain database name")
    with _pg_admin(url) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists:
            if not drop:
                raise CommandError(f"Database {name} exists; pass --drop to replace it.")
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        Path(parts.path[1:] if parts.path.startswith("//") else parts.path).unlink(missing_ok=True)
        return
    with _pg_admin(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


def manage(url: str, *args: str, env: dict | None = None, quiet: bool = True) -> str:
    """Run `manage.py *args` against the database at `url`; its output, or CommandError."""
    child_env = {**os.environ, "DATABASE_URL": url, **(env or {})}
    done = subprocess.run(
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), *args],
        env=child_env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise CommandError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


class Command(BaseCommand):
    help = (
        "Build a registry of the real world's size (50,000 companies, 200,000 attestations, "
        "300,000 relationships at --scale 1) from a seed into the database you name."
    )
    # The named database may not exist yet: no checks that would connect.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument("--database-url", required=True)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--scale", type=float, default=1.0)
        parser.add_argument("--drop", action="store_true", help="replace an existing database")
        parser.add_argument(
            "--into-current",
            action="store_true",
            help=(
                "internal: build into this process's DATABASE_URL, which is migrated and "
                "holds the reference data"
            ),
        )

    def handle(self, *args, database_url, seed, scale, drop, into_current, **options):
        if not 0 < scale <= 10:
            raise CommandError("--scale must be above 0 and at most 10")
        if into_current:
            from passports.scale import build_passports
            from registry.scale import build_registry

            try:
                report = build_registry(seed, scale, progress=self.stdout.write)
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            t0 = time.perf_counter()
            report.counts["passports"] = build_passports(seed, scale)
            report.seconds["passports"] = time.perf_counter() - t0
            from django.db import connection

            if connection.vendor == "postgresql":
                # Bulk rows leave the planner's statistics empty until autovacuum (off on
                # some servers) gets there: plans then sort whole tables instead of
                # walking indexes, and any timing measured is meaningless. VACUUM also
                # empties the trigram (GIN) indexes' pending lists, which every search
                # otherwise reads through (14 ms -> 0.25 ms for a passport search).
                with connection.cursor() as cursor:
                    cursor.execute("VACUUM (ANALYZE)")
            self.stdout.write("built: " + ", ".join(report.lines()[: len(report.counts)]))
            return
        started = time.perf_counter()
        create_database(database_url, drop=drop)
        steps = [
            ("migrate", ["migrate", "--no-input", "-v0"]),
            ("reference data", ["load_reference"]),
            (
                "registry",
                [
                    "build_large_registry",
                    "--database-url",
                    database_url,
                    "--seed",
                    str(seed),
                    "--scale",
                    str(scale),
                    "--into-current",
                ],
            ),
            ("sector snapshot", ["take_sector_snapshot"]),
        ]
        for label, argv in steps:
            t0 = time.perf_counter()
            out = manage(database_url, *argv)
            last = out.strip().splitlines()[-1] if out.strip() else ""
            self.stdout.write(f"{label}: {time.perf_counter() - t0:.1f} s  {last}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Built {urlsplit(database_url).path.lstrip('/')} (seed {seed}, scale {scale}) "
                f"in {time.perf_counter() - started:.0f} s"
            )
        )
