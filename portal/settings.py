"""Settings, all read from the environment (django-environ); README.md "Configuration" lists them.

Development needs none: DEBUG defaults to on, the database is a SQLite file under var/, and
the secret key and the encryption key are generated once into var/. Production sets DEBUG=False
and must then give SECRET_KEY, SECRETS_ENCRYPTION_KEYS and ALLOWED_HOSTS explicitly.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")  # optional; real environment variables win

DEBUG = env.bool("DEBUG", default=True)
TESTING = "pytest" in sys.modules or env.bool("PORTAL_TESTING", default=False)
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))


def _local_secret(name: str, make: Callable[[], str]) -> str:
    """A development-only secret kept in var/<name> so restarts keep sessions and secrets."""
    path = VAR_DIR / name
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def _required_in_production(name: str, make: Callable[[], str]) -> str:
    value = env.str(name, default="")
    if value:
        return value
    if not DEBUG:
        raise ImproperlyConfigured(f"{name} must be set when DEBUG is off.")
    return _local_secret(name.lower(), make)


SECRET_KEY = _required_in_production("SECRET_KEY", get_random_secret_key)
# Fernet keys that encrypt vendor secrets at rest, comma-separated, newest first: the first
# encrypts, all decrypt, so a key is rotated by prepending a new one (see README).
SECRETS_ENCRYPTION_KEYS = [
    k.strip()
    for k in _required_in_production(
        "SECRETS_ENCRYPTION_KEYS", lambda: Fernet.generate_key().decode()
    ).split(",")
    if k.strip()
]

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else []
)
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "whitenoise.runserver_nostatic",  # whitenoise serves static files in development too
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "portal",
    "vendors",
    "pings",
    "monitors",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "portal.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After CSRF: a tokenless POST never reaches (or uses up) the sign-in buckets.
    "portal.login_throttle.LoginThrottleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "portal.middleware.CurrentOrganizationMiddleware",
    "portal.api.middleware.RefuseNulCharactersMiddleware",
    "portal.api.exceptions.ApiErrorMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

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
                "portal.context_processors.navigation",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
DATABASES = {
    "default": env.db(
        "DATABASE_URL", default=f"sqlite:///{(VAR_DIR / 'portal.sqlite3').as_posix()}"
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    if not TESTING:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
    # Web, workers and the scheduler write at once: WAL lets readers go on during a write,
    # IMMEDIATE takes the write lock at BEGIN (no upgrade deadlocks), and the busy timeout
    # makes a writer wait its turn instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": env.int("SQLITE_BUSY_TIMEOUT", default=20),
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend whose health check skips its round trip on a busy connection whose
        # socket shows nothing wrong (portal/postgres/base.py says when that is safe).
        DATABASES["default"]["ENGINE"] = "portal.postgres"
        # The API's repeated queries (portal.sqlcache) become prepared statements after this
        # many runs on a connection; Django's other queries bind on the client and never are.
        # "off" for a proxy that pools by transaction without prepared-statement support
        # (PgBouncer before 1.21, or without max_prepared_statements).
        threshold = env.str("DATABASE_PREPARE_THRESHOLD", default="5").strip().lower()
        if threshold not in {"off", "none", ""} and not threshold.isdigit():
            raise ImproperlyConfigured(
                f"DATABASE_PREPARE_THRESHOLD must be a whole number or 'off', not {threshold!r}."
            )
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
            "prepare_threshold", int(threshold) if threshold.isdigit() else None
        )
# A connection used less than this long ago, with nothing waiting on its socket, is not sent
# CONN_HEALTH_CHECKS' `SELECT 1` before a request's first query (portal.postgres). 0: always.
CONN_HEALTH_CHECK_RECENT_SECONDS = env.float("CONN_HEALTH_CHECK_RECENT_SECONDS", default=1.0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth ---------------------------------------------------------------------------------
AUTH_USER_MODEL = "portal.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only

# --- Internationalisation -----------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files (whitenoise in every mode) ----------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Where collectstatic writes (the benchmarks point it at their scratch folder).
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
# Without collectstatic (development, tests) whitenoise serves straight from the app folders.
WHITENOISE_USE_FINDERS = DEBUG or TESTING
with contextlib.suppress(OSError):  # whitenoise warns at start-up when it is missing
    STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Email --------------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="ping-portal@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Alerts: SMS and webhooks ---------------------------------------------------------------
# "console" (stdout), "locmem" (monitors.sms.outbox), "twilio", or a dotted path to a class.
SMS_BACKEND = env.str("SMS_BACKEND", default="locmem" if TESTING else "console")
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
TWILIO_API_BASE = env.str("TWILIO_API_BASE", default="https://api.twilio.com")
# Like PING_CALLBACKS_TO_PRIVATE_NETWORKS, for monitors' alert webhooks.
ALERT_WEBHOOKS_TO_PRIVATE_NETWORKS = env.bool("ALERT_WEBHOOKS_TO_PRIVATE_NETWORKS", default=DEBUG)

# --- Security -----------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
        # Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips it from clients).
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Sign-in throttling (portal.login_throttle): failed sign-ins allowed per username and per
# client address (IPv6: per /64) before further attempts answer 429 unchecked; each bucket
# refills over the window. 0 turns a limit off.
LOGIN_THROTTLE_USERNAME_FAILURES = env.int("LOGIN_THROTTLE_USERNAME_FAILURES", default=5)
LOGIN_THROTTLE_IP_FAILURES = env.int("LOGIN_THROTTLE_IP_FAILURES", default=20)
LOGIN_THROTTLE_WINDOW_SECONDS = env.int("LOGIN_THROTTLE_WINDOW_SECONDS", default=900)
# Reverse proxies in front of the portal that append to X-Forwarded-For; the client address
# (audit log, throttling) is then the entry the outermost one added. 0: the header is ignored.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# HSTS preload is an opt-in commitment to browser vendors, so `check --deploy` warns about it
# (security.W021) unless SECURE_HSTS_PRELOAD is set or the warning is silenced here.
SILENCED_SYSTEM_CHECKS = env.list("SILENCED_SYSTEM_CHECKS", default=[])

# --- REST API -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.api.authentication.ApiKeyAuthentication",
        # The browsable API and the pages' own fetches use the login session (CSRF enforced).
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["portal.api.permissions.AccessPermission"],
    "DEFAULT_RENDERER_CLASSES": [
        # DRF's JSONRenderer's bytes, written by orjson (the stdlib encoder cost the monitor
        # list ~15 % of its time).
        "portal.api.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    # DRF's, answering `Accept: */*` (or none) without parsing it.
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "portal.api.negotiation.ContentNegotiation",
    "DEFAULT_PAGINATION_CLASS": "portal.api.pagination.PagePagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "portal.api.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Field errors are camelCase like the fields (the ICMP monitor API's `nonFieldErrors`).
    "NON_FIELD_ERRORS_KEY": "nonFieldErrors",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Ping portal API",
    "DESCRIPTION": "Customers, vendor pings and ICMP monitors. Authenticate with "
    "`Authorization: Bearer <API key>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # Every operation's error answers and the contracts' paths (no trailing slash).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "portal.api.schema.document_errors",
    ],
    # Choice sets that several bodies share get one name each.
    "ENUM_NAME_OVERRIDES": {
        "MonitorStatusEnum": "monitors.models.MonitorStatus",
        "HealthEnum": "monitors.models.Health",
        "PingStatusEnum": "pings.models.Status",
    },
}
API_KEY_LAST_USED_RESOLUTION_SECONDS = 60  # write last_used_at at most once a minute per key
# Each process remembers a key it has just checked for this long (portal.keycache), so that a
# busy key costs no query per request. Revoking or deleting a key forgets it in the process
# that does it at once; other processes may accept it for at most this long. 0: no cache.
API_KEY_CACHE_SECONDS = env.float("API_KEY_CACHE_SECONDS", default=5.0)
# A finished ping job's JSON is kept this long in the "api" cache (pings.jobcache): pollers ask
# for it again and again, and it no longer changes. A job deleted in the admin may be served
# this long by other processes when each keeps its own cache (no REDIS_URL). 0: not cached.
PING_JOB_CACHE_SECONDS = env.int("PING_JOB_CACHE_SECONDS", default=300)

# --- Vendors ------------------------------------------------------------------------------
# Where vendors reach the portal (Meraki callbacks, the Simotel webhook): its public base URL.
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
# Ask Meraki to call back when a job ends (it must reach PORTAL_BASE_URL); polling stays the
# fallback. On for the demo, whose simulator calls back on loopback.
MERAKI_CALLBACKS = env.bool("MERAKI_CALLBACKS", default=DEBUG and not TESTING)
# Callers' ping callbacks may reach loopback and private networks only when this is on (the
# demo and tests deliver to 127.0.0.1); off in production, so the API cannot probe them.
PING_CALLBACKS_TO_PRIVATE_NETWORKS = env.bool("PING_CALLBACKS_TO_PRIVATE_NETWORKS", default=DEBUG)
# Seconds a vendor may take to answer one request (after connecting) before the ping fails as a
# timeout; well under Q_TIMEOUT, so a slow vendor ends the job with a clear error.
VENDOR_READ_TIMEOUT = env.float("VENDOR_READ_TIMEOUT", default=20.0)
# Inbound vendor callbacks (Meraki's) whose timestamp is further than this from now are
# refused as replays; within it, each callback is accepted once.
INBOUND_WEBHOOK_MAX_AGE_SECONDS = env.int("INBOUND_WEBHOOK_MAX_AGE_SECONDS", default=300)
VENDOR_SIMULATOR_PORT = env.int("VENDOR_SIMULATOR_PORT", default=8090)
VENDOR_SIMULATOR_URL = f"http://127.0.0.1:{VENDOR_SIMULATOR_PORT}"
# The simulator's settings that the demo writes (e.g. where the Simotel webhook goes).
VENDOR_SIMULATOR_CONFIG = VAR_DIR / "simulator.json"

# --- Monitor scheduling ---------------------------------------------------------------------------
# The scheduler claims checks this many seconds before their slot and the engine holds each
# until its slot: batches gather a moment's slots (fewer, larger batches) and the queue's
# delivery happens inside the margin. 0 claims only what is due.
MONITOR_CLAIM_AHEAD_SECONDS = env.float("MONITOR_CLAIM_AHEAD_SECONDS", default=1.0)

# --- Monitor history and alerting -------------------------------------------------------------
# A monitor that comes back must stay up this long before its incident closes; relapses inside
# it fold into the same incident (one "opened" and one "resolved" for a flapping monitor).
MONITOR_FLAP_QUIET_SECONDS = env.int("MONITOR_FLAP_QUIET_SECONDS", default=300)
# How long history is kept, in days (0 keeps it forever). Raw checks feed the 1-hour chart,
# exports and incident details; minute rollups the 24-hour chart; hour rollups 7 and 30 days
# and uptime; day rollups the year chart and monthly reports.
MONITOR_RAW_RETENTION_DAYS = env.int("MONITOR_RAW_RETENTION_DAYS", default=30)
MONITOR_MINUTE_ROLLUP_DAYS = env.int("MONITOR_MINUTE_ROLLUP_DAYS", default=14)
MONITOR_HOUR_ROLLUP_DAYS = env.int("MONITOR_HOUR_ROLLUP_DAYS", default=400)
MONITOR_DAY_ROLLUP_DAYS = env.int("MONITOR_DAY_ROLLUP_DAYS", default=0)
# Rows deleted per statement when pruning: short transactions keep the writers flowing.
MONITOR_PRUNE_CHUNK = env.int("MONITOR_PRUNE_CHUNK", default=5000)
# Hour and day rollups are folded from closed minutes every this many minutes (one merge per
# monitor per fold instead of two per check); the 24-hour views read minutes and are current.
MONITOR_ROLLUP_FOLD_MINUTES = env.int("MONITOR_ROLLUP_FOLD_MINUTES", default=5)
# A minute is folded once it ended this long ago (a later result for it is added directly).
MONITOR_ROLLUP_FOLD_GRACE_SECONDS = env.int("MONITOR_ROLLUP_FOLD_GRACE_SECONDS", default=30)
MONITOR_ROLLUP_FOLD_CHUNK = env.int("MONITOR_ROLLUP_FOLD_CHUNK", default=5000)
# The scheduled fold rests between chunks so that it takes at most this share of a worker's
# time: spread over the interval, it leaves the cores to the checks.
MONITOR_ROLLUP_FOLD_DUTY = env.float("MONITOR_ROLLUP_FOLD_DUTY", default=0.5)

# --- Jobs (django-q2) ---------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
Q_CLUSTER = {
    "name": env.str("Q_CLUSTER_NAME", default="portal"),
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": env.int("Q_TIMEOUT", default=120),
    "retry": env.int("Q_RETRY", default=180),  # must exceed timeout
    "max_attempts": 3,
    "queue_limit": 100,
    "bulk": 10,
    "catch_up": False,
    "label": "Jobs",
    # Tests run tasks inline, in the test's own transaction.
    "sync": TESTING,
}
# How long past Q_TIMEOUT a running ping may stay silent before the every-minute sweep ends it
# as timed out (its worker died): a margin for the worker's last write and for clock skew.
PING_RESULT_GRACE_SECONDS = env.int("PING_RESULT_GRACE_SECONDS", default=30)
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Caches -------------------------------------------------------------------------------
# "default" stays per process, as Django's default. "api" holds finished ping jobs' JSON:
# shared by every process through Redis when there is one (one miss per job instead of one per
# process), else per process. Tests keep both in memory.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "api": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "api",
        "OPTIONS": {"MAX_ENTRIES": 5000},
    },
}
if REDIS_URL and not TESTING:
    CACHES["api"] = {
        # Django's, with one redis-py client per process instead of one per operation.
        "BACKEND": "portal.redis_cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "portal-api",
        # A slow or absent Redis must not hold requests up: pings.jobcache treats its errors
        # as misses and reads the database.
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }

# --- Logging ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's default config gives "django" a console handler of its own in DEBUG, on top
        # of the root's: every django.* line was printed twice.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "WARNING"},
    },
}
CSRF_FAILURE_VIEW = "portal.api.exceptions.csrf_failure"
