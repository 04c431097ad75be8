"""Input and output shapes of the lifecycle API (unique names: drf-spectacular components)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from core.api import QueryInput, RejectUnknownFieldsMixin
from lifecycle.models import RetentionOutcome, RetentionStatus, Stage, SuggestedAction


class SingleValueQueryInput(QueryInput):
    """A query filter where each parameter is given once: "?status=open&status=done" is a 400, not the last one."""

    def to_internal_value(self, data):
        getlist = getattr(data, "getlist", None)
        if getlist is not None:
            repeated = sorted(name for name in self.fields if len(getlist(name)) > 1)
            if repeated:
                raise serializers.ValidationError({name: [_("Give this parameter once.")] for name in repeated})
        return super().to_internal_value(data)


class ChurnReasonOutput(serializers.Serializer):
    code = serializers.CharField(help_text="Reason code (lifecycle/reasons.py).")
    text = serializers.CharField(help_text="The reason in the request's language.")
    contribution = serializers.FloatField(help_text="Contribution to the model's log-odds for this customer.")
    params = serializers.DictField(help_text="The customer's figures behind the reason.")


class LifecycleStageOutput(serializers.Serializer):
    stage = serializers.ChoiceField(choices=Stage.choices)
    rule = serializers.CharField()
    since = serializers.DateField()
    as_of = serializers.DateField()
    policy_version = serializers.IntegerField(source="policy.version")
    figures = serializers.DictField()
    next_action = serializers.CharField(allow_null=True)


class ChurnScoreOutput(serializers.Serializer):
    probability = serializers.FloatField()
    raw_score = serializers.FloatField(
        help_text="The model's output in log-odds; the contributions add up to it with the model's base value.")
    as_of = serializers.DateField()
    model_version = serializers.IntegerField()
    run_id = serializers.IntegerField()
    reasons = ChurnReasonOutput(many=True)


class CustomerLifecycleOutput(serializers.Serializer):
    customer_id = serializers.IntegerField()
    stage = LifecycleStageOutput(allow_null=True)
    churn = ChurnScoreOutput(allow_null=True)


class ChurnScoreListItemOutput(serializers.Serializer):
    customer_id = serializers.IntegerField()
    probability = serializers.FloatField()
    reasons = ChurnReasonOutput(many=True)
    as_of = serializers.DateField(help_text="The day the scoring run scored (the latest finished run).")
    model_version = serializers.IntegerField(help_text="Version of the churn model that scored.")
    run_id = serializers.IntegerField(help_text="The scoring run; it changes when a newer run finishes "
                                                "while pages are being read.")


class ChurnScoreListQueryInput(SingleValueQueryInput):
    min_probability = serializers.FloatField(required=False, min_value=0, max_value=1, default=0.5,
                                             help_text="Only customers at this churn probability or above (0-1).")


class RetentionTaskOutput(serializers.Serializer):
    id = serializers.IntegerField()
    customer_id = serializers.IntegerField()
    assigned_to = serializers.CharField(source="assigned_to.staff_number", allow_null=True, default=None)
    status = serializers.ChoiceField(choices=RetentionStatus.choices)
    probability = serializers.FloatField()
    stage = serializers.CharField()
    suggested_action = serializers.ChoiceField(choices=SuggestedAction.choices)
    due_on = serializers.DateField()
    action_taken = serializers.CharField()
    outcome = serializers.CharField()
    recorded_at = serializers.DateTimeField(allow_null=True)
    churned_on = serializers.DateField(allow_null=True)
    created_at = serializers.DateTimeField()


class RetentionTaskListQueryInput(SingleValueQueryInput):
    status = serializers.ChoiceField(choices=RetentionStatus.choices, required=False)


class RetentionTaskRecordInput(RejectUnknownFieldsMixin, serializers.Serializer):
    action_taken = serializers.CharField(max_length=500)
    outcome = serializers.ChoiceField(choices=RetentionOutcome.choices)
