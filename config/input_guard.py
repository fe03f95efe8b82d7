"""Inputs refused before any view sees them, with a 4xx naming the problem.

``InputGuardMiddleware`` (early in MIDDLEWARE) answers

- 400 when the path or a query parameter holds a NUL or a format character (Unicode
  category Cf: U+200B, U+FEFF, U+202E, ...). PostgreSQL cannot store or compare NUL
  (a 500 before this guard), and paths and query parameters are identifiers, codes and
  filters, where an invisible character is never meant and only makes look-alikes;
- 413 when the body is larger than the request may be, from Content-Length before a byte
  is read; a body without one (chunked, on servers that mark their input terminated) is
  read through ``CappedStream``, which stops at the limit.

JSON bodies are checked further by ``api.parsers.GuardedJSONParser`` (nesting depth,
characters in keys and strings).
"""

from __future__ import annotations

import io
import sys
import unicodedata

from django.conf import settings
from django.http import JsonResponse
from rest_framework import exceptions

# Every character of category Cf, and NUL, as one regex class (built once, ~0.2 s).
FORMAT_CHARACTERS = frozenset(
    chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"
)
FORBIDDEN = FORMAT_CHARACTERS | {"\x00"}

# Multipart framing around the one file an upload carries (boundaries, part headers,
# other fields).
MULTIPART_OVERHEAD = 64 * 1024


def first_forbidden(text: str) -> tuple[int, str] | None:
    """(position, character) of the first NUL or format character in `text`, or None."""
    if FORBIDDEN.isdisjoint(text):
        return None
    for position, character in enumerate(text):
        if character in FORBIDDEN:
            return position, character
    return None  # pragma: no cover


def describe(character: str) -> str:
    if character == "\x00":
        return "a NUL character (U+0000)"
    name = unicodedata.name(character, "FORMAT CHARACTER")
    return f"an invisible format character (U+{ord(character):04X} {name})"


class RequestTooLarge(exceptions.APIException):
    status_code = 413
    default_code = "request_too_large"


def body_limit(content_type: str) -> int:
    """The most bytes a request body may have: an evidence file and its framing for
    multipart uploads, DATA_UPLOAD_MAX_MEMORY_SIZE for everything else."""
    if content_type.startswith("multipart/form-data"):
        return settings.EVIDENCE_MAX_BYTES + MULTIPART_OVERHEAD
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE or sys.maxsize


def too_large_message(limit: int) -> str:
    return f"The request body is larger than the limit of {limit} bytes."


class CappedStream(io.RawIOBase):
    """A body stream that raises RequestTooLarge once more than `limit` bytes are read."""

    def __init__(self, stream, limit: int):
        self.stream, self.limit, self.read_so_far = stream, limit, 0

    def readable(self) -> bool:
        return True

    def _count(self, data: bytes) -> bytes:
        self.read_so_far += len(data)
        if self.read_so_far > self.limit:
            raise RequestTooLarge(too_large_message(self.limit))
        return data

    def read(self, size=-1) -> bytes:
        # Never more than one byte past the limit, whatever the caller asks for.
        room = self.limit + 1 - self.read_so_far
        size = room if size is None or size < 0 else min(size, room)
        return self._count(self.stream.read(size)) if size > 0 else b""

    def readline(self, size=-1) -> bytes:
        room = self.limit + 1 - self.read_so_far
        size = room if size is None or size < 0 else min(size, room)
        return self._count(self.stream.readline(size)) if size > 0 else b""


def error(status: int, message: str) -> JsonResponse:
    # The API's error shape (api/exceptions.py), for pages as well: no template can fail.
    return JsonResponse({"detail": message}, status=status)


class InputGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        refusal = self.refuse(request)
        if refusal is not None:
            return refusal
        return self.get_response(request)

    def refuse(self, request):
        found = first_forbidden(request.path)
        if found:
            position, character = found
            return error(400, f"The path contains {describe(character)} at position {position}.")
        for name, values in request.GET.lists():
            found = first_forbidden(name)
            if found:
                return error(400, f"A query parameter name contains {describe(found[1])}.")
            for value in values:
                found = first_forbidden(value)
                if found:
                    return error(
                        400,
                        f"Query parameter {name!r} contains {describe(found[1])} "
                        f"at position {found[0]}.",
                    )
        return self.cap_body(request)

    def cap_body(self, request):
        limit = body_limit(request.META.get("CONTENT_TYPE", ""))
        length = request.META.get("CONTENT_LENGTH")
        if length:
            try:
                size = int(length)
            except ValueError:
                return error(400, "The Content-Length header is not a number.")
            if size > limit:
                return error(413, too_large_message(limit))
        elif request.META.get("HTTP_TRANSFER_ENCODING") and request.META.get(
            "wsgi.input_terminated"
        ):
            # No length (chunked): Django would read nothing; read it, but only to the limit.
            request._stream = CappedStream(request.META["wsgi.input"], limit)
        return None

    def process_exception(self, request, exception):
        # A plain Django view that read past the cap (DRF views answer it themselves).
        if isinstance(exception, RequestTooLarge):
            return error(413, str(exception.detail))
        return None
