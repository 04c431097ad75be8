"""Input shapes for the service pages. Rules live in services; these check shape only (STYLE.md §7)."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.widgets import IsoDateInput, IsoDateTimeInput
from service.models import FeedbackTopic, FollowUpTask, ServiceOutcome, Touchpoint
from service.selectors import FILTER_DATE_EARLIEST, FILTER_DATE_LATEST

REPORT_DEFAULT_DAYS = 30
REPORT_MAX_DAYS = 366
FILTER_DATE_MESSAGE = _("Enter a date between 2000-01-01 and 2100-12-31.")
# Shared with the API filters (service.api.serializers): the same bounds, the same message.
FILTER_DATE_VALIDATORS = [
    MinValueValidator(FILTER_DATE_EARLIEST, message=FILTER_DATE_MESSAGE),
    MaxValueValidator(FILTER_DATE_LATEST, message=FILTER_DATE_MESSAGE),
]


class ServiceRecordForm(forms.Form):
    touchpoint = forms.ModelChoiceField(label=_("Touchpoint"), queryset=Touchpoint.objects.none(),
                                        empty_label=None)
    started_at = forms.DateTimeField(label=_("Started at"), widget=IsoDateTimeInput())
    ended_at = forms.DateTimeField(label=_("Ended at"), widget=IsoDateTimeInput())

    def clean(self):
        # Far-off years (0001, 9999) overflow when converted to UTC: refuse them here as input shape.
        cleaned = super().clean()
        for name in ("started_at", "ended_at"):
            moment = cleaned.get(name)
            if moment is not None and not FILTER_DATE_EARLIEST <= moment.date() <= FILTER_DATE_LATEST:
                self.add_error(name, FILTER_DATE_MESSAGE)
        return cleaned
    steps_completed = forms.MultipleChoiceField(
        label=_("SOP steps completed"), required=False, widget=forms.CheckboxSelectMultiple,
    )
    outcome = forms.ChoiceField(label=_("Outcome"), choices=ServiceOutcome.choices)
    notes = forms.CharField(label=_("Notes"), required=False, max_length=1000,
                            widget=forms.Textarea(attrs={"rows": 2}))
    send_survey = forms.BooleanField(
        label=_("Send a satisfaction survey by SMS"), required=False, initial=True,
        help_text=_("Only for completed services."),
    )

    def __init__(self, *args, touchpoints, **kwargs):
        super().__init__(*args, **kwargs)
        self.touchpoints = list(touchpoints)
        self.fields["touchpoint"].queryset = Touchpoint.objects.filter(pk__in=[t.pk for t in self.touchpoints])
        # Every step of every touchpoint is a valid choice here; the service checks they belong.
        self.fields["steps_completed"].choices = list(dict.fromkeys(
            (step, label) for touchpoint in self.touchpoints for step, label in touchpoint.sop_step_labels
        ))


class ServiceReportForm(forms.Form):
    """The period and (for head office) the branch of the service report."""

    since = forms.DateField(label=_("From"), required=False, validators=FILTER_DATE_VALIDATORS,
                            widget=IsoDateInput())
    until = forms.DateField(label=_("To"), required=False, validators=FILTER_DATE_VALIDATORS,
                            widget=IsoDateInput())
    branch = forms.ModelChoiceField(label=_("Branch"), required=False, queryset=None,
                                    empty_label=_("All branches"))

    def __init__(self, *args, branches=None, **kwargs):
        super().__init__(*args, **kwargs)
        if branches is None:
            del self.fields["branch"]
        else:
            self.fields["branch"].queryset = branches

    def period(self):
        """(since, until): the chosen period, the last 30 days by default, at most a year.

        Invalid input (the form shows why) falls back to the default period; every date stays
        within FILTER_DATE_EARLIEST..FILTER_DATE_LATEST, so the arithmetic below cannot overflow.
        """
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        until = _within_bounds(data.get("until") or timezone.localdate())
        since = _within_bounds(data.get("since") or until - timedelta(days=REPORT_DEFAULT_DAYS - 1))
        if since > until:
            since, until = until, since
        since = max(since, until - timedelta(days=REPORT_MAX_DAYS - 1))
        return since, until


def _within_bounds(day):
    return min(max(day, FILTER_DATE_EARLIEST), FILTER_DATE_LATEST)


class FollowUpFinishForm(forms.Form):
    status = forms.ChoiceField(choices=[(FollowUpTask.Status.DONE, _("Followed up")),
                                        (FollowUpTask.Status.CLOSED, _("Close without follow-up"))])
    note = forms.CharField(label=_("Outcome note"), required=False, max_length=1000)


class FeedbackTopicsForm(forms.Form):
    topics = forms.ModelMultipleChoiceField(
        label=_("Feedback topics"), required=False, queryset=FeedbackTopic.objects.none(),
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
    )

    def __init__(self, *args, topics, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["topics"].queryset = topics


def _score_choices(low: int, high: int):
    return [(str(value), str(value)) for value in range(low, high + 1)]


class SurveyAnswerForm(forms.Form):
    """The public survey: CSAT 1-5 and NPS 0-10 as buttons, three optional 0-100 scores, a comment."""

    csat = forms.TypedChoiceField(
        label=_("Overall, how satisfied are you with our service?"), coerce=int, choices=_score_choices(1, 5),
        widget=forms.RadioSelect,
    )
    nps = forms.TypedChoiceField(
        label=_("How likely are you to recommend us to a friend or colleague?"), coerce=int,
        choices=_score_choices(0, 10), widget=forms.RadioSelect,
    )
    score_service = forms.IntegerField(label=_("Service"), required=False, min_value=0, max_value=100)
    score_product = forms.IntegerField(label=_("Products"), required=False, min_value=0, max_value=100)
    score_ease = forms.IntegerField(label=_("Ease of doing business with us"), required=False,
                                    min_value=0, max_value=100)
    comment = forms.CharField(
        label=_("Anything you would like to tell us?"), required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    DIMENSIONS = ("score_service", "score_product", "score_ease")
