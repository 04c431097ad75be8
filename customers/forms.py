"""Input shapes for the customer pages. Rules live in services; these check shape only (STYLE.md §7)."""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Branch
from core.crypto import normalize
from core.identifiers import MOBILE_PHONE_PATTERN, RESIDENT_ID_PATTERN
from customers import selectors
from customers.models import CustomAttribute, CustomerStatus, DataQualityRule, InteractionKind, InteractionOutcome

# <input type="date"> and "datetime-local" need ISO values, whatever the locale's display format.
_ISO_DATE_WIDGET = {"format": "%Y-%m-%d", "attrs": {"type": "date"}}
_ISO_DATETIME_WIDGET = {"format": "%Y-%m-%dT%H:%M", "attrs": {"type": "datetime-local"}}


# The sort orders offered; keys of selectors.CUSTOMER_SEARCH_ORDERS, which whitelists them again.
ORDER_CHOICES = [
    ("name", _("Name (A-Z)")),
    ("-name", _("Name (Z-A)")),
    ("external_id", _("Customer number")),
    ("-total_assets", _("Total assets, highest first")),
    ("customer_since", _("Longest-standing customers first")),
    ("completeness_score", _("Least complete information first")),
]
DATA_QUALITY_CHOICES = [
    ("", _("Any")),
    (selectors.DATA_QUALITY_WITH_ISSUES, _("With open issues")),
    (selectors.DATA_QUALITY_CLEAN, _("No open issues")),
]


class CustomerFilterForm(forms.Form):
    """The GET filters of the customer list: name / customer number, branch, status, data quality, sort."""

    q = forms.CharField(
        label=_("Name or customer number"),
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"type": "search", "autocomplete": "off", "placeholder": _("e.g. Wang or C0012")}
        ),
    )
    branch = forms.ModelChoiceField(
        label=_("Branch"),
        required=False,
        queryset=Branch.objects.order_by("code"),
        empty_label=_("All branches"),
    )
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any")), *CustomerStatus.choices]
    )
    data_quality = forms.ChoiceField(label=_("Data quality"), required=False, choices=DATA_QUALITY_CHOICES)
    order = forms.ChoiceField(label=_("Sort by"), required=False, choices=ORDER_CHOICES)

    attribute = forms.ChoiceField(label=_("Custom attribute"), required=False)
    attribute_value = forms.CharField(label=_("Attribute equals"), required=False, max_length=200)
    attribute_min = forms.CharField(label=_("Attribute from"), required=False, max_length=40)
    attribute_max = forms.CharField(label=_("Attribute to"), required=False, max_length=40)

    def __init__(self, *args, with_branch: bool = False, **kwargs):
        """``with_branch`` offers the branch filter, for viewers of more than one branch only."""
        super().__init__(*args, **kwargs)
        if not with_branch:
            del self.fields["branch"]
        attributes = [(a.code, a.label) for a in CustomAttribute.objects.filter(is_active=True).order_by("code")]
        if attributes:
            self.fields["attribute"].choices = [("", _("Any")), *attributes]
        else:  # no attribute declared: no attribute filter on the page
            for name in ("attribute", "attribute_value", "attribute_min", "attribute_max"):
                del self.fields[name]

    def attribute_filter(self) -> dict | None:
        """The keyword arguments of selectors.customer_attribute_filter, or None for no attribute filter."""
        cleaned = getattr(self, "cleaned_data", {})
        if not cleaned.get("attribute"):
            return None
        return {"code": cleaned["attribute"], "value": cleaned.get("attribute_value") or None,
                "minimum": cleaned.get("attribute_min") or None, "maximum": cleaned.get("attribute_max") or None}

    def clean_order(self) -> str:
        return self.cleaned_data["order"] or "name"

    def filters(self) -> dict:
        """The selector's keyword arguments; an invalid filter is dropped rather than failing the page."""
        cleaned = getattr(self, "cleaned_data", {})
        branch = cleaned.get("branch")
        return {
            "query": cleaned.get("q", ""),
            "branch_id": branch.pk if branch else None,
            "status": cleaned.get("status") or None,
            "data_quality": cleaned.get("data_quality") or None,
            "order": cleaned.get("order") or "name",
        }

    def is_filtered(self) -> bool:
        filters = self.filters()
        return bool(filters["query"] or filters["branch_id"] or filters["status"] or filters["data_quality"]
                    or self.attribute_filter())


