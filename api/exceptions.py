"""One error shape for the whole API: {"detail": ...} or field -> messages.

Domain errors (config.errors) carry their HTTP status; they are mapped here, once."""

from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import DomainError


class DomainAPIError(exceptions.APIException):
    def __init__(self, error: DomainError):
        self.status_code = error.status
        # A computation still running (registry.kept.NotReady): DRF sends Retry-After.
        self.wait = getattr(error, "retry_after", None)
        detail = error.detail()
        if isinstance(detail, dict):
            # Field errors keep DRF's validation shape: {"field": ["message"]}.
            self.detail = exceptions.ValidationError(detail, error.code).detail
        else:
            super().__init__(detail, error.code)


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        exc = DomainAPIError(exc)
    elif isinstance(exc, ImproperlyConfigured):
        exc = exceptions.APIException(str(exc))
        exc.status_code = 503
    elif isinstance(exc, (OverflowError, DataError)):
        # A number too large for the database's integer (SQLite: OverflowError; PostgreSQL:
        # DataError) came from the request: filters and ids are not range-checked before.
        exc = exceptions.ParseError("A number in the request is out of range.")
    elif isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail)
    return drf_exception_handler(exc, context)
