"""Input shapes for the complaint pages. Rules live in services; these check shape only (STYLE.md §7)."""

from __future__ import annotations

import re
import unicodedata
from datetime import timedelta

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Branch
from complaints import selectors, services
from complaints.models import (
    ComplaintAction,
    ComplaintCategory,
    ComplaintChannel,
    ComplaintSeverity,
    ComplaintStatus,
    RootCause,
)
from core import identifiers
from core.crypto import normalize
from core.widgets import IsoDateInput
from customers.models import Product


class BoundedDateField(forms.DateField):
    """A date within selectors.DATE_MIN..DATE_MAX; anything else is a form error, never a 500."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        message = _("Enter a date between %(min)s and %(max)s.") % {
            "min": selectors.DATE_MIN.isoformat(), "max": selectors.DATE_MAX.isoformat()}
        self.validators += [MinValueValidator(selectors.DATE_MIN, message=message),
                            MaxValueValidator(selectors.DATE_MAX, message=message)]


class CategoryChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: ComplaintCategory) -> str:
        return f"— {obj.label}" if obj.parent_id else obj.label


class _CategoryMixin:
    def _set_category_choices(self) -> None:
        field = self.fields["category"]
        categories = selectors.categories_for_choice()
        field.queryset = ComplaintCategory.objects.filter(is_active=True)
        field.choices = [("", field.empty_label or "---------")] + [
            (c.pk, field.label_from_instance(c)) for c in categories]


class _NoEchoTextInput(forms.TextInput):
    """Never writes the submitted value back into the page (identifiers stay out of HTML)."""

    def format_value(self, value):
        return None


class QueueFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), required=False,
                               choices=[(selectors.STATUS_OPEN, _("Open (needs work)")), ("", _("Any")),
                                        *ComplaintStatus.choices,
                                        (selectors.STATUS_SURVEY_PENDING,
                                         _("Survey pending (resolved, customer not identified)"))])
    category = CategoryChoiceField(label=_("Category"), required=False, queryset=ComplaintCategory.objects.none(),
                                   empty_label=_("All categories"))
    severity = forms.ChoiceField(label=_("Severity"), required=False, choices=[("", _("Any")),
                                                                                *ComplaintSeverity.choices])
    branch = forms.ModelChoiceField(label=_("Branch"), required=False, queryset=Branch.objects.order_by("code"),
                                    empty_label=_("All branches"))
    channel = forms.ChoiceField(label=_("Channel"), required=False, choices=[("", _("Any")),
                                                                              *ComplaintChannel.choices])
    product = forms.ModelChoiceField(label=_("Product"), required=False, queryset=Product.objects.all(),
                                     widget=forms.HiddenInput)
    # A plain id, not a ModelChoiceField: the selector scopes it (a customer outside the scope shows nothing).
    customer = forms.IntegerField(label=_("Customer"), required=False, min_value=1, max_value=2**63 - 1,
                                  widget=forms.HiddenInput)
    breached = forms.ChoiceField(label=_("SLA"), required=False,
                                 choices=[("", _("Any")), ("yes", _("Overdue")), ("no", _("Not overdue"))])
    received_from = BoundedDateField(label=_("Received from"), required=False,
                                     widget=IsoDateInput())
    received_to = BoundedDateField(label=_("Received to"), required=False, widget=IsoDateInput())
    order = forms.ChoiceField(label=_("Sort by"), required=False, choices=[
        ("due", _("Due soonest")), ("-received", _("Newest first")), ("received", _("Oldest first")),
        ("severity", _("Most severe first")),
    ])

    def __init__(self, *args, with_branch: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = ComplaintCategory.objects.all()
        self.fields["category"].choices = [("", _("All categories"))] + [
            (c.pk, self.fields["category"].label_from_instance(c)) for c in selectors.categories_for_choice()]
        if not with_branch:
            del self.fields["branch"]

    def filters(self) -> selectors.QueueFilters:
        """The selector's filters; an invalid filter is dropped rather than failing the page."""
        cleaned = getattr(self, "cleaned_data", {})
        # No status in the query: the open queue; "status=" (Any): every status.
        status = cleaned["status"] if "status" in cleaned and "status" in self.data else selectors.STATUS_OPEN
        category, branch, product = cleaned.get("category"), cleaned.get("branch"), cleaned.get("product")
        breached = {"yes": True, "no": False}.get(cleaned.get("breached") or "")
        return selectors.QueueFilters(
            status=status or "",
            category_id=category.pk if category else None,
            severity=cleaned.get("severity") or None,
            branch_id=branch.pk if branch else None,
            channel=cleaned.get("channel") or None,
            product_id=product.pk if product else None,
            breached=breached,
            customer_id=cleaned.get("customer"),
            received_from=cleaned.get("received_from"),
            received_to=cleaned.get("received_to"),
            order=cleaned.get("order") or selectors.QUEUE_DEFAULT_ORDER,
        )


