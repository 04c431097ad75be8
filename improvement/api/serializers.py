"""Shapes of the improvement API (unique names; shape only)."""

from __future__ import annotations

from rest_framework import serializers

from core.api import QueryInput
from improvement.models import PeriodKind, Phase


class InitiativeQueryInput(QueryInput):
    phase = serializers.ChoiceField(choices=Phase.choices, required=False)


class InitiativeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    branch = serializers.CharField(source="branch.code", allow_null=True, default=None)
    owner_username = serializers.CharField(source="owner.username")
    phase = serializers.CharField()
    cycle = serializers.IntegerField()
    kpi_code = serializers.CharField()
    kpi_period_kind = serializers.CharField()
    baseline_period_start = serializers.DateField()
    baseline_value = serializers.DecimalField(max_digits=14, decimal_places=4)
    target_value = serializers.DecimalField(max_digits=14, decimal_places=4)
    direction = serializers.CharField()
    check_period_start = serializers.DateField()
    measured_value = serializers.DecimalField(max_digits=14, decimal_places=4, allow_null=True)
    verdict = serializers.CharField(help_text="met, not_met, or empty while the initiative is open.")
    suggestion_id = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)


class ScorecardQueryInput(QueryInput):
    period_kind = serializers.ChoiceField(choices=[PeriodKind.MONTH, PeriodKind.QUARTER], required=False,
                                          default=PeriodKind.MONTH)
    period_start = serializers.DateField(required=False, help_text="The first day of the month or quarter.")


class ScorecardOutput(serializers.Serializer):
    id = serializers.IntegerField()
    period_kind = serializers.CharField()
    period_start = serializers.DateField()
    relationship_manager_username = serializers.CharField(source="relationship_manager.username")
    branch = serializers.CharField(source="branch.code", allow_null=True, default=None)
    policy_version = serializers.IntegerField(source="policy.version")
    customers = serializers.IntegerField()
    satisfaction_pct = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    retention_pct = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    clv_total_cny = serializers.DecimalField(max_digits=18, decimal_places=2)
    clv_growth_pct = serializers.DecimalField(max_digits=9, decimal_places=2, allow_null=True)
    complaints = serializers.IntegerField()
    complaints_per_100 = serializers.DecimalField(max_digits=9, decimal_places=2, allow_null=True)
    sla_pct = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    training_completion_pct = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    components = serializers.DictField(child=serializers.CharField(allow_null=True))
    score = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    rank_in_branch = serializers.IntegerField(allow_null=True)
    computed_at = serializers.DateTimeField()
