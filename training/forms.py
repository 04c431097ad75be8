"""Input shapes for the training pages (STYLE §7: shape only; rules live in services)."""

from __future__ import annotations

import re
from datetime import date

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.forms import StaffChoiceField
from accounts.models import Branch, Role, User
from training.models import Audience, ContentArea, Course, QuestionKind, SessionKind, TrainingMode

_DATE = forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})
_DATETIME = forms.DateTimeInput(format="%Y-%m-%dT%H:%M", attrs={"type": "datetime-local"})
QUARTER_RE = re.compile(r"^(\d{4})Q([1-4])$")


def quarter_bounds(value: str) -> tuple[date, date] | None:
    """'2026Q4' → (2026-10-01, 2026-12-31); None for anything else."""
    match = QUARTER_RE.match(value or "")
    if not match:
        return None
    year, quarter = int(match.group(1)), int(match.group(2))
    if not 2000 <= year <= 2100:
        return None
    first = date(year, 3 * quarter - 2, 1)
    last = date(year + (quarter == 4), 1 if quarter == 4 else 3 * quarter + 1, 1)
    return first, date.fromordinal(last.toordinal() - 1)


def quarter_of(day: date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


class CatalogueFilterForm(forms.Form):
    audience = forms.ChoiceField(label=_("Audience"), required=False,
                                 choices=[("", _("All audiences")), *Audience.choices])
    area = forms.ChoiceField(label=_("Content area"), required=False,
                             choices=[("", _("All areas")), *ContentArea.choices])
    mode = forms.ChoiceField(label=_("Mode"), required=False, choices=[("", _("All modes")), *TrainingMode.choices])


class EnrolmentAssignForm(forms.Form):
    TARGETS = [("person", _("One person")), ("role", _("Everyone with a role")), ("branch", _("A whole branch"))]

    course = forms.ModelChoiceField(label=_("Course"), queryset=Course.objects.filter(is_active=True))
    target = forms.ChoiceField(label=_("Enrol"), choices=TARGETS, widget=forms.RadioSelect, initial="person")
    user = StaffChoiceField(label=_("Staff member"), queryset=User.objects.none(), required=False)
    role = forms.ChoiceField(label=_("Role"), choices=[("", "---------"), *Role.choices], required=False)
    branch = forms.ModelChoiceField(label=_("Branch"), queryset=Branch.objects.none(), required=False)
    due_on = forms.DateField(label=_("Due"), widget=_DATE)

    def __init__(self, *args, staff, branches, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = staff
        self.fields["branch"].queryset = branches
        self.fields["course"].label_from_instance = lambda course: course.label

    def clean(self):
        data = super().clean()
        field_name = {"person": "user", "role": "role", "branch": "branch"}.get(data.get("target"))
        if field_name and not data.get(field_name) and field_name not in self.errors:
            self.add_error(field_name, _("Choose whom to enrol."))
        return data


class SessionCreateForm(forms.Form):
    course = forms.ModelChoiceField(label=_("Course"), queryset=Course.objects.filter(is_active=True))
    kind = forms.ChoiceField(label=_("Kind"), choices=SessionKind.choices)
    starts_at = forms.DateTimeField(label=_("Starts at"), widget=_DATETIME)
    ends_at = forms.DateTimeField(label=_("Ends at"), widget=_DATETIME)
    location = forms.CharField(label=_("Location"), max_length=200, required=False)
    instructor = StaffChoiceField(label=_("Instructor"), queryset=User.objects.none(), required=False)

    def __init__(self, *args, staff, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["instructor"].queryset = staff
        self.fields["course"].label_from_instance = lambda course: course.label


class AttendanceForm(forms.Form):
    user_id = forms.IntegerField(widget=forms.HiddenInput)
    attended = forms.BooleanField(label=_("Attended"), required=False)
    instructor_score = forms.IntegerField(label=_("Instructor's score (0-100)"), required=False, min_value=0,
                                          max_value=100)
    note = forms.CharField(label=_("Note"), max_length=500, required=False)


class KpiFilterForm(forms.Form):
    GROUPS = [("course", _("Course")), ("branch", _("Branch")), ("person", _("Person"))]

    group_by = forms.ChoiceField(label=_("Per"), choices=GROUPS, required=False)
    quarter = forms.CharField(label=_("Quarter due (e.g. 2026Q4)"), max_length=6, required=False)

    def clean_quarter(self):
        value = (self.cleaned_data.get("quarter") or "").strip().upper()
        if value and quarter_bounds(value) is None:
            raise forms.ValidationError(_("Write a quarter as 2026Q4."))
        return value


def test_form_fields(questions) -> dict[str, forms.Field]:
    """One field per question: radios for single choice and true / false, checkboxes for multiple."""
    fields: dict[str, forms.Field] = {}
    for number, question in enumerate(questions, start=1):
        choices = [(choice.pk, choice.label) for choice in question.choice_list]
        label = f"{number}. {question.label}"
        if question.kind == QuestionKind.MULTIPLE:
            fields[f"q{question.pk}"] = forms.MultipleChoiceField(
                label=label, choices=choices, widget=forms.CheckboxSelectMultiple, required=False,
                help_text=_("Tick every right answer."))
        else:
            fields[f"q{question.pk}"] = forms.ChoiceField(label=label, choices=choices, widget=forms.RadioSelect,
                                                          required=False)
    return fields


class TestForm(forms.Form):
    def __init__(self, *args, questions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields.update(test_form_fields(questions))

    def answers(self) -> dict[int, list[int]]:
        result = {}
        for name, value in self.cleaned_data.items():
            values = value if isinstance(value, list) else ([value] if value else [])
            result[int(name[1:])] = [int(v) for v in values]
        return result
