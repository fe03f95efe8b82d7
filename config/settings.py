"""Settings for the registry: one module, everything from the environment.

With nothing set it runs embedded: SQLite, Celery tasks executed eagerly,
local-memory cache. Production sets DATABASE_URL (PostgreSQL), CELERY_BROKER_URL
(Redis), CACHE_URL (Redis) and SECRET_KEY, and turns DEBUG off.
"""

import datetime as dt
from pathlib import Path
from urllib.parse import unquote, urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from .env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
# ISO/IEC 15459-style issuing agency code for passport identifiers.
PASSPORT_ISSUING_AGENCY = env_str("PASSPORT_ISSUING_AGENCY", "BMR")
# Where people reach this server: QR codes and links in exports point here. By default the
# port `make run` serves on (PORT).
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", f"http://127.0.0.1:{env_int('PORT', 8000)}")
# Verifiable credentials (credentials/keys.py): the issuer's JWK set, as JSON or a file
# holding it; never in the repository. `make run` makes a development key under var/.
CREDENTIAL_SIGNING_KEYS = env_str("CREDENTIAL_SIGNING_KEYS", "")
CREDENTIAL_SIGNING_KEYS_FILE = env_str("CREDENTIAL_SIGNING_KEYS_FILE", "")
# The EU digital product passport registry's intake (passports.registry_record.submit):
# empty, the submitter is off and says so; records are exported either way.
DPP_REGISTRY_URL = env_str("DPP_REGISTRY_URL", "")
# Only the benchmark command turns this on (a bare psycopg endpoint to compare against).
BENCH_ENDPOINTS = env_bool("BENCH_ENDPOINTS", False)

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-development-key-only-for-debug"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_prometheus",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_countries",
    "simple_history",
    "axes",
    # Optional two-factor sign-in (TOTP devices; accounts/twofactor.py).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "datasets",
    "taxonomy",
    "registry",
    "passports",
    "accounts",
    "search",
    "intake",
    "workspace",
    "credentials",
    "api",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "config.request_id.RequestIdMiddleware",
    # NUL/format characters in path and query, oversized bodies: a 4xx before anything reads.
    "config.input_guard.InputGuardMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Reads go to a replica unless this requester wrote lately (no-op without replicas).
    "config.middleware.ReplicaPinMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Cache-Control and Vary for every answer from one place (public passport pages only
    # may be cached publicly); static files are answered by WhiteNoise before this.
    "config.caching.CacheHeadersMiddleware",
    # Last: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]
# `make bench-scale` only: an X-Query-Count header on every answer (config/query_count.py).
QUERY_COUNT_HEADER = env_bool("QUERY_COUNT_HEADER", False)
if QUERY_COUNT_HEADER:  # first, so it counts the queries of every other middleware too
    MIDDLEWARE.insert(0, "config.query_count.QueryCountMiddleware")

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

# --- Database -------------------------------------------------------------


