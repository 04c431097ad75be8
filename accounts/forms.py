"""Input shapes for accounts pages. Rules live in services; these check shape only (STYLE.md §7)."""

from __future__ import annotations

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.models import DelegationReason, User

# <input type="date"> needs ISO dates, whatever the locale's display format (zh-hans uses Y/m/d).
_ISO_DATE_WIDGET = {"format": "%Y-%m-%d", "attrs": {"type": "date"}}


def staff_label(user: User) -> str:
    """How a colleague is named in every staff picker: full name and staff number, never a bare login."""
    name = user.display_name
    return f"{name} ({user.staff_number})" if user.staff_number else name


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return staff_label(obj)


class StaffMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return staff_label(obj)


class DelegationCreateForm(forms.Form):
    delegate = StaffChoiceField(
        label=_("Backup relationship manager"),
        queryset=User.objects.none(),
        empty_label=_("Choose a colleague"),
    )
    starts_on = forms.DateField(label=_("First day"), widget=forms.DateInput(**_ISO_DATE_WIDGET))
    ends_on = forms.DateField(label=_("Last day"), widget=forms.DateInput(**_ISO_DATE_WIDGET))
    reason = forms.ChoiceField(label=_("Reason"), choices=DelegationReason.choices)
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Optional. Do not enter customer details here."),
    )

    def __init__(self, *args, delegate_queryset: QuerySet[User], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["delegate"].queryset = delegate_queryset

    def clean(self) -> dict:
        cleaned_data = super().clean()
        starts_on, ends_on = cleaned_data.get("starts_on"), cleaned_data.get("ends_on")
        if starts_on and ends_on and ends_on < starts_on:
            self.add_error("ends_on", _("The last day cannot be before the first day."))
        return cleaned_data


class MfaCodeForm(forms.Form):
    """A 6-digit code from the authenticator app, or a recovery code."""

    code = forms.CharField(label=_("Code"), max_length=16, strip=True,
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                                         "autofocus": True}))
