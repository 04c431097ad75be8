"""Showing a service's ApplicationError on the form that called it (the page side of core.api's handler),
and the input shape every app's "share this record" page uses."""

from __future__ import annotations

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from core.errors import ApplicationError
from core.widgets import IsoDateInput


def form_add_application_error(form: forms.Form, error: ApplicationError) -> None:
    """Put each field error on its field (unknown fields on the form as a whole), else the message."""
    for field, field_messages in error.field_errors.items():
        for message in field_messages if isinstance(field_messages, list | tuple) else [field_messages]:
            form.add_error(field if field in form.fields else None, str(message))
    if not error.field_errors:
        form.add_error(None, error.message)


class ColleagueChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        name = obj.display_name
        return f"{name} · {obj.branch.name}" if obj.branch_id else name


class RecordShareForm(forms.Form):
    """Share one record with a colleague until a day (the rules live in accounts.services.record_share_create)."""

    shared_with = ColleagueChoiceField(label=_("Colleague"), queryset=None, empty_label=_("Choose a colleague"))
    reason = forms.CharField(
        label=_("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Why this colleague needs the record. Do not enter customer details here."),
    )
    ends_on = forms.DateField(label=_("Last day"), widget=IsoDateInput())

    def __init__(self, *args, colleague_queryset: QuerySet, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["shared_with"].queryset = colleague_queryset