def _database(url: str) -> dict:
    """One DATABASES entry from a URL, with the options of this deployment."""
    database = dj_database_url.parse(url)
    if database["ENGINE"] == "django.db.backends.postgresql":
        # psycopg 3 connection pool per process; gunicorn workers each hold their own.
        # Server-side prepared statements after N runs of a query (psycopg); safe with the
        # psycopg pool, not behind a transaction-pooling pgbouncer: then set it empty.
        threshold = env_str("DATABASE_PREPARE_THRESHOLD", "5")
        options = database.setdefault("OPTIONS", {})
        options["prepare_threshold"] = int(threshold) if threshold else None
        # Server-side parameter binding, which prepared statements need (psycopg 3).
        options["server_side_binding"] = env_bool("DATABASE_SERVER_SIDE_BINDING", True)
        if env_bool("DATABASE_POOL", True):
            database["CONN_MAX_AGE"] = 0
            options["pool"] = {
                "min_size": env_int("DATABASE_POOL_MIN", 1),
                "max_size": env_int("DATABASE_POOL_MAX", 10),
            }
        else:
            database["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 60)
    elif database["ENGINE"] == "django.db.backends.sqlite3":
        Path(database["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        # WAL + a busy timeout let the dev server and a worker write side by side.
        database.setdefault("OPTIONS", {}).update(
            {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
        )
    return database


DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'var' / 'registry.sqlite3'}"
DATABASES = {"default": _database(DATABASE_URL)}
# Read replicas (e.g. PostgreSQL streaming standbys): aliases replica1, replica2, ...
# config.db_router sends reads to one of them and writes, migrations and locking reads to
# default; a requester that wrote reads default for REPLICA_PIN_SECONDS after
# (config.middleware.ReplicaPinMiddleware, the pin kept in the shared cache).
DATABASE_REPLICA_URLS = env_list("DATABASE_REPLICA_URLS")
for _n, _url in enumerate(DATABASE_REPLICA_URLS, start=1):
    _replica = _database(_url)
    if _replica["ENGINE"] != DATABASES["default"]["ENGINE"]:
        raise ImproperlyConfigured(
            f"DATABASE_REPLICA_URLS: replica {_n} is {_replica['ENGINE']}, "
            f"not {DATABASES['default']['ENGINE']} like DATABASE_URL"
        )
    # Under the test runner a replica is a test mirror of default: it keeps its own host
    # and port and reads the test database's NAME (on a streaming standby, its copy).
    _replica["TEST"] = {"MIRROR": "default"}
    DATABASES[f"replica{_n}"] = _replica
DATABASE_ROUTERS = ["config.db_router.PrimaryReplicaRouter"] if DATABASE_REPLICA_URLS else []
REPLICA_PIN_SECONDS = env_int("REPLICA_PIN_SECONDS", 5)
if REPLICA_PIN_SECONDS < 0:
    raise ImproperlyConfigured(f"REPLICA_PIN_SECONDS={REPLICA_PIN_SECONDS} must be 0 or more")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------
CACHE_URL = env_str("CACHE_URL")
if CACHE_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery ---------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "memory://")
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND")
# Without a broker the tasks run in-process, so `make run` needs no other service.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", CELERY_BROKER_URL == "memory://")
CELERY_TASK_EAGER_PROPAGATES = True
# A job is acknowledged only when it has finished, and handed back to the queue when the
# process running it dies (OOM killer, SIGKILL, a lost node): every task must therefore be
# idempotent (run twice, or resumed after a kill, it changes nothing more than once).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Redis hands an unacknowledged job to another worker after the visibility timeout; if
# that is shorter than the longest job (imports, recomputations, expiry, exports), a job
# still running would be started a second time. Size it to the longest job: 4 hours by
# default (the expiry of 20,000 attestations takes about 5 s on PostgreSQL). A job whose pool
# process is killed comes back at once (reject on worker lost), not after this timeout; the
# timeout matters when the worker's main process or its host vanishes with the job.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 4 * 60 * 60),
}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Population computations (sector search, supply trace; registry.kept): below this many
# companies they are computed inline; above, served from a result a job keeps.
KEPT_RESULT_INLINE_BELOW = env_int("KEPT_RESULT_INLINE_BELOW", 2000)
# A sector's search also grades every company of it (about 0.5 ms a company): kept above
# this many companies.
KEPT_GRADES_INLINE_BELOW = env_int("KEPT_GRADES_INLINE_BELOW", 300)
KEPT_RESULT_RETRY_AFTER = env_int("KEPT_RESULT_RETRY_AFTER", 10)  # seconds, with a 202
KEPT_RESULT_JOB_TIMEOUT = env_int("KEPT_RESULT_JOB_TIMEOUT", 15 * 60)  # a claim older: lost
# Workers keep our logging (JSON lines with the task id as request id), not Celery's.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BEAT_SCHEDULE = {
    "expire-attestations": {
        "task": "registry.expire_attestations",
        "schedule": 24 * 60 * 60,  # daily; idempotent, so several beats do no harm
    },
    # The only source of sector figures that count private attestations (registry.privacy):
    # weekly, so dates between snapshots stay invisible; one snapshot per date.
    "take-sector-snapshot": {
        "task": "registry.take_sector_snapshot",
        "schedule": 7 * 24 * 60 * 60,
    },
}
# The expiry job works in batches, one transaction each: a kill rolls back one batch at most.
EXPIRY_BATCH_SIZE = env_int("EXPIRY_BATCH_SIZE", 500)
# Concentration from published production: below this share of the world total covered
# by the listed producers, only bounds are given (registry/concentration/published.py).
CONCENTRATION_MIN_COVERAGE_PCT = env_int("CONCENTRATION_MIN_COVERAGE_PCT", 80)

