"""The benchmark's points of comparison, mounted only when BENCH_ENDPOINTS is on:

- the same row read with psycopg directly and returned as JsonResponse, no ORM, no DRF;
- the passport detail endpoint reading its row through the ORM instead of the fast path
  (`selectors.passport_row`), to show what the fast path is worth.
"""

import psycopg
from django.db import connection
from django.http import Http404, JsonResponse

from api.views.passports import PassportViewSet

from . import selectors

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


class OrmReadPassportViewSet(PassportViewSet):
    """The passport API with the detail row read by `selectors.passport_row_orm`."""

    def read_row(self, requester, identifier):
        return selectors.passport_row_orm(requester, identifier)


orm_passport_detail = OrmReadPassportViewSet.as_view({"get": "retrieve"})
