"""Deployment checks (`manage.py check --deploy`)."""

from django.conf import settings
from django.core.checks import Warning

LOCAL_CACHES = ("LocMemCache", "DummyCache", "FileBasedCache")


def shared_cache(app_configs=None, **kwargs):
    """API throttle counters (and replica pins) must be seen by every process."""
    backend = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    if backend in LOCAL_CACHES:
        return [
            Warning(
                f"The default cache is {backend}: each process counts API throttles on "
                "its own, so N processes allow N times the rate.",
                hint="Set CACHE_URL (e.g. redis://redis:6379/1) in production.",
                id="config.W001",
            )
        ]
    return []
