"""Settings for the test suite, so that plain `pytest` needs no environment.

Everything else is read from the environment as in production (DATABASE_URL selects
PostgreSQL, DATABASE_REPLICA_URLS a replica, ...); only what a test run must not need
is given a default here."""

import os

os.environ.setdefault("SECRET_KEY", "test-suite-only-not-a-secret")

from .settings import *  # noqa: E402,F403
from .settings import STORAGES  # noqa: E402

# No collectstatic before a test run: plain static storage, no manifest.
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Static files from the apps' folders, as under `make run`; nothing is collected.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# No API throttling in the suite (tests would be flaky on shared counters); the throttle
# tests turn it on with override_settings and a cleared cache.
API_THROTTLE_RATES = {"anon": None, "user": None}
