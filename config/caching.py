"""Cache-Control and Vary for every response, in one place.

What an answer holds depends on who asks (tiers, memberships, staff), so every response
varies on Authorization and Cookie and is ``private``: no shared cache keeps it. The one
exception is public passport data: a GET of a view in PUBLIC_VIEWS by a requester who sent
no credentials (no Authorization header, not logged in), answered 200 or 304 without a
cookie, is ``public, max-age=PUBLIC_MAX_AGE``. Only published passports reach such an
anonymous answer (anything else is 404), so a shared cache may keep it; the Vary still
keeps it from being served to a requester who sends credentials.

A view that set its own Cache-Control (``never_cache`` on the probes, no-store on a page
showing a new token) keeps it, marked private.
"""

from django.utils.cache import patch_cache_control, patch_vary_headers

# URL names (namespace:name) whose anonymous GETs may be cached publicly.
PUBLIC_VIEWS = frozenset(
    {"api:passport-detail", "passports:public", "passports:qr", "passports:qr-png"}
)
PUBLIC_MAX_AGE = 60


def _anonymous(request) -> bool:
    if "HTTP_AUTHORIZATION" in request.META:
        return False
    user = getattr(request, "user", None)  # DRF sets it on the request it wraps
    return user is None or not user.is_authenticated


def is_public(request, response) -> bool:
    match = getattr(request, "resolver_match", None)
    return bool(
        request.method in ("GET", "HEAD")
        and match is not None
        and match.view_name in PUBLIC_VIEWS
        and response.status_code in (200, 304)
        and not response.cookies
        and "Cache-Control" not in response
        and _anonymous(request)
    )


class CacheHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        patch_vary_headers(response, ("Authorization", "Cookie"))
        if is_public(request, response):
            patch_cache_control(response, public=True, max_age=PUBLIC_MAX_AGE)
        else:
            patch_cache_control(response, private=True)
        return response
