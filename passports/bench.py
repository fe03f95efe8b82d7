"""The benchmark's point of comparison: the same row read with psycopg directly and
returned as JsonResponse, no ORM, no DRF. Mounted only when BENCH_ENDPOINTS is on."""

import psycopg
from django.db import connection
from django.http import Http404, JsonResponse

_conn = None  # one connection per worker process, kept open like the app's pool


def _cursor():
    global _conn
    if _conn is None or _conn.closed:
        params = connection.get_connection_params()
        # The same connection settings as the app's (prepare threshold included).
        params.pop("cursor_factory", None)
        params.pop("context", None)
        _conn = psycopg.connect(**params, autocommit=True)
    return _conn.cursor()


def bare_passport(request, identifier):
    with _cursor() as cursor:
        cursor.execute(
            "SELECT internal_id, batterypass_id, uuid::text, battery_identifier, version, "
            "public_document FROM passports_batterypassport WHERE internal_id = %s",
            [identifier],
        )
        row = cursor.fetchone()
    if row is None:
        raise Http404
    keys = ["internal_id", "batterypass_id", "uuid", "battery_identifier", "version", "document"]
    return JsonResponse(dict(zip(keys, row, strict=True)))
