"""DRF authentication by API token: `Authorization: Bearer <token>` or `Token <token>`.

First in DEFAULT_AUTHENTICATION_CLASSES: DRF answers 401 (not 403) only when the first
class names a WWW-Authenticate challenge. A credential that is sent but not good (unknown,
expired, revoked, malformed, another scheme) is refused with 401, never read as anonymous.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from . import selectors, services

KEYWORDS = ("bearer", "token")


class ApiTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request)
        if not header:
            return None
        parts = header.split()
        if parts[0].decode("latin-1").lower() not in KEYWORDS:
            raise exceptions.AuthenticationFailed(
                "Unsupported authorization scheme: send 'Authorization: Bearer <token>'."
            )
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed authorization header: 'Bearer <token>', no spaces in the token."
            )
        try:
            raw = parts[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        token = selectors.token_for(raw)
        refusal = selectors.token_refusal(token)
        if refusal:
            raise exceptions.AuthenticationFailed(refusal)
        services.record_use(token)
        return token.user, token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """The OpenAPI security scheme (drf-spectacular finds it by target class)."""

    target_class = "accounts.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token: `Authorization: Bearer <token>` (or `Token <token>`)",
        }
