"""Opt-in `X-Query-Count` response header: how many SQL queries answering took.

For `make bench-scale` only (settings.QUERY_COUNT_HEADER, from the environment; off by
default): it counts every query the request made on every database, middleware included.
"""

from __future__ import annotations

from contextlib import ExitStack

from django.db import connections

HEADER = "X-Query-Count"


class QueryCountMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        count = 0

        def counter(execute, sql, params, many, context):
            nonlocal count
            count += 1
            return execute(sql, params, many, context)

        with ExitStack() as stack:
            for connection in connections.all():
                stack.enter_context(connection.execute_wrapper(counter))
            response = self.get_response(request)
        response[HEADER] = str(count)
        return response
