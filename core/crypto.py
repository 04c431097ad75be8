"""Encryption of PII at rest (Fernet, keys by id) and the HMAC blind index for exact search.

Stored format of an encrypted value: ``<key_id>$<fernet token>``, e.g. ``test2$gAAAAAB...``.
The key id is stored with every value so a value is always decrypted with the key that
wrote it, keys can be rotated row by row (``manage.py rotate_pii_keys``), and an old key can
be retired once no value carries its id. A Fernet token is url-safe base64, so it never
contains ``$``.

Settings (independent of SECRET_KEY, so rotating one never touches the other):
- ``PII_ENCRYPTION_KEYS``: comma-separated ``key_id:fernet_key`` pairs; the first encrypts.
- ``PII_BLIND_INDEX_KEY``: the HMAC secret for blind indexes.

Nothing here logs or puts plaintext or ciphertext into exception messages.
"""

from __future__ import annotations

import functools
import hmac
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from core import identifiers

KEY_ID_SEPARATOR = "$"
# Key ids end up in every stored value and in SQL comparisons, so keep them to a plain,
# short alphabet that can never contain the separator.
KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
# Short HMAC keys make the blind index guessable offline; 16 characters is a floor, not a goal.
BLIND_INDEX_KEY_MIN_LENGTH = 16


class PiiDecryptionError(Exception):
    """A stored PII value could not be decrypted; never carries the value itself."""

    def __init__(self, message: str, *, key_id: str | None = None):
        self.key_id = key_id
        super().__init__(message)


class UnknownKeyIdError(PiiDecryptionError):
    """The stored value names a key id that is not in PII_ENCRYPTION_KEYS."""


@dataclass(frozen=True)
class Keyring:
    """The parsed PII_ENCRYPTION_KEYS: Fernet keys by id, the primary one first."""

    primary_key_id: str
    fernets_by_key_id: Mapping[str, Fernet]
    # Encrypts with the primary (first) key.
    multi_fernet: MultiFernet

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self.fernets_by_key_id)

    def fernet_for(self, *, key_id: str) -> Fernet:
        try:
            return self.fernets_by_key_id[key_id]
        except KeyError:
            raise UnknownKeyIdError(
                f"PII value is encrypted with key id {_printable_key_id(key_id)}, "
                "which is not configured in PII_ENCRYPTION_KEYS.",
                key_id=key_id,
            ) from None


def parse_encryption_keys(*, raw: str | None) -> Keyring:
    """Parse a PII_ENCRYPTION_KEYS string; raise ImproperlyConfigured saying what is wrong."""
    if not isinstance(raw, str) or not raw.strip():
        raise ImproperlyConfigured(
            "PII_ENCRYPTION_KEYS is not set. Set it to comma-separated key_id:fernet_key pairs, "
            "e.g. 'k2024:<Fernet.generate_key()>'; the first pair encrypts new values."
        )
    fernets_by_key_id: dict[str, Fernet] = {}
    for position, entry in enumerate(raw.split(","), start=1):
        key_id, separator, key = (part.strip() for part in entry.partition(":"))
        if not separator or not key_id or not key:
            raise ImproperlyConfigured(
                f"PII_ENCRYPTION_KEYS entry {position} is not a key_id:fernet_key pair."
            )
        if not KEY_ID_PATTERN.match(key_id):
            raise ImproperlyConfigured(
                f"PII_ENCRYPTION_KEYS entry {position}: key id must be 1-32 characters of "
                "letters, digits, '_' or '-'."
            )
        if key_id in fernets_by_key_id:
            raise ImproperlyConfigured(f"PII_ENCRYPTION_KEYS names key id {key_id!r} more than once.")
        try:
            fernets_by_key_id[key_id] = Fernet(key)
        except (ValueError, TypeError) as exc:
            # The message names the id only: the key itself must never reach a log.
            raise ImproperlyConfigured(
                f"PII_ENCRYPTION_KEYS key {key_id!r} is not a valid Fernet key "
                "(32 url-safe base64-encoded bytes)."
            ) from exc
    return Keyring(
        primary_key_id=next(iter(fernets_by_key_id)),
        fernets_by_key_id=fernets_by_key_id,
        multi_fernet=MultiFernet(list(fernets_by_key_id.values())),
    )


@functools.cache
def get_keyring() -> Keyring:
    """Return the keyring parsed from settings, parsed once per settings value."""
    return parse_encryption_keys(raw=getattr(settings, "PII_ENCRYPTION_KEYS", None))


def encrypt(*, plaintext: str) -> str:
    """Encrypt with the primary key and return the stored form ``key_id$token``."""
    keyring = get_keyring()
    token = keyring.multi_fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")
    return f"{keyring.primary_key_id}{KEY_ID_SEPARATOR}{token}"


