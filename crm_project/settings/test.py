"""Settings for pytest (`make test`)."""

import os

from crm_project.settings.base import *  # noqa: F403

DEBUG = False
SECRET_KEY = SECRET_KEY or "test-secret-key-not-for-production-" + "x" * 20  # noqa: F405
# Fixed keys for tests only, so a Celery worker started by a test decrypts what the test wrote.
PII_ENCRYPTION_KEYS = PII_ENCRYPTION_KEYS or (  # noqa: F405
    "test2:Q2Zlc2hBbHRlcm5hdGVLZXlGb3JUZXN0c09ubHkxMjM=,"
    "test1:dGVzdC1rZXktb25lLWZvci10ZXN0cy1vbmx5LTEyMzQ="
)
PII_BLIND_INDEX_KEY = PII_BLIND_INDEX_KEY or "test-blind-index-key"  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LANGUAGE_CODE = "en"
WHITENOISE_AUTOREFRESH = True
INSTALLED_APPS = [*INSTALLED_APPS, "tests.piiapp"]  # noqa: F405

# `make test` runs pytest-xdist workers, each a process with its own test database
# (test_<name>_gw0, ...). A cache shared through Redis would let one worker's cache.clear()
# wipe another's throttle counters, so each worker keeps its cache in its own memory.
if os.environ.get("PYTEST_XDIST_WORKER") and "redis" in str(globals().get("CACHES", {}).get("default", {})).lower():
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Tests sign staff in with force_login; the two-factor tests (tests/security) turn enforcement on.
MFA_REQUIRED_ROLES = []
