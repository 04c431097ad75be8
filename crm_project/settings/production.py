"""Production settings: base plus tightening only. Every secret must come from the environment."""

from django.core.exceptions import ImproperlyConfigured

from crm_project.settings.base import *  # noqa: F403
from crm_project.settings.env import env_bool, env_int

DEBUG = False
for _name in ("SECRET_KEY", "PII_ENCRYPTION_KEYS", "PII_BLIND_INDEX_KEY", "CELERY_BROKER_URL"):
    if not globals().get(_name):
        raise ImproperlyConfigured(f"{_name} must be set in the environment in production.")

# Throttles and lockouts count in the cache: a per-process cache would multiply every limit by the
# number of web processes (issue 16, finding 4).
if not CACHE_URL.startswith(("redis://", "rediss://", "unix://")):  # noqa: F405
    raise ImproperlyConfigured("CACHE_URL must point at a shared Redis in production (redis://host:6379/1).")
CACHE_REQUIRE_SHARED = True

# Customers open survey links from SMS: they must point at the public host, over HTTPS.
if not PUBLIC_BASE_URL.startswith("https://"):  # noqa: F405
    raise ImproperlyConfigured("PUBLIC_BASE_URL must be set to the public https:// origin in production.")

# TLS ends at a reverse proxy (below). Without TRUSTED_PROXY_COUNT every request would seem to
# come from the proxy's address: the audit log would lose client addresses and the per-address
# limits of the public pages would throttle the whole bank at once.
if TRUSTED_PROXY_COUNT < 1:  # noqa: F405
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be at least 1 in production (Django runs behind a proxy).")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
