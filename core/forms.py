"""Showing a service's ApplicationError on the form that called it (the page side of core.api's handler)."""

from __future__ import annotations

from django import forms

from core.errors import ApplicationError


def form_add_application_error(form: forms.Form, error: ApplicationError) -> None:
    """Put each field error on its field (unknown fields on the form as a whole), else the message."""
    for field, field_messages in error.field_errors.items():
        for message in field_messages if isinstance(field_messages, list | tuple) else [field_messages]:
            form.add_error(field if field in form.fields else None, str(message))
    if not error.field_errors:
        form.add_error(None, error.message)
