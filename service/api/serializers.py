"""Input and output shapes of the service API (STYLE §7: shape only, unique names)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api import QueryInput, RejectUnknownFieldsMixin
from service.forms import FILTER_DATE_MESSAGE, FILTER_DATE_VALIDATORS
from service.models import ServiceOutcome, SurveyInvitation
from service.selectors import FILTER_DATE_EARLIEST, FILTER_DATE_LATEST

MAX_STEPS = 50


class BoundedDateTimeField(serializers.DateTimeField):
    """A DateTimeField for 2000-01-01..2100-12-31: far-off years (0001, 9999) are a 400, not a 500.

    DRF's own field raises OverflowError making a naive "0001-01-01T00:00:00" aware.
    """

    def to_internal_value(self, value):
        try:
            moment = super().to_internal_value(value)
        except OverflowError as error:
            raise serializers.ValidationError(str(FILTER_DATE_MESSAGE)) from error
        if not FILTER_DATE_EARLIEST <= moment.date() <= FILTER_DATE_LATEST:
            raise serializers.ValidationError(str(FILTER_DATE_MESSAGE))
        return moment


# FILTER_DATE_EARLIEST..FILTER_DATE_LATEST (2000-2100) as a pattern, so the schema says which dates are refused.
BOUNDED_DATE_PATTERN = r"^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"


@extend_schema_field({"type": "string", "format": "date", "pattern": BOUNDED_DATE_PATTERN})
class BoundedDateField(serializers.DateField):
    """A filter date within FILTER_DATE_EARLIEST..FILTER_DATE_LATEST."""

    def __init__(self, **kwargs):
        super().__init__(validators=FILTER_DATE_VALIDATORS, **kwargs)


class ServiceQueryInput(QueryInput):
    """Query-string filters of the service lists (an empty value is a 400)."""



class ServiceRecordCreateInput(RejectUnknownFieldsMixin, serializers.Serializer):
    customer_number = serializers.CharField(min_length=1, max_length=32,
                                            help_text="The customer number (core banking).")
    touchpoint = serializers.SlugField(max_length=40, help_text="Touchpoint code, e.g. account_opening.")
    started_at = BoundedDateTimeField()
    ended_at = BoundedDateTimeField()
    outcome = serializers.ChoiceField(choices=ServiceOutcome.choices)
    steps_completed = serializers.ListField(
        child=serializers.CharField(min_length=1, max_length=200), required=False, default=list, max_length=MAX_STEPS,
        help_text="SOP steps done, spelt as in the touchpoint's standard.",
    )
    notes = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
    staff_username = serializers.CharField(
        max_length=150, required=False, allow_blank=True, default="",
        help_text="The staff member who served (API keys only; a signed-in user is the staff member).",
    )
    external_ref = serializers.CharField(
        max_length=64, required=False, allow_blank=True, default="",
        help_text="Your system's id for this service; unique, so a duplicate is a 409.",
    )
    send_survey = serializers.BooleanField(
        required=False, default=True, help_text="Send a satisfaction survey by SMS after a completed service."
    )


class ServiceRecordListFilterInput(ServiceQueryInput):
    customer_number = serializers.CharField(max_length=32, required=False)
    touchpoint = serializers.SlugField(max_length=40, required=False)


class ServiceRecordOutput(serializers.Serializer):
    id = serializers.IntegerField()
    customer_number = serializers.CharField(source="customer.external_id")
    branch = serializers.CharField(source="branch.code")
    touchpoint = serializers.CharField(source="touchpoint.code")
    staff_username = serializers.CharField(source="staff.username", default=None, allow_null=True)
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField()
    handling_minutes = serializers.FloatField()
    target_minutes = serializers.IntegerField(help_text="The standard in force when the service was recorded.")
    is_overrun = serializers.BooleanField()
    steps_completed = serializers.ListField(child=serializers.CharField())
    outcome = serializers.ChoiceField(choices=ServiceOutcome.choices)
    notes = serializers.CharField()
    external_ref = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()


class SurveyResponseListFilterInput(ServiceQueryInput):
    customer_number = serializers.CharField(max_length=32, required=False)
    trigger = serializers.ChoiceField(choices=SurveyInvitation.Trigger.choices, required=False)
    dissatisfied = serializers.BooleanField(required=False, allow_null=True, default=None)
    topic = serializers.SlugField(max_length=40, required=False)
    submitted_from = BoundedDateField(required=False, help_text="From this day (2000-01-01 to 2100-12-31).")
    submitted_to = BoundedDateField(required=False, help_text="To this day, inclusive (2000-01-01 to 2100-12-31).")


class SurveyResponseOutput(serializers.Serializer):
    id = serializers.IntegerField()
    customer_number = serializers.CharField(source="customer.external_id")
    trigger = serializers.CharField(source="invitation.trigger")
    reference = serializers.CharField(source="invitation.reference")
    csat = serializers.IntegerField()
    nps = serializers.IntegerField()
    score_service = serializers.IntegerField(allow_null=True)
    score_product = serializers.IntegerField(allow_null=True)
    score_ease = serializers.IntegerField(allow_null=True)
    comment = serializers.CharField()
    topics = serializers.SerializerMethodField()
    is_dissatisfied = serializers.BooleanField()
    submitted_at = serializers.DateTimeField()

    def get_topics(self, response) -> list[str]:
        return [topic.code for topic in response.topics.all()]
