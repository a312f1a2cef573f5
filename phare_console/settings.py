"""Settings for the Phare incident console, read from the environment (and an optional .env).

Every variable is listed in README.md's configuration table and in .env.example.
"""

import logging
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# The OS environment wins over .env (read_env does not overwrite variables already set).
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="insecure-development-key-do-not-use-in-production")
else:
    SECRET_KEY = env.str("SECRET_KEY", default="")
    if not SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Served over HTTPS in production (DEBUG off): secure cookies, HSTS, redirect to HTTPS except
# for the load balancer's health check. Behind a TLS-terminating proxy, set
# SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO.
HTTPS = env.bool("HTTPS", default=not DEBUG)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SESSION_COOKIE_HTTPONLY = CSRF_COOKIE_HTTPONLY = True  # htmx gets the token from the page
SECURE_SSL_REDIRECT = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=HTTPS)
if proxy_header := env.str("SECURE_PROXY_SSL_HEADER", default=""):
    SECURE_PROXY_SSL_HEADER = (proxy_header, "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Only the console's own static files run or style a page: no inline script or style, no eval
# (htmx is configured through its meta tag; the CSRF token travels in hx-headers).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
    }
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.forms",
    "django_htmx",
    "template_partials",
    "csp",
    "axes",
    "incidents",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Gzip for whole pages at fixed addresses only (no query string, nothing of the request
    # echoed): BREACH needs reflected input; see incidents/compression.py.
    "incidents.compression.PageCompressionMiddleware",
    # A form declaring another charset than UTF-8 is a 400 before anything reads it.
    "incidents.middleware.FormEncodingMiddleware",
    # Django's SessionMiddleware, with sessions ending after SESSION_IDLE_HOURS idle.
    "incidents.middleware.IdleSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Cache-Control: no-store, private and Vary: HX-Request on everything behind the login.
    "incidents.middleware.PrivatePagesMiddleware",
    "incidents.middleware.ViewerTimeZoneMiddleware",
    "incidents.middleware.HtmxAwareLoginRequiredMiddleware",
    "incidents.middleware.ServiceUnavailableMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "phare_console.urls"
WSGI_APPLICATION = "phare_console.wsgi.application"

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
                "incidents.context_processors.phare_target",
            ],
        },
    },
]
FORM_RENDERER = "incidents.forms.ConsoleFormRenderer"

# Embedded SQLite by default; DATABASE_URL=postgres://... for a shared server.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# Never ATOMIC_REQUESTS: a failed call to Phare must not roll back the audit record of it.
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Keep connections between requests (a new PostgreSQL connection costs more than a search).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers queue for the lock at BEGIN instead of failing half-way ("database is locked"):
    # the shared rate budget and the submission claims rely on it.
    # Write-ahead log: a commit is one append and one fsync of the -wal file (synchronous=FULL
    # keeps every commit durable, audit entries included) instead of the rollback journal's
    # several fsyncs, and readers never wait for a writer. The mode stays set in the file.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        transaction_mode="IMMEDIATE",
        timeout=20,
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL",
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis, when the console grows past one machine: the cache, and sessions shared by every app
# server (kept in the database too, so a Redis restart logs nobody out).
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's RedisCache, but a Redis outage degrades to cache misses, not errors.
            "BACKEND": "incidents.cache.TolerantRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "phare-console",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    SESSION_ENGINE = "incidents.session_store"  # Django's database sessions, read by hand

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked-out login before checking it
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling (django-axes, failures kept in the database every app server shares). A
# username is locked for one address only, so nobody can lock an on-call engineer out from
# elsewhere during an incident.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "incidents.views.system.login_locked_out"
AXES_CLIENT_IP_CALLABLE = "incidents.middleware.client_ip"
AXES_VERBOSE = False
# Load balancers in front of the console that append to X-Forwarded-For (0: use the peer address).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# Sessions end after this many hours without a request (incidents.middleware
# IdleSessionMiddleware moves the expiry at most every 5 minutes, not on every request).
SESSION_IDLE_HOURS = env.float("SESSION_IDLE_HOURS", default=12)
SESSION_COOKIE_AGE = max(60, round(SESSION_IDLE_HOURS * 3600))
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "incidents:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Phare: https://docs.phare.io/api-reference/introduction
PHARE_API_URL = env.str("PHARE_API_URL", default="https://api.phare.io").rstrip("/")
PHARE_TIMEOUT = env.float("PHARE_TIMEOUT", default=10.0)
# Where people see an incident in Phare's dashboard, with {id} and {slug} filled in (the API
# documents no dashboard address, so it is configured; empty: no link).
PHARE_INCIDENT_URL = env.str("PHARE_INCIDENT_URL", default="")
# Calls the console allows itself in any 60 s per organization (Phare allows 100), and how
# many of them only writes may use.
PHARE_RATE_LIMIT = env.int("PHARE_RATE_LIMIT", default=90)
PHARE_WRITE_RESERVE = env.int("PHARE_WRITE_RESERVE", default=20)
# How long a create may wait for the budget before the console says "try again in N s".
PHARE_WRITE_MAX_WAIT = env.float("PHARE_WRITE_MAX_WAIT", default=5.0)
# Phare refuses incident times further ahead than a few minutes: the forms refuse them first.
PHARE_MAX_FUTURE_MINUTES = env.int("PHARE_MAX_FUTURE_MINUTES", default=9)

