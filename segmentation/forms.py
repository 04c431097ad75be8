"""Input shapes of the segmentation pages (shape only; the services hold the rules)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from core.widgets import IsoDateInput
from segmentation.models import BehaviourClass, FeedbackOutcome, RiskClass, Tier, ValueClass


def _choices_with_any(choices) -> list:
    return [("", _("any")), *choices]


class SegmentFilterForm(forms.Form):
    tier = forms.ChoiceField(label=_("Tier"), choices=_choices_with_any(Tier.choices), required=False)
    value_class = forms.ChoiceField(label=_("Value"), choices=_choices_with_any(ValueClass.choices), required=False)
    behaviour_class = forms.ChoiceField(label=_("Behaviour"), choices=_choices_with_any(BehaviourClass.choices),
                                        required=False)
    risk_class = forms.ChoiceField(label=_("Risk"), choices=_choices_with_any(RiskClass.choices), required=False)
    branch = forms.IntegerField(label=_("Branch"), required=False, min_value=1, widget=forms.HiddenInput)

    def filters(self) -> dict:
        data = self.cleaned_data if self.is_valid() else {}
        return {name: data.get(name) or None for name in ("tier", "value_class", "behaviour_class", "risk_class")}


class SegmentOverrideProposeForm(forms.Form):
    # No preselected tier: the first choice would be the top tier, proposed by accident.
    tier = forms.ChoiceField(label=_("Tier"), choices=[("", _("choose a tier")), *Tier.choices])
    reason = forms.CharField(label=_("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 3}))
    starts_on = forms.DateField(label=_("First day"), widget=IsoDateInput())
    expires_on = forms.DateField(label=_("Last day"), widget=IsoDateInput())


class SegmentOverrideDecideForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", _("Approve")), ("reject", _("Reject"))])
    note = forms.CharField(label=_("Note"), max_length=500, required=False)


class RecommendationFeedbackForm(forms.Form):
    outcome = forms.ChoiceField(choices=FeedbackOutcome.choices)
