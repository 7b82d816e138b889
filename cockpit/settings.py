"""Settings for Fleet Cockpit, read from environment variables.

With no environment at all the cockpit runs on a bare laptop: SQLite in ``var/`` and Celery on
kombu's filesystem transport (a broker that needs no server, shared by web, worker and beat).
Set ``DATABASE_URL`` (PostgreSQL via psycopg 3) and ``REDIS_URL`` for real deployments; the
production mode lives in ``cockpit.production_settings``.
"""

import hashlib
import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("COCKPIT_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)
# Parallel test workers (pytest-xdist: gw0, gw1, …) share this machine's Redis and var/ directory, each with its own
# test database: each keeps its own cache keys, cache files and broker queues. Empty outside such a run.
TEST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "insecure-dev-key-change-me-" + "x" * 24)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "core",
    "devices",
    "enrollment",
    "assignment",
    "offboarding",
    "mdm_sync",
    "webhooks",
    "scim",
    "sso",
    "django_otp",  # two-factor authentication: devices, verification, throttling (mfa/)
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "mfa",
    "cockpit",  # the project package: the shell, the dashboard, seed_demo, static files
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.RequestIdMiddleware",
    "core.middleware.ApiBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # the switcher's cookie, else the browser's Accept-Language
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): the session confirmed a second factor
    "core.middleware.UserLanguageMiddleware",  # a signed-in user's language preference, when they chose one
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.OrganizationMiddleware",
    "mfa.middleware.MfaEnforcementMiddleware",  # an organization requiring a second factor of owners and admins
]

ROOT_URLCONF = "cockpit.urls"
WSGI_APPLICATION = "cockpit.wsgi.application"

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
                "cockpit.context_processors.cockpit",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # SSD storage: with PostgreSQL's spinning-disk default (4) the planner walks the primary key
        # through other tenants' rows instead of the (organization, status, platform, id) index of a
        # filtered inventory page (2.3 ms against 0.1 ms at 100k devices, benchmarks/).
        page_cost = os.environ.get("DB_RANDOM_PAGE_COST", "1.1")
        DATABASES["default"].setdefault("OPTIONS", {})["options"] = f"-c random_page_cost={float(page_cost)}"
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "cockpit.sqlite3",
            # Web, worker and beat share one file: WAL and IMMEDIATE transactions avoid
            # "database is locked" when they write at the same time.
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (login rate limits, token last-use throttling) ------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    # Redis down degrades to the database (core.cache) instead of failing every page; fail fast, not after 30 s.
    CACHES = {"default": {"BACKEND": "core.cache.ResilientRedisCache", "LOCATION": REDIS_URL,
                          "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2}}}
else:
    # A file cache, so web, worker and beat processes share rate limits and list counts.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache" / TEST_WORKER),
        }
    }
# Cached counts, ids and sessions belong to one database: two databases sharing a Redis (or a cache
# directory) must never read each other's entries.
CACHES["default"]["KEY_PREFIX"] = os.environ.get("CACHE_KEY_PREFIX") or hashlib.sha1(
    f"{DATABASES['default']['ENGINE']}:{DATABASES['default'].get('HOST', '')}:{DATABASES['default']['NAME']}"
    f"{':' + TEST_WORKER if TEST_WORKER else ''}".encode(),
    usedforsecurity=False,
).hexdigest()[:12]

# --- Auth -----------------------------------------------------------------------------------
# Sessions are read from the cache (Redis, or the shared file cache) and written through to the
# database: a signed-in page costs no session query, and a cleared cache loses no session.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Django's model backend, with the signed-in user read from the cache (invalidated when the user changes).
AUTHENTICATION_BACKENDS = ["core.auth.CockpitModelBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Rate limits, (count, seconds), keyed per account and, far higher, per client address (an office behind one NAT):
# one locked account never blocks another account's right password. The enrollment page's keys are also scoped
# to its organization. Lockouts are audited (cockpit.views.LoginView, enrollment.services.sign_in).
LOGIN_RATE_LIMIT = (int(os.environ.get("LOGIN_RATE_LIMIT_ATTEMPTS", "10")), 300)  # failures per account
LOGIN_ADDRESS_RATE_LIMIT = (int(os.environ.get("LOGIN_ADDRESS_RATE_LIMIT_ATTEMPTS", "100")), 300)  # per address
ENROLLMENT_SIGNIN_REQUESTS_PER_EMAIL = (5, 15 * 60)  # code requests, per e-mail per organization
ENROLLMENT_SIGNIN_REQUESTS_PER_ADDRESS = (int(os.environ.get("ENROLLMENT_SIGNIN_ADDRESS_REQUESTS", "100")), 15 * 60)
ENROLLMENT_SIGNIN_ATTEMPTS_PER_EMAIL = (10, 15 * 60)  # codes entered, per e-mail per organization
ENROLLMENT_SIGNIN_ATTEMPTS_PER_ADDRESS = (300, 15 * 60)
# Reverse proxies whose X-Forwarded-For is believed (IPs or CIDRs); empty: REMOTE_ADDR only (core.clients).
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", "")
# Single sign-on refusals audited per client address, (count, seconds); the rest are only logged (sso.views).
SSO_REFUSALS_AUDITED = (30, 300)
# Two-factor authentication (mfa/, django-otp): the name authenticator apps show beside the account.
OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "Fleet Cockpit")

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]  # each named in its own language, for the switcher
LOCALE_PATHS = [BASE_DIR / "locale"]  # one project catalogue: locale/fr/LC_MESSAGES/django.po and its .mo
FORMAT_MODULE_PATH = ["cockpit.formats"]  # English short dates stay ISO-like; other languages use Django's own
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- Secrets at rest (Fleet API tokens) ------------------------------------------------------
# Comma-separated Fernet keys, newest first (rotation: prepend a new key, re-save, drop the old).
# Unset: one key derived from SECRET_KEY.
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS", "")

