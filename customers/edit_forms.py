"""Forms of the customer edit page, the consent page and data-quality stewardship (shape only)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from customers.models import (
    Channel,
    ConsentMethod,
    ConsentPurpose,
    ConsentState,
    ContactChannel,
    CreditRating,
    Customer,
    Gender,
    RiskLevel,
)

_ISO_DATE = {"format": "%Y-%m-%d", "attrs": {"type": "date"}}
MONEY_FIELD = {"max_digits": 18, "decimal_places": 2, "min_value": 0, "required": False}


def _label(name: str):
    return Customer._meta.get_field(name).verbose_name


class CustomerEditForm(forms.Form):
    """The customer's basic, financial and risk information; PII inputs only for staff who may reveal it.

    A PII input is blank and keeps the stored value unless filled in: the page never shows PII unmasked.
    """

    name = forms.CharField(label=_label("name"), max_length=100)
    gender = forms.ChoiceField(label=_label("gender"), choices=Gender.choices)
    birth_date = forms.DateField(label=_label("birth_date"), required=False, widget=forms.DateInput(**_ISO_DATE))
    occupation = forms.CharField(label=_label("occupation"), max_length=100, required=False)
    id_number = forms.CharField(label=_label("id_number"), max_length=18, required=False)
    phone = forms.CharField(label=_label("phone"), max_length=20, required=False)
    email = forms.EmailField(label=_label("email"), max_length=254, required=False)
    address = forms.CharField(label=_label("address"), max_length=300, required=False)
    total_assets = forms.DecimalField(label=_label("total_assets"), **MONEY_FIELD)
    liabilities = forms.DecimalField(label=_label("liabilities"), **MONEY_FIELD)
    annual_income = forms.DecimalField(label=_label("annual_income"), **MONEY_FIELD)
    credit_rating = forms.ChoiceField(label=_label("credit_rating"), required=False,
                                      choices=[("", "—"), *CreditRating.choices])
    risk_tolerance = forms.ChoiceField(label=_label("risk_tolerance"), required=False,
                                       choices=[("", "—"), *RiskLevel.choices])
    preferred_channel = forms.ChoiceField(label=_label("preferred_channel"), required=False,
                                          choices=[("", "—"), *Channel.choices])

    PII = ("id_number", "phone", "email", "address")

    def __init__(self, *args, customer: Customer, can_edit_pii: bool, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.PII:
            if can_edit_pii:
                field = self.fields[name]
                field.help_text = _("Now %(masked)s. Leave blank to keep it.") % {
                    "masked": getattr(customer, f"masked_{name}") or "—"}
                field.widget.attrs["autocomplete"] = "off"
            else:
                del self.fields[name]


class ConsentSetForm(forms.Form):
    purpose = forms.ChoiceField(label=_("purpose"), choices=ConsentPurpose.choices)
    channel = forms.ChoiceField(label=_("channel"), choices=ContactChannel.choices)
    state = forms.ChoiceField(label=_("state"), choices=[(ConsentState.GIVEN, ConsentState.GIVEN.label),
                                                         (ConsentState.WITHDRAWN, ConsentState.WITHDRAWN.label)])
    method = forms.ChoiceField(label=_("How the customer said so"),
                               choices=[c for c in ConsentMethod.choices if c[0] != ConsentMethod.MIGRATED])


class IssueAssignForm(forms.Form):
    assignee = forms.TypedChoiceField(label=_("Assign to"), coerce=int, empty_value=None, required=False)

    def __init__(self, *args, stewards, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [("", _("nobody"))] + [
            (user.pk, user.display_name) for user in stewards]


class IssueWaiveForm(forms.Form):
    reason = forms.CharField(label=_("Reason for the waiver"), max_length=300)
    until = forms.DateField(label=_("Waived until"), widget=forms.DateInput(**_ISO_DATE))
