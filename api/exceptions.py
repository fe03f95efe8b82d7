"""One error shape for the whole API: {"detail": ...} or field -> messages."""

from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

from registry.services import Conflict
from taxonomy.selectors import UnknownCodes


class ConflictError(exceptions.APIException):
    status_code = 409
    default_code = "conflict"


def exception_handler(exc, context):
    if isinstance(exc, LookupError) and "rule" in str(exc).lower():
        exc = exceptions.APIException(f"{exc}: run `manage.py load_reference`.")
        exc.status_code = 503
    elif isinstance(exc, ImproperlyConfigured):
        exc = exceptions.APIException(str(exc))
        exc.status_code = 503
    elif isinstance(exc, Conflict):
        exc = ConflictError(str(exc))
    elif isinstance(exc, UnknownCodes):
        exc = exceptions.ValidationError({exc.kind: [str(exc)]})
    elif isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail)
    return drf_exception_handler(exc, context)