# --- E-mail (saved as files in var/mail/ by default: core.mail) --------------------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "core.mail.DevEmailBackend")
EMAIL_FILE_PATH = Path(os.environ.get("EMAIL_FILE_PATH", VAR_DIR / "mail"))
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Fleet Cockpit <cockpit@localhost>")

# --- Celery ---------------------------------------------------------------------------------
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": f"{TEST_WORKER}:"} if TEST_WORKER else {}
else:
    _broker_dir = VAR_DIR / "broker" / TEST_WORKER
    for sub in ("queue", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT = "core.broker:FilesystemTransport"  # kombu's, each message written whole or not at all
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),  # else kombu writes its exchange table to the cwd
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
# Long jobs (the sync, the auto-unenrollment purge) hold a lease they renew while they work (core.leases): a run
# whose worker died is marked abandoned by the next one within this many seconds.
JOB_LEASE_SECONDS = int(os.environ.get("JOB_LEASE_SECONDS", "90"))
# A request that queues a job must not hang on a broker that is down: a short try, then 503 (core.dispatch).
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = "UTC"

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["core.api.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["core.api.permissions.HasTokenScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["core.api.filters.StrictFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.CockpitPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "core.api.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Fleet Cockpit API",
    "DESCRIPTION": "Device inventory, assignment, enrollment and offboarding for one organization. "
    "Authenticate with `Authorization: Bearer <token>`; a token belongs to one organization.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a "status": each keeps its own enum name in the schema.
    "ENUM_NAME_OVERRIDES": {
        "CsvImportStatusEnum": "assignment.models.CsvImport.Status",
        "PreAssignmentStatusEnum": "assignment.models.PreAssignment.Status",
    },
}

FILTERS_EMPTY_CHOICE_LABEL = gettext_lazy("Any")

# One line per event on the console, in one format (core.logfilters): a refused or missing page (4xx) is one WARNING
# without a traceback; Django's own handlers give way to the root one (under DEBUG its console handler printed each
# django.* record a second time); runserver's access lines are INFO; kombu's "No hostname was supplied" (the embedded
# broker's URL, filesystem://, has no host to supply) is dropped. Django's mail_admins goes too (ADMINS is unset).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {
        "client_errors_without_traceback": {"()": "core.logfilters.ClientErrorsWithoutTraceback"},
        "access_line_at_info": {"()": "core.logfilters.AccessLineAtInfo"},
        "kombu_no_hostname": {"()": "core.logfilters.DropMessage", "starts_with": "No hostname was supplied"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.request": {"filters": ["client_errors_without_traceback"], "propagate": True},
        # runserver's access log: one INFO line a request.
        "django.server": {"filters": ["access_line_at_info"], "level": "INFO", "propagate": True},
        "kombu.connection": {"filters": ["kombu_no_hostname"]},
    },
}

# --- Feature apps -----------------------------------------------------------------------------
# Where employees and admins reach the cockpit from outside (links in e-mails).
COCKPIT_BASE_URL = os.environ.get("COCKPIT_BASE_URL", "")
# Installers: when fleetctl is installed, ``fleetctl package … --end-user-email`` builds them.
ENROLLMENT_FLEETCTL_PATH = os.environ.get("FLEETCTL_PATH", "")
# CSV import limits, answered before the whole file is read.
ASSIGNMENT_CSV_MAX_BYTES = int(os.environ.get("ASSIGNMENT_CSV_MAX_BYTES", 20 * 1024 * 1024))
ASSIGNMENT_CSV_MAX_ROWS = int(os.environ.get("ASSIGNMENT_CSV_MAX_ROWS", 100_000))
# Larger files leave the request: the API answers 202 with a job (core.jobs) that analyses and commits them.
ASSIGNMENT_CSV_SYNC_MAX_ROWS = int(os.environ.get("ASSIGNMENT_CSV_SYNC_MAX_ROWS", 2_000))
# Bulk actions on the inventory (devices.bulk): at most this many devices at once; more than the second number leave
# the request (202 with a job).
DEVICES_BULK_MAX_DEVICES = int(os.environ.get("DEVICES_BULK_MAX_DEVICES", 10_000))
DEVICES_BULK_SYNC_MAX_DEVICES = int(os.environ.get("DEVICES_BULK_SYNC_MAX_DEVICES", 200))
# Outbound webhooks (webhooks/). Link-local (cloud metadata), multicast and reserved addresses are always refused;
# loopback and private ones (a receiver on this machine or the LAN) only while this is on: DEBUG's default, for demos.
WEBHOOKS_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOKS_ALLOW_PRIVATE_TARGETS", DEBUG)
WEBHOOKS_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOKS_TIMEOUT_SECONDS", 10))
WEBHOOKS_MAX_ATTEMPTS = int(os.environ.get("WEBHOOKS_MAX_ATTEMPTS", 8))  # tries of one delivery (30 s … 6 h apart)
# An endpoint that failed this many times in a row, over at least this many hours, is disabled (owners e-mailed).
WEBHOOKS_DISABLE_AFTER_FAILURES = int(os.environ.get("WEBHOOKS_DISABLE_AFTER_FAILURES", 15))
WEBHOOKS_DISABLE_AFTER_HOURS = float(os.environ.get("WEBHOOKS_DISABLE_AFTER_HOURS", 24))
