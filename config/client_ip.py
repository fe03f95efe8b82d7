"""The client's address, one rule for login lockout (axes) and API throttling.

REMOTE_ADDR, unless PROXY_COUNT proxies in front of us append to X-Forwarded-For: then the
address the outermost trusted proxy saw. Never the leftmost X-Forwarded-For entry, which
the client writes itself.
"""

from django.conf import settings


def client_ip(request) -> str | None:
    remote = request.META.get("REMOTE_ADDR")
    proxies = getattr(settings, "PROXY_COUNT", 0)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if not proxies or not forwarded:
        return remote
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    return hops[-min(proxies, len(hops))] if hops else remote
