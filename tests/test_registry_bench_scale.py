"""`make bench-scale` (manage.py bench_scale) end to end at a tiny scale, and the opt-in
X-Query-Count header it reads. Timings are not tested: only the table's shape."""

from __future__ import annotations

import io
import os
import re
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry.management.commands.bench_scale import get_routes

pytestmark = pytest.mark.django_db

ROW = re.compile(
    r"^(?P<route>\S.*?)\s{2,}(?P<demo>\S+(?: \[\d+\])?)\s+(?P<large>\S+(?: \[\d+\])?)"
    r"\s+(?P<ratio>\d+\.\d\d|-)\s+(?P<queries>\S+ / \S+)\s+(?P<mb>\d+)(?:\s+(?P<misses>\S.*))?$"
)


def test_the_query_count_header_is_off_by_default(client):
    assert "X-Query-Count" not in client.get("/standards/")


def test_the_query_count_header_counts_every_query_of_the_answer(client, settings):
    settings.MIDDLEWARE = ["config.query_count.QueryCountMiddleware", *settings.MIDDLEWARE]
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/standards/")
    assert response.status_code == 200
    assert int(response["X-Query-Count"]) == len(queries) > 0


def test_every_registry_page_and_list_is_among_the_routes_measured():
    names = {name for name, *_ in get_routes()}
    assert {
        "registry:company-list",
        "registry:scorecard",
        "registry:sector-search",
        "registry:supply-chain",
        "api:company-list",
        "api:attestation-list",
        "api:relationship-list",
        "api:sector-gaps",
        "api:supply-chain",
    } <= names
    assert not any(name.startswith("admin:") for name in names)  # the admin: rows of its own


@pytest.mark.skipif(
    connection.vendor != "postgresql" or not os.environ.get("DATABASE_URL"),
    reason="builds two PostgreSQL databases beside the test database and serves them",
)
def test_bench_scale_prints_one_row_per_route_and_the_worst_ratio_last():
    base = urlsplit(os.environ["DATABASE_URL"])
    base_url = base._replace(path=base.path + "_t").geturl()
    out = io.StringIO()
    call_command("bench_scale", base_url=base_url, scale=0.002, repeat=1, stdout=out)
    lines = out.getvalue().rstrip("\n").splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("route "))
    assert lines[header].split() == [
        "route",
        "demo",
        "ms",
        "large",
        "ms",
        "ratio",
        "queries",
        "demo/large",
        "large",
        "peak",
        "MB",
        "misses",
    ]
    rows = {}
    for line in lines[header + 2 :]:
        match = ROW.match(line)
        if match is None:
            break
        rows[match["route"].strip()] = match
    for route in (
        "registry:company-list",
        "registry:company-list ?mineral=cobalt",
        "registry:sector-search",
        "api:company-list ?mineral=cobalt",
        "api:supply-chain",
        "api:sector-gaps",
        "admin attestation list",
        "admin attestation search",
        "admin company search",
        "admin relationship search",
        "admin attestation change (submitted)",
    ):
        assert route in rows, (route, out.getvalue())
        assert rows[route]["demo"] != "-" and rows[route]["large"] != "-"
        assert rows[route]["queries"] != "- / -"
    # The pages answered (200), as staff for the admin.
    assert "[" not in rows["admin attestation change (submitted)"]["large"]
    assert "[" not in rows["registry:company-list"]["large"]
    assert re.match(
        r"^worker memory \(VmHWM, MB\): demo idle \d+",
        lines[-3] if "not measured" in lines[-2] else lines[-2],
    )
    assert re.fullmatch(r"worst ratio large/small: \d+\.\d\d \(\S.*\)", lines[-1])
    # Nothing is left behind.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s",
            [base.path.lstrip("/") + "_t_bench_%"],
        )
        assert cursor.fetchall() == []


def test_a_whole_table_download_is_shown_but_is_not_the_worst_ratio_nor_a_time_miss():
    from registry.management.commands.bench_scale import Measure, table

    def side(download_ms, page_ms):
        return {
            "idle": 100.0,
            "peak": 120.0,
            "results": {
                "api:intake-export": Measure(download_ms, 0, 200, 110.0),
                "api:company-list": Measure(page_ms, 3, 200, 110.0),
            },
        }

    lines = table(side(9, 10), side(7000, 25), ["api:intake-export", "api:company-list"])
    rows = {m["route"].strip(): m for m in map(ROW.match, lines) if m}
    assert rows["api:intake-export"]["ratio"] == "777.78"
    assert rows["api:intake-export"]["misses"] == "(download)"
    assert rows["api:company-list"]["misses"] is None
    assert lines[-1] == "worst ratio large/small: 2.50 (api:company-list)"
