"""One contract for every API list: keyset (cursor) pages in a stable order.

A page is `{"next", "previous", "results"}`: follow `next` to the end. There is no
`count`: counting the population on every page is what made deep lists slow (a COUNT(*)
and an OFFSET over 50,000 companies); a client that needs a total walks the list.

The order is the viewset's `ordering` (or, where the viewset declares `ordering_fields`,
the `?ordering=` asked), always ending in the primary key, so that it is total. The
cursor holds the values of every ordering field of the row it stops at, and the next
page is read with `WHERE (a, b, pk) > (x, y, z)` from an index on those fields: the
cost of page 1,000 is that of page 1, whatever rows come or go in between.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F, Q
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.urls import replace_query_param

MAX_PAGE_SIZE = 500
PK_NAMES = ("pk", "id")


@dataclass(frozen=True)
class Key:
    """One ordering field: its name, direction and whether it can be NULL."""

    name: str
    field: object
    descending: bool
    nullable: bool

    def order(self, reverse: bool):
        descending = self.descending != reverse
        expression = F(self.name)
        if not self.nullable:
            return expression.desc() if descending else expression.asc()
        # NULLs last in the walk on every database; first when walking back.
        nulls = {"nulls_first": True} if reverse else {"nulls_last": True}
        return expression.desc(**nulls) if descending else expression.asc(**nulls)

    def after(self, value, reverse: bool) -> Q:
        """Rows strictly after `value` in the walk (`reverse`: walking back)."""
        descending = self.descending != reverse
        nulls_first = self.nullable and reverse
        if value is None:
            return Q(**{f"{self.name}__isnull": False}) if nulls_first else Q(pk__in=[])
        beyond = Q(**{f"{self.name}__{'lt' if descending else 'gt'}": value})
        if self.nullable and not nulls_first:
            beyond |= Q(**{f"{self.name}__isnull": True})
        return beyond

    def bound(self, value, reverse: bool) -> Q | None:
        """A redundant range on the first key, so the index scan starts at the cursor."""
        if value is None or self.nullable:
            return None
        descending = self.descending != reverse
        return Q(**{f"{self.name}__{'lte' if descending else 'gte'}": value})

    def equal(self, value) -> Q:
        if value is None:
            return Q(**{f"{self.name}__isnull": True})
        return Q(**{self.name: value})

    def value_of(self, row):
        if isinstance(row, dict):
            return row["id"] if self.name == "pk" and "pk" not in row else row[self.name]
        return getattr(row, self.field.attname)


def _dump(value):
    if isinstance(value, dt.date):  # dates and datetimes, microseconds kept
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


class Pagination(BasePagination):
    """Keyset pages. `?page_size=` (1-500, default 50) sets the size of a page."""

    page_size = api_settings.PAGE_SIZE or 50
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    cursor_query_param = "cursor"
    default_ordering = ("pk",)

    # --- the order --------------------------------------------------------------------

    def get_ordering(self, request, queryset, view) -> tuple[str, ...]:
        ordering = getattr(view, "ordering", None) or self.default_ordering
        if isinstance(ordering, str):
            ordering = (ordering,)
        if getattr(view, "ordering_fields", None) and request.query_params.get("ordering"):
            for backend in getattr(view, "filter_backends", ()):
                if issubclass(backend, OrderingFilter):
                    ordering = backend().get_ordering(request, queryset, view) or ordering
                    break
        ordering = tuple(ordering)
        if ordering[-1].lstrip("-") not in PK_NAMES:
            # The tie-breaker walks the way the last field does: one index serves both ways.
            ordering += ("-pk" if ordering[-1].startswith("-") else "pk",)
        return ordering

    def keys(self, ordering, model) -> list[Key]:
        keys = []
        for term in ordering:
            name = term.lstrip("-")
            if name in PK_NAMES:
                name, field = "pk", model._meta.pk
            else:
                try:
                    field = model._meta.get_field(name)
                except FieldDoesNotExist:
                    field = None
                if field is None or not field.concrete or field.many_to_many:
                    raise ImproperlyConfigured(
                        f"Cursor order {term!r} is not a column of {model.__name__}."
                    )
            keys.append(Key(name, field, term.startswith("-"), bool(field.null)))
        return keys

    # --- the page ---------------------------------------------------------------------

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if size < 1:
            raise ValidationError(
                {self.page_size_query_param: f"a whole number from 1 to {self.max_page_size}"}
            )
        return min(size, self.max_page_size)

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.page_size = self.get_page_size(request)
        self.base_url = request.build_absolute_uri()
        self.ordering = self.get_ordering(request, queryset, view)
        self.keys_ = self.keys(self.ordering, queryset.model)
        position, reverse, inclusive = self.decode_cursor(request)

        rows = queryset.order_by(*(key.order(reverse) for key in self.keys_))
        if position is not None:
            bound = self.keys_[0].bound(position[0], reverse)
            if bound is not None:
                rows = rows.filter(bound)
            rows = rows.filter(self.beyond(position, reverse, inclusive))
        results = list(rows[: self.page_size + 1])
        more = len(results) > self.page_size
        page = results[: self.page_size]
        if reverse:
            page.reverse()
        self.page = page
        # Walking forward, the cursor's row is behind us; walking back, ahead of us.
        came_from = position is not None and not inclusive
        self.has_next, self.has_previous = (came_from, more) if reverse else (more, came_from)
        self.position = position
        self.reverse = reverse
        return page

    def beyond(self, position, reverse: bool, inclusive: bool) -> Q:
        """Rows after `position` in the walk: a > x, or a = x and b > y, or ..."""
        condition = Q(pk__in=[])
        equal = Q()
        for key, value in zip(self.keys_, position, strict=True):
            condition |= equal & key.after(value, reverse)
            equal &= key.equal(value)
        return condition | equal if inclusive else condition

    def position_of(self, row) -> list:
        return [key.value_of(row) for key in self.keys_]

    # --- the cursor -------------------------------------------------------------------

    def encode_cursor(self, position, reverse=False, inclusive=False) -> str:
        data = {"p": [_dump(v) for v in position], "o": list(self.ordering)}
        if reverse:
            data["r"] = 1
        if inclusive:
            data["i"] = 1
        text = json.dumps(data, separators=(",", ":"))
        encoded = base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
        return replace_query_param(self.base_url, self.cursor_query_param, encoded)

    def decode_cursor(self, request):
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None, False, False
        # DRF's answer to a bad cursor (and documented so: api/schema.py), naming it.
        problem = "Invalid cursor: not one this list gave out; follow `next` or `previous`."
        try:
            padded = encoded + "=" * (-len(encoded) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
            raw = data["p"]
            if data.get("o") != list(self.ordering) or len(raw) != len(self.keys_):
                raise ValueError("another order")
            position = [
                None if value is None else key.field.to_python(value)
                for key, value in zip(self.keys_, raw, strict=True)
            ]
        except (
            ValueError,
            TypeError,
            KeyError,
            UnicodeError,
            binascii.Error,
            DjangoValidationError,
        ):
            raise NotFound(problem) from None
        return position, bool(data.get("r")), bool(data.get("i"))

    # --- links and answer ---------------------------------------------------------------

    def get_next_link(self):
        if not self.has_next:
            return None
        if self.page:
            return self.encode_cursor(self.position_of(self.page[-1]))
        # Walked back past the start: the rest begins with the cursor's own row.
        return self.encode_cursor(self.position, inclusive=True)

    def get_previous_link(self):
        if not self.has_previous:
            return None
        if self.page:
            return self.encode_cursor(self.position_of(self.page[0]), reverse=True)
        return self.encode_cursor(self.position, reverse=True, inclusive=True)

    def get_paginated_response(self, data):
        return Response(
            {"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data}
        )

    def get_paginated_response_schema(self, schema):
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {**link, "description": "The next page; null on the last"},
                "previous": {**link, "description": "The page before; null on the first"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Where the page starts: the cursor of a `next` or `previous` link",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Rows per page, 1 to {self.max_page_size}",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]
