"""A test-only model carrying encrypted PII fields (installed by crm_project.settings.test only)."""

from django.db import models

from core.fields import BlindIndexField, EncryptedCharField, EncryptedTextField


class PiiRecord(models.Model):
    name = models.CharField(max_length=100, blank=True)
    id_number = EncryptedTextField(blank=True)
    id_number_bidx = BlindIndexField(source="id_number", normalizer="id_number")
    phone = EncryptedCharField(max_length=32, blank=True)
    phone_bidx = BlindIndexField(source="phone", normalizer="phone")
    email = EncryptedTextField(null=True, blank=True)

    def __str__(self) -> str:
        # Never the PII itself: this ends up in admin pages and logs.
        return f"PiiRecord #{self.pk}"
