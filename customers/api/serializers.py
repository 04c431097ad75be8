"""Input and output shapes of the customers API (issue #4).

Inputs are DRF serializers that check shape only (types, lengths, choices) and refuse unknown
fields; the rules live in customers.services. Outputs are built by plain functions (a DRF
serializer per row costs ~15 µs a field, too slow for 50 customers of 35 fields a page); the
``*Output`` serializers below describe those same dicts for the OpenAPI schema, and
tests/api/test_schemathesis.py checks every response of every operation against that schema.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

from django.core.validators import RegexValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core import masking
from core.api import RejectUnknownFieldsMixin
from customers import services
from customers.models import (
    CREDIT_SCORE_MAX,
    CREDIT_SCORE_MIN,
    Channel,
    ConsentState,
    CreditRating,
    Customer,
    CustomerStatus,
    Gender,
    Holding,
    Interaction,
    InteractionKind,
    InteractionOutcome,
    Product,
    ProductCategory,
    RiskLevel,
    TransactionDirection,
    TransactionType,
)

# Customer numbers and product codes travel in URLs: letters, digits and . _ - only.
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}$"
code_validator = RegexValidator(CODE_PATTERN, _("Use 1-32 letters, digits, '.', '_' or '-', starting with a "
                                                "letter or digit."))
MONEY = {"max_digits": 18, "decimal_places": 2}


# --- Strict JSON types: the schema says "string" / "boolean", so nothing else is accepted ---------
# (DRF would turn 5 into "5" and 0 into False; a schema-driven client must see exactly what the server takes.)


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictEmailField(serializers.EmailField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictRegexField(serializers.RegexField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


MONEY_PATTERN = r"^-?[0-9]{1,16}(\.[0-9]{1,2})?$"
NON_NEGATIVE_MONEY_PATTERN = r"^[0-9]{1,16}(\.[0-9]{1,2})?$"


@extend_schema_field({"type": "string", "format": "decimal", "pattern": MONEY_PATTERN})
class MoneyField(serializers.DecimalField):
    """A CNY amount as a decimal string ("1234.50"): exactly what the pattern allows."""

    pattern = re.compile(MONEY_PATTERN)

    def __init__(self, **kwargs):
        super().__init__(max_digits=18, decimal_places=2, **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str) or not self.pattern.fullmatch(data):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field({"type": "string", "format": "decimal", "pattern": NON_NEGATIVE_MONEY_PATTERN})
class NonNegativeMoneyField(MoneyField):
    pattern = re.compile(NON_NEGATIVE_MONEY_PATTERN)


def _iso(value: date | datetime | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat()
    return value.isoformat()


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


# --- Customers ---------------------------------------------------------------------------------


class CustomerWriteFields(serializers.Serializer):
    """The writable customer fields, all optional (PATCH); create makes name and branch required."""

    name = StrictCharField(max_length=100, required=False)
    gender = serializers.ChoiceField(choices=Gender.choices, required=False)
    birth_date = serializers.DateField(required=False, allow_null=True)
    occupation = StrictCharField(max_length=100, required=False, allow_blank=True)
    id_number = StrictCharField(max_length=18, required=False, allow_null=True, allow_blank=True,
                                      help_text="18-character resident ID number (PII).")
    phone = StrictCharField(max_length=20, required=False, allow_null=True, allow_blank=True,
                            help_text="11-digit mainland mobile number (PII); separators and a +86 / 0086 "
                                      "prefix are dropped.")
    email = StrictEmailField(max_length=254, required=False, allow_null=True, allow_blank=True,
                                   help_text="PII.")
    address = StrictCharField(max_length=300, required=False, allow_null=True, allow_blank=True,
                                    help_text="PII.")
    branch = StrictCharField(max_length=20, required=False, help_text="Branch code.")
    relationship_manager = StrictCharField(
        max_length=20, required=False, allow_null=True, allow_blank=True,
        help_text="Staff number of an active relationship manager; null or empty for none.",
    )
    customer_since = serializers.DateField(required=False, allow_null=True)
    status = serializers.ChoiceField(choices=CustomerStatus.choices, required=False,
                                     help_text="A closed customer needs closed_on; an active one must not have it.")
    closed_on = serializers.DateField(required=False, allow_null=True)
    closed_reason = StrictCharField(max_length=200, required=False, allow_blank=True)
    total_assets = NonNegativeMoneyField(required=False, allow_null=True,
                                            help_text="CNY, as a decimal string.")
    liabilities = NonNegativeMoneyField(required=False, allow_null=True)
    annual_income = NonNegativeMoneyField(required=False, allow_null=True)
    credit_rating = serializers.ChoiceField(choices=CreditRating.choices, required=False, allow_blank=True,
                                            help_text="Derived from credit_score (grade bands policy) when a score "
                                                      "is sent without a rating.")
    credit_score = serializers.IntegerField(required=False, allow_null=True, min_value=CREDIT_SCORE_MIN,
                                            max_value=CREDIT_SCORE_MAX,
                                            help_text=f"Numeric credit score, {CREDIT_SCORE_MIN}-{CREDIT_SCORE_MAX}.")
    region = StrictCharField(max_length=50, required=False, allow_blank=True)
    risk_tolerance = serializers.ChoiceField(choices=RiskLevel.choices, required=False, allow_blank=True)
    consent_data_processing = serializers.ChoiceField(choices=ConsentState.choices, required=False)
    consent_marketing = serializers.ChoiceField(choices=ConsentState.choices, required=False)
    consent_channel = serializers.ChoiceField(choices=Channel.choices, required=False, allow_blank=True)
    preferred_channel = serializers.ChoiceField(choices=Channel.choices, required=False, allow_blank=True)


class CustomerCreateInput(RejectUnknownFieldsMixin, CustomerWriteFields):
    external_id = StrictCharField(max_length=32, validators=[code_validator],
                                        help_text="Customer number from core banking; unique.")
    name = StrictCharField(max_length=100)
    branch = StrictCharField(max_length=20, help_text="Branch code.")


class CustomerUpdateInput(RejectUnknownFieldsMixin, CustomerWriteFields):
    """PATCH: only the fields sent change."""


class CustomerUpsertInput(RejectUnknownFieldsMixin, CustomerWriteFields):
    """PUT by customer number: name and branch are required when the customer is new; fields left out
    keep their stored values."""


class CustomerListQueryInput(serializers.Serializer):
    branch = StrictCharField(max_length=20, required=False, help_text="Branch code.")
    status = serializers.ChoiceField(choices=CustomerStatus.choices, required=False)
    relationship_manager = StrictCharField(max_length=20, required=False,
                                                 help_text="Staff number of the relationship manager.")
    updated_since = serializers.DateTimeField(required=False, help_text="Only customers changed at or after "
                                              "this ISO 8601 time (for incremental sync).")
    search = StrictCharField(max_length=100, required=False,
                                   help_text="Name contains, or customer number starts with, this text.")
    attribute = StrictCharField(max_length=40, required=False,
                                help_text="Code of a custom attribute to filter on (with attribute_value or a range).")
    attribute_value = StrictCharField(max_length=200, required=False, help_text="The attribute equals this value.")
    attribute_min = StrictCharField(max_length=40, required=False, help_text="The attribute is at least this.")
    attribute_max = StrictCharField(max_length=40, required=False, help_text="The attribute is at most this.")


class CustomerLookupInput(RejectUnknownFieldsMixin, serializers.Serializer):
    kind = serializers.ChoiceField(choices=[("id_number", "ID number"), ("phone", "mobile phone")])
    value = StrictCharField(min_length=1, max_length=40, trim_whitespace=False,
                            help_text="The exact number; spacing, case, dashes and a +86 prefix do not matter.")


class CustomerOutput(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField(help_text="Customer number.")
    name = serializers.CharField()
    gender = serializers.ChoiceField(choices=Gender.choices)
    birth_date = serializers.DateField(allow_null=True)
    occupation = serializers.CharField(allow_blank=True)
    pii_masked = serializers.BooleanField(help_text="True when id_number, phone, email and address are masked: "
                                          "always for staff sessions and in responses to writes; false only "
                                          "on reads by an API key with customers:reveal.")
    id_number = serializers.CharField(allow_blank=True, help_text="Masked unless pii_masked is false.")
    phone = serializers.CharField(allow_blank=True, help_text="Masked unless pii_masked is false.")
    email = serializers.CharField(allow_blank=True, help_text="Masked unless pii_masked is false.")
    address = serializers.CharField(allow_blank=True, help_text="Masked unless pii_masked is false.")
    branch = serializers.CharField(help_text="Branch code.")
    relationship_manager = serializers.CharField(allow_null=True, help_text="Staff number of the RM.")
    relationship_manager_name = serializers.CharField(allow_null=True)
    customer_since = serializers.DateField(allow_null=True)
    status = serializers.ChoiceField(choices=CustomerStatus.choices)
    closed_on = serializers.DateField(allow_null=True)
    closed_reason = serializers.CharField(allow_blank=True)
    total_assets = serializers.DecimalField(**MONEY, allow_null=True)
    liabilities = serializers.DecimalField(**MONEY, allow_null=True)
    annual_income = serializers.DecimalField(**MONEY, allow_null=True)
    credit_rating = serializers.CharField(allow_blank=True)
    credit_score = serializers.IntegerField(allow_null=True)
    region = serializers.CharField(allow_blank=True)
    risk_tolerance = serializers.CharField(allow_blank=True)
    consent_data_processing = serializers.ChoiceField(choices=ConsentState.choices)
    consent_data_processing_at = serializers.DateTimeField(allow_null=True)
    consent_marketing = serializers.ChoiceField(choices=ConsentState.choices)
    consent_marketing_at = serializers.DateTimeField(allow_null=True)
    consent_channel = serializers.CharField(allow_blank=True)
    preferred_channel = serializers.CharField(allow_blank=True)
    completeness_score = serializers.IntegerField()
    info_updated_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class CustomerLookupOutput(serializers.Serializer):
    results = CustomerOutput(many=True, help_text="At most 20 matches, in id order.")


def customer_output(customer: Customer, *, reveal: bool) -> dict:
    """Render a customer (fetched with branch and relationship_manager) for the API."""
    manager = customer.relationship_manager
    if reveal:
        pii = {name: getattr(customer, name) or "" for name in Customer.PII_FIELDS}
    else:
        pii = {
            "id_number": masking.mask_id_number(customer.id_number),
            "phone": masking.mask_phone(customer.phone),
            "email": masking.mask_email(customer.email),
            "address": masking.mask_address(customer.address),
        }
    return {
        "id": customer.pk,
        "external_id": customer.external_id,
        "name": customer.name,
        "gender": customer.gender,
        "birth_date": _iso(customer.birth_date),
        "occupation": customer.occupation,
        "pii_masked": not reveal,
        **pii,
        "branch": customer.branch.code,
        "relationship_manager": manager.staff_number if manager else None,
        "relationship_manager_name": manager.get_full_name() if manager else None,
        "customer_since": _iso(customer.customer_since),
        "status": customer.status,
        "closed_on": _iso(customer.closed_on),
        "closed_reason": customer.closed_reason,
        "total_assets": _money(customer.total_assets),
        "liabilities": _money(customer.liabilities),
        "annual_income": _money(customer.annual_income),
        "credit_rating": customer.credit_rating,
        "credit_score": customer.credit_score,
        "region": customer.region,
        "risk_tolerance": customer.risk_tolerance,
        "consent_data_processing": customer.consent_data_processing,
        "consent_data_processing_at": _iso(customer.consent_data_processing_at),
        "consent_marketing": customer.consent_marketing,
        "consent_marketing_at": _iso(customer.consent_marketing_at),
        "consent_channel": customer.consent_channel,
        "preferred_channel": customer.preferred_channel,
        "completeness_score": customer.completeness_score,
        "info_updated_at": _iso(customer.info_updated_at),
        "created_at": _iso(customer.created_at),
        "updated_at": _iso(customer.updated_at),
    }


# --- Holdings ----------------------------------------------------------------------------------


class HoldingUpsertInput(RejectUnknownFieldsMixin, serializers.Serializer):
    balance = MoneyField(help_text="CNY, as a decimal string.")
    opened_on = serializers.DateField()
    closed_on = serializers.DateField(required=False, allow_null=True, help_text="Not before opened_on.")
    external_ref = StrictCharField(max_length=64, required=False, allow_null=True,
                                         help_text="Core banking's account or contract number; picks the "
                                                   "holding when the customer holds the product more than once.")


class HoldingOutput(serializers.Serializer):
    id = serializers.IntegerField()
    external_ref = serializers.CharField(allow_null=True)
    product = serializers.CharField(help_text="Product code.")
    product_name = serializers.CharField()
    category = serializers.ChoiceField(choices=ProductCategory.choices)
    balance = serializers.DecimalField(**MONEY)
    opened_on = serializers.DateField()
    closed_on = serializers.DateField(allow_null=True)


def holding_output(holding: Holding) -> dict:
    return {
        "id": holding.pk,
        "external_ref": holding.external_ref,
        "product": holding.product.code,
        "product_name": holding.product.name,
        "category": holding.product.category,
        "balance": _money(holding.balance),
        "opened_on": _iso(holding.opened_on),
        "closed_on": _iso(holding.closed_on),
    }


# --- Interactions ------------------------------------------------------------------------------


class InteractionCreateInput(RejectUnknownFieldsMixin, serializers.Serializer):
    kind = serializers.ChoiceField(choices=InteractionKind.choices)
    occurred_at = serializers.DateTimeField(help_text="From 2000 until now (5 minutes of clock skew allowed).")
    summary = StrictCharField(max_length=2000)
    outcome = serializers.ChoiceField(choices=InteractionOutcome.choices)
    next_step = StrictCharField(max_length=300, required=False, allow_blank=True, default="")
    next_step_due_on = serializers.DateField(required=False, allow_null=True, default=None,
                                             help_text="Needs next_step; not before the interaction's day.")


class InteractionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=InteractionKind.choices)
    occurred_at = serializers.DateTimeField()
    summary = serializers.CharField()
    outcome = serializers.ChoiceField(choices=InteractionOutcome.choices)
    next_step = serializers.CharField(allow_blank=True)
    next_step_due_on = serializers.DateField(allow_null=True)
    staff = serializers.CharField(allow_null=True, help_text="Username of the staff member; null when another "
                                                              "system recorded it through an API key.")
    created_at = serializers.DateTimeField()


def interaction_output(interaction: Interaction) -> dict:
    return {
        "id": interaction.pk,
        "kind": interaction.kind,
        "occurred_at": _iso(interaction.occurred_at),
        "summary": interaction.summary,
        "outcome": interaction.outcome,
        "next_step": interaction.next_step,
        "next_step_due_on": _iso(interaction.next_step_due_on),
        "staff": interaction.staff.username if interaction.staff_id else None,
        "created_at": _iso(interaction.created_at),
    }


# --- Products ----------------------------------------------------------------------------------


class ProductUpsertInput(RejectUnknownFieldsMixin, serializers.Serializer):
    name = StrictCharField(max_length=100)
    category = serializers.ChoiceField(choices=ProductCategory.choices)
    risk_level = serializers.ChoiceField(choices=RiskLevel.choices)
    is_active = StrictBooleanField(default=True, help_text="On sale.")


class ProductListQueryInput(serializers.Serializer):
    category = serializers.ChoiceField(choices=ProductCategory.choices, required=False)
    is_active = serializers.BooleanField(required=False, allow_null=True, default=None)


class ProductOutput(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    category = serializers.ChoiceField(choices=ProductCategory.choices)
    risk_level = serializers.ChoiceField(choices=RiskLevel.choices)
    is_active = serializers.BooleanField()


def product_output(product: Product) -> dict:
    return {"id": product.pk, "code": product.code, "name": product.name, "category": product.category,
            "risk_level": product.risk_level, "is_active": product.is_active}


# --- Transactions (bulk) -------------------------------------------------------------------------


class TransactionBulkRowInput(RejectUnknownFieldsMixin, serializers.Serializer):
    """One transaction; validated by hand in customers.services (this class documents the shape)."""

    external_ref = StrictCharField(max_length=64, help_text="Core banking's unique transaction reference.")
    customer_external_id = StrictCharField(max_length=32, help_text="Customer number.")
    occurred_at = serializers.DateTimeField(help_text="ISO 8601 with a time-zone offset; 1900 to tomorrow.")
    amount = StrictRegexField(services.TRANSACTION_AMOUNT_PATTERN.pattern, max_length=19,
                                    help_text="Positive CNY amount as a decimal string, at most 2 decimals.")
    direction = serializers.ChoiceField(choices=TransactionDirection.choices)
    channel = serializers.ChoiceField(choices=Channel.choices)
    type = serializers.ChoiceField(choices=TransactionType.choices)


class TransactionBulkInput(RejectUnknownFieldsMixin, serializers.Serializer):
    rows = serializers.ListField(child=TransactionBulkRowInput(), max_length=services.TRANSACTION_BULK_MAX_ROWS,
                                 help_text="At most 10,000 rows; more is a 413.")


class TransactionBulkOutput(serializers.Serializer):
    received = serializers.IntegerField(help_text="Rows in the request.")
    inserted = serializers.IntegerField(help_text="Rows newly stored.")
    already_present = serializers.IntegerField(help_text="Rows whose external_ref was stored already (a retry); "
                                                         "their stored values are left as they were.")