class _NoEchoTextInput(forms.TextInput):
    """A text input that does not write a found identifier back into the page (PII stays out of HTML).

    After a refused search (``echo`` set by IdentifierSearchForm.keep_input) the user's own input is kept
    so they can correct it; the answer is never cached (the view adds no-cache headers).
    """

    echo = False

    def format_value(self, value):
        return super().format_value(value) if self.echo else None


class IdentifierSearchForm(forms.Form):
    """Exact search by national ID number or mobile phone through the blind index: exactly one of them."""

    id_number = forms.CharField(
        label=_("National ID number"),
        required=False,
        max_length=30,
        widget=_NoEchoTextInput(attrs={"autocomplete": "off", "spellcheck": "false", "inputmode": "text"}),
    )
    phone = forms.CharField(
        label=_("Mobile phone"),
        required=False,
        max_length=30,
        widget=_NoEchoTextInput(attrs={"autocomplete": "off", "inputmode": "tel"}),
    )

    def clean_phone(self) -> str:
        raw = self.cleaned_data["phone"].strip()
        if raw and not MOBILE_PHONE_PATTERN.fullmatch(normalize(kind="phone", value=raw)):
            raise forms.ValidationError(
                _("A mobile phone number has 11 digits and starts with 13-19 (you entered %(count)d digits)."),
                params={"count": len(re.sub(r"[^0-9]", "", raw))},
            )
        return raw

    def clean_id_number(self) -> str:
        raw = self.cleaned_data["id_number"].strip()
        if raw and not RESIDENT_ID_PATTERN.fullmatch(normalize(kind="id_number", value=raw)):
            raise forms.ValidationError(_("A resident ID number has 18 characters: 17 digits and a digit or X."))
        return raw

    def keep_input(self) -> None:
        """Write the submitted values back into the fields, to correct them after a refused search."""
        for field in self.fields.values():
            field.widget.echo = True

    def clean(self) -> dict:
        cleaned_data = super().clean()
        given = [name for name in ("id_number", "phone") if cleaned_data.get(name)]
        if not given and not self.errors:
            raise forms.ValidationError(_("Enter a national ID number or a mobile phone number."))
        if len(given) > 1:
            raise forms.ValidationError(
                _("Enter either a national ID number or a mobile phone number, not both.")
            )
        return cleaned_data


class DataQualityFilterForm(forms.Form):
    rule = forms.ChoiceField(
        label=_("Rule"), required=False, choices=[("", _("All rules")), *DataQualityRule.choices]
    )


class TransactionPageForm(forms.Form):
    page = forms.IntegerField(required=False, min_value=1, max_value=100_000)


class InteractionForm(forms.Form):
    """Record a contact with the customer (MANUAL 2.3): what, when, what came of it, what next.

    Shape only: services.interaction_record owns the rules (not in the future, a due date needs a
    next step and cannot precede the contact) and the view shows its field errors on this form.
    """

    kind = forms.ChoiceField(label=_("Kind of contact"), choices=InteractionKind.choices)
    occurred_at = forms.DateTimeField(
        label=_("When"),
        widget=forms.DateTimeInput(**_ISO_DATETIME_WIDGET),
        help_text=_("Local time. Defaults to now."),
    )
    summary = forms.CharField(
        label=_("Summary"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("What was discussed. Do not enter ID numbers, phone numbers or account numbers."),
    )
    outcome = forms.ChoiceField(label=_("Outcome"), choices=InteractionOutcome.choices)
    next_step = forms.CharField(label=_("Next step"), required=False, max_length=300)
    next_step_due_on = forms.DateField(
        label=_("Next step due"), required=False, widget=forms.DateInput(**_ISO_DATE_WIDGET)
    )


class UnassignedAssignForm(forms.Form):
    """Pick customers of the unassigned list and the relationship manager to give them."""

    relationship_manager = forms.ModelChoiceField(label=_("Relationship manager"), queryset=None,
                                                  empty_label=_("Choose a relationship manager"))
    customers = forms.TypedMultipleChoiceField(label=_("Customers"), coerce=int, choices=(),
                                               widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, managers, customer_ids, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["relationship_manager"].queryset = managers
        self.fields["customers"].choices = [(pk, str(pk)) for pk in customer_ids]
