from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from accounts.views import TwoStepLoginView
from api.views import credentials
from config import health

# No route serves MEDIA_URL, in DEBUG either: uploaded files are downloaded through views
# that check access first (config/files.py).
urlpatterns = [
    # Operations: probes answer without login; metrics only to staff or METRICS_TOKEN.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    path("api/", include("api.urls")),
    # The credential issuer (did:web) and its Bitstring Status Lists: open to all.
    path(".well-known/did.json", credentials.did_document, name="did-document"),
    path("credentials/status/<int:number>", credentials.status_list, name="credential-status"),
    path(
        "credentials/status/<int:number>/suspension",
        credentials.status_list,
        {"purpose": "suspension"},
        name="credential-status-suspension",
    ),
    path("admin/", admin.site.urls),
    # Members' login, logout and password reset (django.contrib.auth views, our templates);
    # the reset link points at PUBLIC_BASE_URL, not at whatever Host the request named.
    path(
        "accounts/password_reset/",
        auth_views.PasswordResetView.as_view(
            extra_email_context={"base_url": settings.PUBLIC_BASE_URL.rstrip("/")}
        ),
        name="password_reset",
    ),
    # Before django.contrib.auth's: the password, then a code for users with two-factor on.
    path("accounts/login/", TwoStepLoginView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("accounts.urls")),
    path("", include("search.urls")),
    path("", include("registry.urls")),
    path("", include("intake.urls")),
    path("", include("workspace.urls")),
    path("", include("passports.urls")),
    path("", include("taxonomy.urls")),
]
if settings.BENCH_ENDPOINTS:
    from passports.bench import bare_passport

    urlpatterns += [path("bench/bare/<str:identifier>/", bare_passport)]
