"""The registry's domain errors, in one module; `api.exceptions` maps them to HTTP once.

Services, selectors and loaders raise these (or subclasses named for their domain), never
bare ValueError/LookupError for something a client can cause, so that no caller has to
read an error's message to know what it means.
"""

from __future__ import annotations


class DomainError(Exception):
    """Something the request cannot be answered for; `status` is the HTTP status."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field  # the request field at fault, where there is one

    def detail(self) -> dict[str, list[str]] | str:
        return {self.field: [self.message]} if self.field else self.message


class InvalidInput(DomainError, ValueError):
    """The input cannot be used as given (unknown codes, impossible combinations)."""


class OutOfScope(DomainError):
    """The input is well formed but outside what the registry answers (no data for it)."""

    status = 422
    code = "out_of_scope"


class Conflict(DomainError):
    """The request clashes with the current state (a stale version, a duplicate)."""

    status = 409
    code = "conflict"


class MissingReferenceData(DomainError, LookupError):
    """Reference data the answer needs is not loaded: a deployment fault, not the
    client's; `manage.py load_reference` mends it."""

    status = 503
    code = "reference_data_missing"

    def __init__(self, message: str, **kwargs):
        super().__init__(f"{message}: run `manage.py load_reference`.", **kwargs)


class PreconditionRequired(DomainError):
    """An update that does not say which state it changes: without it, the last writer
    would silently win over a change it never saw."""

    status = 428
    code = "precondition_required"


class PreconditionFailed(DomainError):
    """The If-Match sent is not the record's current ETag: someone changed it since."""

    status = 412
    code = "precondition_failed"