def decrypt(*, stored: str) -> str:
    """Decrypt a stored ``key_id$token`` with that key only; raise PiiDecryptionError."""
    key_id, token = split_stored(stored=stored)
    fernet = get_keyring().fernet_for(key_id=key_id)
    try:
        return fernet.decrypt(token).decode("utf-8")
    # ValueError: a token with non-ASCII characters (base64 refuses it); it also covers
    # UnicodeDecodeError should a foreign key ever "decrypt" to bytes that are not UTF-8.
    except (InvalidToken, ValueError):
        raise _decryption_failed(key_id=key_id) from None


def _decryption_failed(*, key_id: str) -> PiiDecryptionError:
    return PiiDecryptionError(
        f"PII value with key id {_printable_key_id(key_id)} failed to decrypt (wrong key or tampered value).",
        key_id=key_id,
    )


def rotate(*, stored: str) -> str:
    """Re-encrypt a stored value under the primary key without exposing the plaintext."""
    key_id, token = split_stored(stored=stored)
    keyring = get_keyring()
    if key_id == keyring.primary_key_id:
        return stored
    fernet = keyring.fernet_for(key_id=key_id)
    primary = keyring.fernet_for(key_id=keyring.primary_key_id)
    try:
        # MultiFernet.rotate accepts a token from any of its keys; checking the signature
        # with the named key first keeps rotation as strict as decrypt().
        fernet.extract_timestamp(token)
        new_token = MultiFernet([primary, fernet]).rotate(token).decode("ascii")
    except (InvalidToken, ValueError):
        raise _decryption_failed(key_id=key_id) from None
    return f"{keyring.primary_key_id}{KEY_ID_SEPARATOR}{new_token}"


def split_stored(*, stored: str) -> tuple[str, str]:
    """Split ``key_id$token``; raise PiiDecryptionError when there is no key id."""
    key_id, separator, token = stored.partition(KEY_ID_SEPARATOR)
    if not separator or not KEY_ID_PATTERN.match(key_id) or not token:
        raise PiiDecryptionError("Stored PII value is not in key_id$token form.")
    return key_id, token


def _printable_key_id(key_id: str) -> str:
    # A value that is not ours (e.g. legacy plaintext containing '$') must not leak into a
    # message through its "key id" part.
    return repr(key_id) if KEY_ID_PATTERN.match(key_id) else "<malformed>"


# --- Blind index ------------------------------------------------------------------------


def _normalize_email(value: str) -> str:
    return value.strip().lower()


def _normalize_generic(value: str) -> str:
    return value.strip()


NORMALIZERS: dict[str, Callable[[str], str]] = {
    "phone": identifiers.phone_normalise,
    "id_number": identifiers.resident_id_normalise,
    "email": _normalize_email,
    "generic": _normalize_generic,
}


def normalize(*, kind: str, value: str) -> str:
    """Return the canonical form of a value of the given kind, as the blind index sees it."""
    try:
        normalizer = NORMALIZERS[kind]
    except KeyError:
        raise ValueError(
            f"Unknown blind index kind {kind!r}; expected one of {sorted(NORMALIZERS)}."
        ) from None
    # NFKC first: Chinese input methods produce full-width digits and letters (U+FF10-FF5A).
    return normalizer(unicodedata.normalize("NFKC", value))


@functools.cache
def get_blind_index_key() -> bytes:
    """Return PII_BLIND_INDEX_KEY as bytes, validated once per settings value."""
    raw = getattr(settings, "PII_BLIND_INDEX_KEY", None)
    if not isinstance(raw, str) or not raw.strip():
        raise ImproperlyConfigured("PII_BLIND_INDEX_KEY is not set; blind indexes need their own secret.")
    if len(raw) < BLIND_INDEX_KEY_MIN_LENGTH:
        raise ImproperlyConfigured(
            f"PII_BLIND_INDEX_KEY must be at least {BLIND_INDEX_KEY_MIN_LENGTH} characters long."
        )
    return raw.encode("utf-8")


def blind_index(*, kind: str, value: str | None) -> str | None:
    """Return the HMAC-SHA256 hex of the normalised value, or None when there is nothing to index."""
    if value is None:
        return None
    normalized = normalize(kind=kind, value=str(value))
    if not normalized:
        return None
    # The kind is part of the message so a phone and an ID number with the same digits
    # get different indexes and cannot be correlated.
    message = f"{kind}\x00{normalized}".encode()
    return hmac.digest(get_blind_index_key(), message, "sha256").hex()  # OpenSSL's one-shot HMAC


@receiver(setting_changed)
def _reset_key_caches(*, setting: str, **kwargs) -> None:
    # Tests override keys with the `settings` fixture; a stale cache would keep the old keys.
    if setting == "PII_ENCRYPTION_KEYS":
        get_keyring.cache_clear()
    elif setting == "PII_BLIND_INDEX_KEY":
        get_blind_index_key.cache_clear()