# --- Auth -----------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Members log in at /accounts/login/ (staff too; the admin has its own page).
LOGIN_URL = "login"
# Members land on their workspace; a `next=` still wins.
LOGIN_REDIRECT_URL = "workspace:home"
LOGOUT_REDIRECT_URL = "/"
# Axes first: a locked-out username+IP is refused before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failed logins (admin and site login pages) are counted per username and IP in the
# database (shared by all processes); after LOGIN_FAILURE_LIMIT the pair is locked out
# for LOGIN_COOLOFF_MINUTES. A successful login clears the count.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The issuer an authenticator app shows next to a two-factor account.
OTP_TOTP_ISSUER = "Battery Minerals Compliance Registry"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "config.client_ip.client_ip"
# Proxies in front of the app that append to X-Forwarded-For (0: trust REMOTE_ADDR only).
PROXY_COUNT = env_int("PROXY_COUNT", 0)
if PROXY_COUNT < 0:
    raise ImproperlyConfigured(f"PROXY_COUNT={PROXY_COUNT} must be 0 or more")

# --- Email (password reset) -------------------------------------------------
# EMAIL_URL (smtp://user:password@host:587, smtps://... for implicit TLS) or EMAIL_HOST and
# friends; with neither, mails are written to the console.
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "registry@localhost")
EMAIL_URL = env_str("EMAIL_URL", "")
if EMAIL_URL:
    _email = urlsplit(EMAIL_URL)
    if _email.scheme not in ("smtp", "smtps", "smtp+tls"):
        raise ImproperlyConfigured("EMAIL_URL must start with smtp://, smtp+tls:// or smtps://")
    EMAIL_HOST = _email.hostname or "localhost"
    EMAIL_PORT = _email.port or {"smtps": 465, "smtp+tls": 587}.get(_email.scheme, 25)
    EMAIL_HOST_USER = unquote(_email.username or "")
    EMAIL_HOST_PASSWORD = unquote(_email.password or "")
    EMAIL_USE_SSL = _email.scheme == "smtps"
    EMAIL_USE_TLS = _email.scheme == "smtp+tls"
else:
    EMAIL_HOST = env_str("EMAIL_HOST", "")
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)

# --- I18N / static --------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Uploaded files are never served by URL: MEDIA_URL is routed nowhere, and downloads go
# through views that check access (config/files.py).
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
# In development static files come from the apps directly; no collectstatic needed.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# --- Files (evidence, imports, exports) -------------------------------------
# "local": MEDIA_ROOT on this machine (embedded default); "s3": S3-compatible object
# storage (django-storages), private objects, handed out only as short-lived presigned URLs.
STORAGE_BACKEND = env_str("STORAGE_BACKEND", "local").strip().lower()
FILE_URL_EXPIRE_SECONDS = env_int("FILE_URL_EXPIRE_SECONDS", 60)
if not 1 <= FILE_URL_EXPIRE_SECONDS <= 3600:
    raise ImproperlyConfigured(
        f"FILE_URL_EXPIRE_SECONDS={FILE_URL_EXPIRE_SECONDS} must be between 1 and 3600 "
        "(presigned download URLs are short-lived)"
    )
if STORAGE_BACKEND == "local":
    # Its location follows MEDIA_ROOT; its url() refuses: nothing is served from MEDIA_URL.
    _DEFAULT_STORAGE = {"BACKEND": "config.files.PrivateFileSystemStorage"}
