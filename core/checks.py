"""System checks: PII keys are configured and parse, so a bad deploy fails at start-up, not on first read."""

from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from core import crypto


def pii_keys_check(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Report PII_ENCRYPTION_KEYS and PII_BLIND_INDEX_KEY that are missing or malformed."""
    errors: list[checks.CheckMessage] = []
    try:
        crypto.get_keyring()
    except ImproperlyConfigured as exc:
        errors.append(
            checks.Error(
                str(exc),
                hint="Generate a key with cryptography.fernet.Fernet.generate_key().",
                id="core.E100",
            )
        )
    try:
        crypto.get_blind_index_key()
    except ImproperlyConfigured as exc:
        errors.append(
            checks.Error(
                str(exc), hint="Use a long random secret, e.g. secrets.token_urlsafe(32).", id="core.E101"
            )
        )
    return errors


PER_PROCESS_CACHE_BACKENDS = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
    "django.core.cache.backends.filebased.FileBasedCache",
)


def shared_cache_check(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Where CACHE_REQUIRE_SHARED is set (production), refuse a cache that each process keeps for itself.

    Throttles (public complaint form, progress lookups, survey pages, the API) count in the default
    cache: with 4 gunicorn workers and a per-process cache, every limit is 4 times what it says.
    """
    if not getattr(settings, "CACHE_REQUIRE_SHARED", False):
        return []
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if backend in PER_PROCESS_CACHE_BACKENDS:
        return [checks.Error(
            f"The default cache ({backend}) is per process; throttles would count per process.",
            hint="Set CACHE_URL to a Redis shared by every web process, e.g. redis://redis:6379/1.",
            id="core.E102",
        )]
    return []
