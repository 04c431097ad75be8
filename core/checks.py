"""System checks: PII keys are configured and parse, so a bad deploy fails at start-up, not on first read."""

from __future__ import annotations

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
