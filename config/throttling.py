"""API throttles whose rates are read per request (settings.API_THROTTLE_RATES).

DRF's own classes bind their rates when imported, so a change of settings (the test
suite's, or a test's override) would not reach them. Counters live in the default cache:
CACHE_URL (Redis) in production, shared by every process. A 429 carries Retry-After (DRF
sets it from wait())."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from .client_ip import client_ip


class _SettingsRateThrottle(SimpleRateThrottle):
    def __init__(self):  # the rate is looked up per request, not once per class
        pass

    def allow_request(self, request, view):
        self.rate = (getattr(settings, "API_THROTTLE_RATES", None) or {}).get(self.scope)
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_ident(self, request):
        return client_ip(request) or ""


class AnonThrottle(_SettingsRateThrottle):
    """Requests without credentials, per client address."""

    scope = "anon"

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class UserThrottle(_SettingsRateThrottle):
    """Authenticated requests, per user (whatever token or session they come with)."""

    scope = "user"

    def get_cache_key(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}
