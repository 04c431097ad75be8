"""Input shapes for the improvement pages (STYLE §7: shape only; rules live in services)."""

from __future__ import annotations

from datetime import date

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.forms import StaffChoiceField, StaffMultipleChoiceField
from accounts.models import Branch, User
from evaluation.periods import period_parse
from improvement.models import CustomerRewardKind, PeriodKind, Phase, period_start_of

_DATE = forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})


def parse_period(kind: str, value: str) -> date | None:
    """'2026-11' (month), '2026-Q4' (quarter) or '2026' (year) → the period's first day; None if malformed
    or of another kind (evaluation.periods.period_parse is the one parser)."""
    try:
        period = period_parse(value)
    except ValueError:
        return None
    return period.start if period.kind == kind and 2000 <= period.start.year <= 2100 else None


class InitiativeCreateForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    problem = forms.CharField(label=_("Problem"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))
    owner = StaffChoiceField(label=_("Owner"), queryset=User.objects.none())
    team = StaffMultipleChoiceField(label=_("Team"), queryset=User.objects.none(), required=False,
                                          help_text=_("People from several departments, as the manual asks."))
    branch = forms.ModelChoiceField(label=_("Branch"), queryset=Branch.objects.none(), required=False,
                                    empty_label=_("Whole bank"))
    kpi_code = forms.ChoiceField(label=_("Target KPI"))
    kpi_period_kind = forms.ChoiceField(label=_("KPI period"), choices=PeriodKind.choices, initial=PeriodKind.MONTH)
    baseline_period_start = forms.DateField(label=_("Baseline period (any day in it)"), widget=_DATE)
    baseline_value = forms.DecimalField(label=_("Baseline (empty: read from the KPI)"), required=False,
                                        max_digits=14, decimal_places=4)
    target_value = forms.DecimalField(label=_("Target"), max_digits=14, decimal_places=4)
    check_period_start = forms.DateField(label=_("Check period (any day in it)"), widget=_DATE)
    plan_notes = forms.CharField(label=_("Plan"), max_length=4000, required=False,
                                 widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, staff, branches, kpi_choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = staff
        self.fields["team"].queryset = staff
        self.fields["branch"].queryset = branches
        self.fields["kpi_code"].choices = kpi_choices


class PhaseNoteForm(forms.Form):
    phase = forms.ChoiceField(label=_("Phase"), choices=[c for c in Phase.choices if c[0] != Phase.CLOSED])
    starts_on = forms.DateField(label=_("Starts"), widget=_DATE)
    ends_on = forms.DateField(label=_("Ends"), widget=_DATE, required=False)
    notes = forms.CharField(label=_("Notes"), max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 3}))


class AdvanceForm(forms.Form):
    to_phase = forms.ChoiceField(choices=Phase.choices)


class SuggestionForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    body = forms.CharField(label=_("What should change, and why?"), max_length=4000,
                           widget=forms.Textarea(attrs={"rows": 4}))


class SuggestionDecideForm(forms.Form):
    DECISIONS = [("review", _("Start the review")), ("adopt", _("Adopt")), ("reject", _("Reject"))]

    decision = forms.ChoiceField(label=_("Decision"), choices=DECISIONS)
    reason = forms.CharField(label=_("Reason"), max_length=2000, required=False,
                             widget=forms.Textarea(attrs={"rows": 2}))
    reward_points = forms.IntegerField(label=_("Reward points now"), min_value=0, max_value=10_000, initial=0,
                                       required=False)
    bonus_points_if_met = forms.IntegerField(label=_("Bonus points if an initiative from it meets its target"),
                                             min_value=0, max_value=10_000, initial=0, required=False)


class CustomerRewardForm(forms.Form):
    response_id = forms.IntegerField(widget=forms.HiddenInput)
    kind = forms.ChoiceField(label=_("Reward"), choices=CustomerRewardKind.choices)
    points = forms.IntegerField(label=_("Points"), min_value=0, max_value=100_000, initial=0, required=False)
    note = forms.CharField(label=_("Note"), max_length=300, required=False)


class PeriodForm(forms.Form):
    period_kind = forms.ChoiceField(label=_("Period"), choices=PeriodKind.choices, required=False)
    period = forms.CharField(label=_("Which (2026-11, 2026-Q4 or 2026)"), max_length=7, required=False)

    def __init__(self, *args, kinds=(PeriodKind.MONTH, PeriodKind.QUARTER, PeriodKind.YEAR), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["period_kind"].choices = [c for c in PeriodKind.choices if c[0] in kinds]

    def clean(self):
        data = super().clean()
        kind = data.get("period_kind") or self.fields["period_kind"].choices[0][0]
        data["period_kind"] = kind
        if data.get("period"):
            start = parse_period(kind, data["period"])
            if start is None:
                self.add_error("period", _("Write a month as 2026-11, a quarter as 2026-Q4 and a year as 2026."))
            data["period_start"] = start
        return data

    def period_start(self, default: date) -> tuple[str, date]:
        data = self.cleaned_data if self.is_valid() else {}
        kind = data.get("period_kind") or self.fields["period_kind"].choices[0][0]
        return kind, data.get("period_start") or period_start_of(kind, default)