# What a typed phone number may contain besides digits: spaces, +, -, brackets and dots.
_PHONE_PUNCTUATION = re.compile(r"[\s+\-().]")
PHONE_MAX_DIGITS = 20


class ComplaintSearchForm(forms.Form):
    """The queue's search: POSTed, so a complainant's name or phone never lands in a URL or a log.

    Any of the three terms, all of them matching; the input is kept on the page to refine it.
    """

    reference = forms.CharField(label=_("Reference number"), required=False, max_length=24,
                                help_text=_("The whole number or its beginning."),
                                widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))
    name = forms.CharField(label=_("Complainant's name"), required=False, max_length=100,
                           widget=forms.TextInput(attrs={"autocomplete": "off"}))
    phone = forms.CharField(label=_("Complainant's phone"), required=False, max_length=30,
                            widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "tel"}))

    def clean_reference(self) -> str:
        reference = self.cleaned_data["reference"].strip().upper()
        if reference and not re.fullmatch(r"[A-Z0-9-]+", reference):
            raise forms.ValidationError(
                _("A reference number has only letters, digits and hyphens (TS20261128-000123)."))
        return reference

    def clean_phone(self) -> str:
        """Format errors are told apart from "no match"; the message gives a count, never the number."""
        raw = self.cleaned_data["phone"].strip()
        if not raw:
            return ""
        if not _PHONE_PUNCTUATION.sub("", unicodedata.normalize("NFKC", raw)).isdigit():
            raise forms.ValidationError(_("A phone number has only digits (spaces, + and - are allowed)."))
        digits = normalize(kind="phone", value=raw)  # the customer search's normaliser (core.identifiers)
        if digits.startswith("1") and not identifiers.phone_is_mainland_mobile(digits):
            raise forms.ValidationError(
                _("A mobile phone number has 11 digits and starts with 13-19 (you entered %(count)d digits)."),
                params={"count": len(digits)},
            )
        if not services.CONTACT_PHONE_MIN_DIGITS <= len(digits) <= PHONE_MAX_DIGITS:
            raise forms.ValidationError(
                _("A phone number has %(min)d to %(max)d digits (you entered %(count)d digits)."),
                params={"min": services.CONTACT_PHONE_MIN_DIGITS, "max": PHONE_MAX_DIGITS, "count": len(digits)},
            )
        return raw

    def clean(self) -> dict:
        cleaned_data = super().clean()
        if not self.errors and not any(cleaned_data.get(name) for name in ("reference", "name", "phone")):
            raise forms.ValidationError(_("Enter a reference number, a name or a phone number to search for."))
        return cleaned_data


class CustomerNameSearchForm(forms.Form):
    q = forms.CharField(label=_("Name or customer number"), required=False, max_length=100,
                        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}))


class CustomerIdentifierForm(forms.Form):
    """Exact search by national ID number or mobile phone: POSTed, never echoed back."""

    id_number = forms.CharField(label=_("National ID number"), required=False, max_length=30,
                                widget=_NoEchoTextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))
    phone = forms.CharField(label=_("Mobile phone"), required=False, max_length=30,
                            widget=_NoEchoTextInput(attrs={"autocomplete": "off", "inputmode": "tel"}))

    def clean(self) -> dict:
        cleaned_data = super().clean()
        given = [name for name in ("id_number", "phone") if cleaned_data.get(name)]
        if not given and not self.errors:
            raise forms.ValidationError(_("Enter a national ID number or a mobile phone number."))
        if len(given) > 1:
            raise forms.ValidationError(_("Enter either a national ID number or a mobile phone number, not both."))
        return cleaned_data