# Creating an incident on monitors that already have an ongoing incident declared in the last
# this many minutes (in the console or in Phare) asks for confirmation first; 0 turns it off.
DUPLICATE_WINDOW_MINUTES = env.int("DUPLICATE_WINDOW_MINUTES", default=15)

# The console's copy of each project's monitors is refreshed when a form is opened on a copy
# older than this (seconds), in a background thread so the page never waits for it.
MONITOR_SYNC_TTL = env.int("MONITOR_SYNC_TTL", default=300)
MONITOR_SYNC_IN_BACKGROUND = env.bool("MONITOR_SYNC_IN_BACKGROUND", default=True)
# Refresh monitors reads every page of the list from the organization's budget: a project
# may be refreshed on request once in this many seconds, and each person may ask once in as
# many per organization (refreshes of a stale copy are not counted); 0 turns it off.
MONITOR_REFRESH_COOLDOWN_SECONDS = env.int("MONITOR_REFRESH_COOLDOWN_SECONDS", default=60)

# The console's copy of each project's incidents (pages read it, never Phare): while someone
# looks, the list's first page and ongoing incidents are read at most every
# INCIDENT_REFRESH_SECONDS, every page at most every INCIDENT_FULL_READ_SECONDS, and an open
# incident with its timeline at most every INCIDENT_DETAIL_REFRESH_SECONDS.
INCIDENT_REFRESH_SECONDS = env.int("INCIDENT_REFRESH_SECONDS", default=30)
INCIDENT_FULL_READ_SECONDS = env.int("INCIDENT_FULL_READ_SECONDS", default=600)
INCIDENT_DETAIL_REFRESH_SECONDS = env.int("INCIDENT_DETAIL_REFRESH_SECONDS", default=15)
# How often an open incident page or list reads its parts again from the copy (paused while
# the browser tab is hidden).
INCIDENT_POLL_SECONDS = env.int("INCIDENT_POLL_SECONDS", default=10)

# Fernet keys for the stored Phare tokens: the first encrypts, all decrypt (key rotation).
# Checked at start-up by incidents.apps (a missing or invalid key stops the console with DEBUG off).
CREDENTIAL_KEYS = env.list("CREDENTIAL_KEYS", default=[])
# Keys of the audit log's HMAC chain (incidents.audit_chain), kept out of the database: the
# first signs new entries and anchors, all verify (key rotation). Checked at start-up like
# CREDENTIAL_KEYS (required with DEBUG off; with DEBUG on a key derived from SECRET_KEY).
AUDIT_CHAIN_KEY = env.list("AUDIT_CHAIN_KEY", default=[])

# Error pages and reports hide frames marked @sensitive_variables, POST data marked
# sensitive_post_parameters and secret settings, with DEBUG on as well as off.
DEFAULT_EXCEPTION_REPORTER_FILTER = "incidents.error_reports.ConsoleExceptionReporterFilter"

# Without CREDENTIAL_KEYS or AUDIT_CHAIN_KEY and with DEBUG on, keys derived from SECRET_KEY
# stand in, and every process says so at start-up (incidents.credentials, .audit_chain). In a
# local demo (DEBUG on, the sandbox rather than Phare) that is expected: `make run` says it
# once, in its start-up block (setup_demo --console-url), so the terminal shows those notices
# only against the real Phare. With DEBUG off a missing key stops start-up instead.
_derived_key_loggers = ("incidents.credentials", "incidents.audit_chain")
_local_demo = DEBUG and urlsplit(PHARE_API_URL).netloc != "api.phare.io"


def _not_a_derived_key_notice(record: logging.LogRecord) -> bool:
    return not (record.name in _derived_key_loggers and record.levelno == logging.WARNING)


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "demo_start_up": {
            "()": "django.utils.log.CallbackFilter",
            "callback": _not_a_derived_key_notice,
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["demo_start_up"] if _local_demo else [],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # httpx logs every request line at INFO; keep it quiet, our client logs what matters.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # django-axes logs every login at INFO; its failures and lockouts are warnings.
        "axes": {"level": "WARNING"},
    },
}
