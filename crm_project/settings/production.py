"""Production settings: base plus tightening only. Every secret must come from the environment."""

from django.core.exceptions import ImproperlyConfigured

from crm_project.settings.base import *  # noqa: F403
from crm_project.settings.env import env_bool, env_int

DEBUG = False
for _name in ("SECRET_KEY", "PII_ENCRYPTION_KEYS", "PII_BLIND_INDEX_KEY", "CELERY_BROKER_URL"):
    if not globals().get(_name):
        raise ImproperlyConfigured(f"{_name} must be set in the environment in production.")

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