elif STORAGE_BACKEND == "s3":
    if not env_str("AWS_STORAGE_BUCKET_NAME"):
        raise ImproperlyConfigured("AWS_STORAGE_BUCKET_NAME must be set when STORAGE_BACKEND=s3")
    if env_str("AWS_S3_ADDRESSING_STYLE", "") not in ("", "auto", "path", "virtual"):
        raise ImproperlyConfigured("AWS_S3_ADDRESSING_STYLE must be auto, path or virtual")
    # Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (read by django-storages from
    # the environment), else the standard boto chain (profile, instance/task role).
    _DEFAULT_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env_str("AWS_S3_REGION_NAME") or None,
            "addressing_style": env_str("AWS_S3_ADDRESSING_STYLE") or None,
            "signature_version": "s3v4",
            # Objects are private; set AWS_DEFAULT_ACL empty for a bucket with ACLs
            # disabled (Object Ownership "bucket owner enforced"), which is private anyway.
            "default_acl": env_str("AWS_DEFAULT_ACL", "private") or None,
            "querystring_auth": True,
            "querystring_expire": FILE_URL_EXPIRE_SECONDS,
            "custom_domain": None,
            # Content-addressed keys: an existing key is reused, never overwritten.
            "file_overwrite": False,
        },
    }
else:
    raise ImproperlyConfigured(f"STORAGE_BACKEND={STORAGE_BACKEND!r} must be local or s3")
STORAGES = {
    "default": _DEFAULT_STORAGE,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Evidence files attached to attestations.
EVIDENCE_MAX_BYTES = env_int("EVIDENCE_MAX_BYTES", 20 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# --- Security (production) ------------------------------------------------
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_CONTENT_TYPE_NOSNIFF = True

# --- REST framework -------------------------------------------------------
REST_FRAMEWORK = {
    # The token class first: its WWW-Authenticate challenge makes DRF answer 401.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Rates are read per request from API_THROTTLE_RATES (config/throttling.py), kept in
    # the default cache: CACHE_URL, shared by all processes, in production.
    "DEFAULT_THROTTLE_CLASSES": [
        "config.throttling.AnonThrottle",
        "config.throttling.UserThrottle",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    # JSON with a nesting limit and no NUL/invisible characters (api/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "api.parsers.GuardedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
    # DRF's, with an unknown ?format= a 404 naming it (lists and computations download
    # as ?format=csv / xlsx: api/downloads.py).
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "api.negotiation.Negotiation",
}

# "N/second|minute|hour|day"; empty turns that throttle off.
API_THROTTLE_RATES = {
    "anon": env_str("API_THROTTLE_ANON", "60/minute") or None,
    "user": env_str("API_THROTTLE_USER", "600/minute") or None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Battery Minerals Compliance Registry API",
    "DESCRIPTION": (
        "Standards taxonomy (CLEE/NRGI), companies, attestations, coverage gaps, "
        "supply concentration and battery passports."
    ),
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Every operation's error answers, in one place (api/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "CountryEnum": "django_countries.countries",
        "AttestationStatusEnum": "registry.models.Attestation.Status",
        "OrganisationKindEnum": "registry.models.Organisation.Kind",
        "FacilityKindEnum": "registry.models.Facility.Kind",
        "StandardKindEnum": "taxonomy.models.StandardKind",
        "BatteryStatusEnum": "passports.models.BatteryStatus",
        "SuccessorStatusEnum": "passports.models.SUCCESSOR_STATUS_CHOICES",
        "ProductionStageEnum": "registry.models.ProductionStatistic.Stage",
        "SupplyingStageEnum": "taxonomy.matrix.SUPPLYING_STAGES",
    },
}

# --- Operations: logs, probes, metrics ---------------------------------------
# One line per record on stderr: JSON in production (LOG_FORMAT=json, the default when
# DEBUG is off), text in development; every record carries the request id
# (config/request_id.py), and every request writes one access line (logger "access").
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOG_FORMAT = env_str("LOG_FORMAT", "text" if DEBUG else "json").strip().lower()
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} must be json or text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "config.request_id.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "config.request_id.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own handlers (plain console, mail_admins) are replaced by ours.
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django.request": {"level": LOG_LEVEL},
        "access": {"level": LOG_LEVEL},
        **{
            app: {"level": LOG_LEVEL}
            for app in ("config", "taxonomy", "registry", "passports", "accounts", "intake", "api")
        },
    },
}
# /readyz gives each check this long (seconds); the checks run side by side.
READYZ_TIMEOUT = env_int("READYZ_TIMEOUT", 2)
# /metrics answers staff users, and scrapers bearing this token (Authorization: Bearer).
# Several gunicorn workers: set PROMETHEUS_MULTIPROC_DIR (see config/health.py).
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