class ComplaintCreateForm(_CategoryMixin, forms.Form):
    customer_id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    contact_name = forms.CharField(label=_("Complainant's name (walk-in)"), required=False, max_length=100)
    contact_phone = forms.CharField(label=_("Complainant's phone (walk-in)"), required=False, max_length=30,
                                    widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}))
    channel = forms.ChoiceField(label=_("Channel"), choices=ComplaintChannel.choices)
    category = CategoryChoiceField(label=_("Category"), queryset=ComplaintCategory.objects.none(),
                                   empty_label=_("Choose a category"))
    severity = forms.ChoiceField(label=_("Severity"), choices=ComplaintSeverity.choices,
                                 initial=ComplaintSeverity.MEDIUM)
    product = forms.ModelChoiceField(label=_("Product"), required=False,
                                     queryset=Product.objects.order_by("category", "code"),
                                     empty_label=_("No particular product"))
    description = forms.CharField(label=_("Description"), max_length=4000, widget=forms.Textarea(attrs={"rows": 5}),
                                  help_text=_("What happened, in the customer's words. No ID or card numbers."))
    attachment = forms.FileField(label=_("Attachment (optional)"), required=False,
                                 help_text=_("PDF, JPEG, PNG or Office document, up to 5 MB."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._set_category_choices()


class ComplaintAttachmentForm(forms.Form):
    """Add one more file to a complaint, at any stage; the service checks its content (core.uploads)."""

    attachment = forms.FileField(label=_("Add an attachment"),
                                 help_text=_("PDF, JPEG, PNG or Office document, up to 5 MB."))


class ComplaintTransitionForm(forms.Form):
    action = forms.ChoiceField(choices=ComplaintAction.choices, widget=forms.HiddenInput)
    expected_version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    note = forms.CharField(label=_("Note"), required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 2}))
    resolution = forms.CharField(label=_("Resolution given to the customer"), required=False, max_length=4000,
                                 widget=forms.Textarea(attrs={"rows": 3}))
    root_cause = forms.ChoiceField(label=_("Root cause"), required=False,
                                   choices=[("", _("Choose the root cause")), *RootCause.choices])


class HotspotFilterForm(forms.Form):
    dimension = forms.ChoiceField(label=_("Group by"), required=False, choices=[
        ("category", _("Category")), ("branch", _("Branch")), ("product", _("Product")), ("channel", _("Channel")),
    ])
    start = BoundedDateField(label=_("From"), required=False, widget=IsoDateInput())
    end = BoundedDateField(label=_("To"), required=False, widget=IsoDateInput())

    MAX_DAYS = 366

    def period(self) -> tuple[str, object, object]:
        cleaned = getattr(self, "cleaned_data", {})
        today = timezone.localdate()
        end = cleaned.get("end") or today
        start = cleaned.get("start") or max(end - timedelta(days=29), selectors.DATE_MIN)
        start, end = selectors.hotspot_period(start=start, end=end, max_days=self.MAX_DAYS)
        return cleaned.get("dimension") or "category", start, end


# --- Public pages -----------------------------------------------------------------------------------


class PublicComplaintForm(_CategoryMixin, forms.Form):
    contact_name = forms.CharField(label=_("Your name"), max_length=100)
    contact_phone = forms.CharField(label=_("Your mobile phone"), max_length=30,
                                    widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}))
    id_number = forms.RegexField(
        label=_("Your national ID number (optional)"), required=False, max_length=18, regex=r"^\d{17}[\dXx]$",
        help_text=_("Helps us find your records faster."),
        error_messages={"invalid": _("Enter the 18 characters of your ID number, or leave it empty.")},
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    branch = forms.ModelChoiceField(label=_("Branch"), queryset=Branch.objects.filter(is_head_office=False)
                                    .order_by("code"), empty_label=_("Choose your branch"))
    category = CategoryChoiceField(label=_("What is it about?"), queryset=ComplaintCategory.objects.none(),
                                   empty_label=_("Choose a category"))
    description = forms.CharField(label=_("Your complaint"), max_length=4000, widget=forms.Textarea(attrs={"rows": 6}),
                                  help_text=_("Please do not enter ID, card or account numbers."))
    # Honeypot: hidden from people by CSS; a bot filling every field gives itself away.
    website = forms.CharField(label=_("Leave this field empty"), required=False, max_length=200,
                              widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._set_category_choices()


class PublicProgressForm(forms.Form):
    reference = forms.CharField(
        label=_("Reference number"), max_length=24,
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "TS20261128-000123"}),
    )
    phone_last4 = forms.RegexField(label=_("Last four digits of your phone"), regex=r"^\d{4}$", max_length=4,
                                   widget=_NoEchoTextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
                                   error_messages={"invalid": _("Enter four digits.")})


class PublicReopenForm(forms.Form):
    phone_last4 = forms.RegexField(label=_("Last four digits of your phone"), regex=r"^\d{4}$", max_length=4,
                                   widget=_NoEchoTextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
                                   error_messages={"invalid": _("Enter four digits.")})
    reason = forms.CharField(label=_("What is still wrong?"), max_length=2000, widget=forms.Textarea(attrs={"rows": 4}))
