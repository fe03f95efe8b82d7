"""`make run`'s set-up, end to end on a fresh SQLite file: what a new user runs."""

import os
import sqlite3
import subprocess
import sys

import pytest
from django.conf import settings


def make(target: str, db_url: str, **variables) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY")}
    env["DATABASE_URL"] = db_url
    result = subprocess.run(
        ["make", "--no-print-directory", target, *(f"{k}={v}" for k, v in variables.items())],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture
def fresh_db(tmp_path):
    path = tmp_path / "fresh.sqlite3"
    return path, f"sqlite:///{path}"


def count(path, sql: str) -> int:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchone()[0]


def test_demo_data_0_sets_up_an_empty_registry_with_only_the_reference_data(fresh_db):
    path, url = fresh_db
    make("setup", url, DEMO_DATA="0")
    assert count(path, "SELECT COUNT(*) FROM taxonomy_standard") > 20
    assert count(path, "SELECT COUNT(*) FROM registry_productionstatistic") > 100
    assert count(path, "SELECT COUNT(*) FROM registry_company") == 0
    assert count(path, "SELECT COUNT(*) FROM passports_batterypassport") == 0


def test_a_second_make_run_keeps_an_admins_edit_and_loads_the_demo_only_once(fresh_db):
    path, url = fresh_db
    first = make("setup", url)
    assert "Demo data (illustrative, marked demo)" in first
    companies = count(path, "SELECT COUNT(*) FROM registry_company WHERE demo")
    assert companies > 0
    with sqlite3.connect(path) as db:  # what an administrator does in the admin
        db.execute("UPDATE taxonomy_standard SET year = 1999 WHERE code = 'irma'")

    second = make("data", url)

    assert count(path, "SELECT year FROM taxonomy_standard WHERE code = 'irma'") == 1999
    assert "left alone: irma: changed by a person" in second
    assert "only into an empty registry" in second
    assert count(path, "SELECT COUNT(*) FROM registry_company") == companies


def test_public_links_follow_the_port_make_run_serves_on():
    result = subprocess.run(
        [sys.executable, "-c", "import config.settings as s; print(s.PUBLIC_BASE_URL)"],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DEBUG": "1", "PORT": "8123"},
        capture_output=True,
        text=True,
    )
    assert result.stdout.strip() == "http://127.0.0.1:8123", result.stderr
