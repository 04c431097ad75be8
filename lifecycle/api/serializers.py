"""Input and output shapes of the lifecycle API (unique names: drf-spectacular components)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from core.api import QueryInput, RejectUnknownFieldsMixin
from lifecycle.models import RetentionOutcome, RetentionStatus, Stage, SuggestedAction


class SingleValueQueryInput(QueryInput):
    """A query filter where each parameter is given once: "?offset=1&offset=2" is a 400, not the last one."""

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


class ChurnScoreListOutput(serializers.Serializer):
    as_of = serializers.DateField(allow_null=True)
    model_version = serializers.IntegerField(allow_null=True)
    results = ChurnScoreListItemOutput(many=True)
    next_offset = serializers.IntegerField(allow_null=True,
                                           help_text="Pass as ?offset= for the next page; null at the end.")


class ChurnScoreListQueryInput(SingleValueQueryInput):
    min_probability = serializers.FloatField(required=False, min_value=0, max_value=1, default=0.5,
                                             help_text="Only customers at this churn probability or above (0-1).")
    offset = serializers.IntegerField(required=False, min_value=0, max_value=10_000_000, default=0)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=1000, default=200,
                                     help_text="Rows a page, 1-1000.")


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


class RetentionTaskListOutput(serializers.Serializer):
    results = RetentionTaskOutput(many=True)
    next_after = serializers.IntegerField(allow_null=True)


class RetentionTaskListQueryInput(SingleValueQueryInput):
    status = serializers.ChoiceField(choices=RetentionStatus.choices, required=False)
    after = serializers.IntegerField(required=False, min_value=0, max_value=2**63 - 1, default=0)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=1000, default=200)


class RetentionTaskRecordInput(RejectUnknownFieldsMixin, serializers.Serializer):
    action_taken = serializers.CharField(max_length=500)
    outcome = serializers.ChoiceField(choices=RetentionOutcome.choices)
