"""`make bench-passport` (manage.py bench_passport): wrk against one gunicorn server, every
route in turn, ending with the two ratio lines of the goals. Timings are not tested: only
that it runs, what it prints, that it refuses a failed answer, and that it says how to get
wrk when it is missing."""

from __future__ import annotations

import io
import os
import re
import shutil

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from passports.management.commands.bench_passport import parse_wrk
from passports.models import AccessGrant
from registry.models import Organisation

WRK_OUTPUT = """Running 1s test @ http://127.0.0.1:8000/bench/bare/X/
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.10ms    1.02ms  12.00ms   80.00%%
  Latency Distribution
     50%%  850.00us
     75%%    3.50ms
     90%%    4.00ms
     99%%    1.20s
  1234 requests in 1.00s, 1.23MB read
%s
Requests/sec:   1234.00
Transfer/sec:      1.23MB
"""


def test_wrk_figures_are_read_in_milliseconds():
    run = parse_wrk(WRK_OUTPUT % "")
    assert (run.rps, run.p50_ms, run.p99_ms, run.requests) == (1234.0, 0.85, 1200.0, 1234)


@pytest.mark.parametrize(
    "trouble, says",
    [
        ("  Non-2xx or 3xx responses: 7", "7 answers were not 2xx"),
        ("  Socket errors: connect 0, read 0, write 0, timeout 3", "socket errors"),
    ],
)
def test_a_failed_answer_fails_the_measure(trouble, says):
    with pytest.raises(ValueError, match=says):
        parse_wrk(WRK_OUTPUT % trouble)


def test_without_wrk_the_bench_says_how_to_install_it():
    with pytest.raises(CommandError, match=r"apt-get install wrk"):
        call_command("bench_passport", wrk="/nonexistent/wrk", stdout=io.StringIO())


# Skipped without wrk locally; .ci/run installs it, and under CI=true its absence fails.
@pytest.mark.skipif(
    shutil.which("wrk") is None and os.environ.get("CI", "").lower() != "true",
    reason="needs wrk (apt-get install wrk)",
)
@pytest.mark.skipif(
    connection.vendor != "postgresql" or not os.environ.get("DATABASE_URL"),
    reason="serves the test database with gunicorn (PostgreSQL)",
)
@pytest.mark.django_db(transaction=True)
def test_bench_passport_prints_every_route_and_the_ratio_lines_of_both_goals(
    world, reference_reloaded_after
):
    world.passport()
    out = io.StringIO()
    call_command("bench_passport", seconds=1, rounds=1, connections=2, workers=1, stdout=out)
    text = out.getvalue()
    rows = {
        line.split("  ")[1].strip(): line
        for line in text.splitlines()
        if line.startswith("  ") and not line.lstrip().startswith("route")
    }
    assert set(rows) == {
        "bare psycopg + JsonResponse",
        "detail",
        "credential",
        "detail, grantee",
        "credential, grantee",
        "detail, ORM read",
    }
    assert re.search(r"^detail/bare: \d+\.\d\d \(goal >= 0\.80\)$", text, re.M)
    assert re.search(r"^credential/bare: \d+\.\d\d \(goal >= 0\.50\)$", text, re.M)
    assert "fast path / ORM read:" in text
    # The grantee made for the run is gone with it.
    assert not Organisation.objects.filter(name__startswith="bench-grantee-").exists()
    assert not AccessGrant.objects.filter(organisation__name__startswith="bench-").exists()
