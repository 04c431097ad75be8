"""Input shapes of the lifecycle pages (validation of shape only; rules live in services)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from lifecycle.models import RetentionOutcome


class RetentionRecordForm(forms.Form):
    action_taken = forms.CharField(label=_("Action taken"), max_length=500,
                                   widget=forms.Textarea(attrs={"rows": 2}))
    outcome = forms.ChoiceField(label=_("Outcome"), choices=RetentionOutcome.choices)


class ModelActivateForm(forms.Form):
    note = forms.CharField(label=_("Why activate this version"), max_length=300)


class AtRiskFilterForm(forms.Form):
    min_probability = forms.IntegerField(label=_("Churn probability at least (%)"), min_value=0, max_value=100,
                                         required=False)
