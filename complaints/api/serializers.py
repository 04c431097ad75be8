"""Input and output shapes of the complaints API (unique names; shape only, rules in services)."""

from __future__ import annotations

from datetime import datetime, time

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from complaints import selectors
from complaints.models import ComplaintAction, ComplaintChannel, ComplaintSeverity, ComplaintStatus, RootCause
from core.api import QueryInput, RejectUnknownFieldsMixin


def _date_range_message() -> str:
    return _("Enter a date between %(min)s and %(max)s.") % {
        "min": selectors.DATE_MIN.isoformat(), "max": selectors.DATE_MAX.isoformat()}


# The years selectors.DATE_MIN..DATE_MAX (2000-2100), so the schema says which dates are refused.
BOUNDED_DATE_PATTERN = r"^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"


@extend_schema_field({"type": "string", "format": "date", "pattern": BOUNDED_DATE_PATTERN})
class ComplaintBoundedDateField(serializers.DateField):
    """A date within selectors.DATE_MIN..DATE_MAX (a 400, never an overflow further on)."""

    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        if not selectors.DATE_MIN <= day <= selectors.DATE_MAX:
            raise serializers.ValidationError(_date_range_message(), code="out_of_range")
        return day


class ComplaintBoundedDateTimeField(serializers.DateTimeField):
    """A time on a local date within selectors.DATE_MIN..DATE_MAX."""

    def to_internal_value(self, value):
        moment = super().to_internal_value(value)
        low = timezone.make_aware(datetime.combine(selectors.DATE_MIN, time.min))
        high = timezone.make_aware(datetime.combine(selectors.DATE_MAX, time.max))
        if not low <= moment <= high:
            raise serializers.ValidationError(_date_range_message(), code="out_of_range")
        return moment


class ComplaintQueryInput(QueryInput):
    """Query-string filters of the complaint list (an empty value is a 400)."""


class ComplaintCreateInput(RejectUnknownFieldsMixin, serializers.Serializer):
    customer_id = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**63 - 1,
                                           help_text="The customer; omit for an unidentified complainant.")
    contact_name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    contact_phone = serializers.CharField(required=False, allow_blank=True, max_length=30)
    branch = serializers.CharField(required=False, min_length=1, max_length=20,
                                   help_text="Branch code; defaults to the customer's branch.")
    channel = serializers.ChoiceField(choices=ComplaintChannel.choices)
    category = serializers.CharField(min_length=1, max_length=16, help_text="Category code, e.g. B0302.")
    severity = serializers.ChoiceField(choices=ComplaintSeverity.choices, default=ComplaintSeverity.MEDIUM)
    product = serializers.CharField(required=False, allow_blank=True, max_length=32, help_text="Product code.")
    description = serializers.CharField(min_length=1, max_length=4000)
    received_at = ComplaintBoundedDateTimeField(required=False, help_text="Defaults to now.")


class ComplaintTransitionInput(RejectUnknownFieldsMixin, serializers.Serializer):
    action = serializers.ChoiceField(choices=ComplaintAction.choices)
    note = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")
    resolution = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")
    root_cause = serializers.ChoiceField(choices=RootCause.choices, required=False, allow_blank=True, default="")
    expected_version = serializers.IntegerField(required=False, allow_null=True, min_value=1, default=None,
                                                help_text="The version you last read; a mismatch is a 409 conflict.")


class ComplaintListFilterInput(ComplaintQueryInput):
    status = serializers.ChoiceField(choices=[("open", "open"), *ComplaintStatus.choices], required=False)
    branch = serializers.CharField(required=False, max_length=20)
    category = serializers.CharField(required=False, max_length=16)
    severity = serializers.ChoiceField(choices=ComplaintSeverity.choices, required=False)
    channel = serializers.ChoiceField(choices=ComplaintChannel.choices, required=False)
    breached = serializers.BooleanField(required=False, allow_null=True, default=None)
    customer_id = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    received_from = ComplaintBoundedDateField(required=False, help_text="Local date, inclusive (2000-01-01 on).")
    received_to = ComplaintBoundedDateField(required=False, help_text="Local date, inclusive (to 2100-12-31).")


class ComplaintEventOutput(serializers.Serializer):
    kind = serializers.CharField()
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    actor = serializers.CharField(source="actor_label")
    note = serializers.CharField()
    public_note = serializers.CharField()
    customer_visible = serializers.BooleanField()


class ComplaintOutput(serializers.Serializer):
    reference = serializers.CharField()
    status = serializers.CharField()
    version = serializers.IntegerField()
    customer_id = serializers.IntegerField(allow_null=True)
    branch = serializers.CharField(source="branch.code")
    channel = serializers.CharField()
    category = serializers.CharField(source="category.code")
    severity = serializers.CharField()
    product = serializers.CharField(source="product.code", allow_null=True, default=None)
    received_at = serializers.DateTimeField()
    first_response_due_at = serializers.DateTimeField()
    resolution_due_at = serializers.DateTimeField()
    original_resolution_due_at = serializers.DateTimeField(allow_null=True)
    first_response_at = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    breached = serializers.BooleanField(source="is_breached")
    sla_policy_version = serializers.IntegerField(source="sla_policy.version")
    root_cause = serializers.CharField()
    allowed_actions = serializers.ListField(child=serializers.CharField())


class ComplaintDetailOutput(ComplaintOutput):
    events = ComplaintEventOutput(many=True, source="timeline")
