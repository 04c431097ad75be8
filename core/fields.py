"""Model fields for PII: encrypted text (core.crypto) and the blind index that makes it searchable.

Stored values: NULL stays NULL, the empty string stays "" (unencrypted: it holds no PII and
keeps ``blank=True`` fields working without NULL), anything else is ``key_id$fernet_token``.

Ciphertext is randomised, so comparing it in SQL means nothing. Every lookup except
``isnull`` raises FieldError; exact search goes through a BlindIndexField:

    PiiRecord.objects.filter(phone_bidx=blind_index(kind="phone", value=query))
"""

from __future__ import annotations

import functools

from django.core import checks, validators
from django.core.exceptions import FieldDoesNotExist, FieldError
from django.db import models
from django.db.models.lookups import Lookup
from django.utils.translation import gettext_lazy as _

from core import crypto


class EncryptedTextField(models.TextField):
    """Text encrypted at rest with the primary PII key; decrypted when read from the database."""

    description = _("Text encrypted at rest")

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return crypto.encrypt(plaintext=value)

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        # Raises PiiDecryptionError rather than ever handing ciphertext to the caller.
        return crypto.decrypt(stored=value)

    def get_lookup(self, lookup_name):
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        return _refused_lookup(lookup_name)

    def get_transform(self, lookup_name):
        # Lower(), Length() and friends would run on ciphertext.
        return None

    def check(self, **kwargs):
        errors = super().check(**kwargs)
        if self.primary_key or self.unique or self.db_index:
            errors.append(
                checks.Error(
                    "An encrypted field cannot be a primary key, unique or indexed: "
                    "its ciphertext differs on every write.",
                    hint="Add a BlindIndexField(source=...) and put unique/db_index on that.",
                    obj=self,
                    id="core.E110",
                )
            )
        return errors


class EncryptedCharField(EncryptedTextField):
    """An EncryptedTextField edited as a one-line input whose plaintext max_length is validated.

    The column is still text: the ciphertext is several times longer than the plaintext.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.max_length is not None:
            self.validators.append(validators.MaxLengthValidator(self.max_length))

    def formfield(self, **kwargs):
        # Skip TextField.formfield, which would render a Textarea.
        return models.Field.formfield(self, **{"max_length": self.max_length, **kwargs})


class _RefusedLookup(Lookup):
    """A lookup on an encrypted field: refuses to build unless it is Django's `field=None`."""

    def __init__(self, lhs, rhs):
        if rhs is None and self.lookup_name in ("exact", "iexact"):
            # build_lookup() turns `field=None` into `field__isnull=True` right after this.
            super().__init__(lhs, rhs)
            return
        field_name = getattr(getattr(lhs, "target", None), "name", "?")
        raise FieldError(
            f"Cannot filter encrypted field {field_name!r} with '{self.lookup_name}': its stored "
            "ciphertext is randomised, so the query would silently match nothing. "
            "Use the field's BlindIndexField and core.crypto.blind_index() for exact search."
        )


@functools.cache
def _refused_lookup(lookup_name: str) -> type[Lookup]:
    return type(f"Refused_{lookup_name}", (_RefusedLookup,), {"lookup_name": lookup_name})


class BlindIndexField(models.CharField):
    """HMAC of the normalised plaintext of another field on the same model, set on every save.

    It is computed in pre_save, which ``save()`` and ``bulk_create()`` run. ``QuerySet.update()``
    and ``bulk_update()`` do not: set it yourself with core.crypto.blind_index() and write it
    too. ``save(update_fields=[...])`` must name this field along with its source.
    """

    description = _("Blind index (HMAC-SHA256) of another field")
    # Overridable; unique=True suits a value that identifies one person (an ID number).
    _defaults = {"db_index": True, "null": True, "blank": True, "editable": False}

    def __init__(self, *args, source: str, normalizer: str, **kwargs):
        if normalizer not in crypto.NORMALIZERS:
            raise ValueError(
                f"BlindIndexField normalizer must be one of {sorted(crypto.NORMALIZERS)}, got {normalizer!r}."
            )
        self.source = source
        self.normalizer = normalizer
        # Always the length of a SHA-256 hex digest.
        kwargs["max_length"] = 64
        super().__init__(*args, **{**self._defaults, **kwargs})

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        del kwargs["max_length"]
        for key, default in self._defaults.items():
            if getattr(self, key) == default:
                kwargs.pop(key, None)
            else:
                kwargs[key] = getattr(self, key)
        kwargs["source"] = self.source
        kwargs["normalizer"] = self.normalizer
        return name, path, args, kwargs

    def pre_save(self, model_instance, add):
        value = crypto.blind_index(kind=self.normalizer, value=getattr(model_instance, self.source))
        setattr(model_instance, self.attname, value)
        return value

    def check(self, **kwargs):
        errors = super().check(**kwargs)
        try:
            self.model._meta.get_field(self.source)
        except FieldDoesNotExist:
            errors.append(
                checks.Error(
                    f"BlindIndexField source {self.source!r} is not a field of this model.",
                    obj=self,
                    id="core.E111",
                )
            )
        return errors

    def formfield(self, **kwargs):
        # Never user-editable: the value is derived on save.
        return None
