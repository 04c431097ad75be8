"""Shapes of the evaluation API (unique names: drf-spectacular components)."""

from rest_framework import serializers

from core.api import QueryInput
from evaluation.models import KpiDefinition, KpiSnapshot, KpiTarget, PeriodKind, Report, ScopeKind


class KpiTargetOutput(serializers.ModelSerializer):
    class Meta:
        model = KpiTarget
        fields = ["version", "comparison", "value", "amber_margin_pct", "effective_from"]


class KpiDefinitionOutput(serializers.ModelSerializer):
    targets = KpiTargetOutput(many=True, read_only=True)

    class Meta:
        model = KpiDefinition
        fields = ["code", "name", "unit", "direction", "numerator", "denominator", "period_rule", "exclusions",
                  "by_tier", "targets"]


class KpiSnapshotOutput(serializers.ModelSerializer):
    kpi = serializers.SlugRelatedField(slug_field="code", read_only=True)
    branch = serializers.SlugRelatedField(slug_field="code", read_only=True)
    relationship_manager_id = serializers.IntegerField(read_only=True, allow_null=True)
    target_version = serializers.IntegerField(source="target.version", read_only=True, allow_null=True,
                                              default=None)

    class Meta:
        model = KpiSnapshot
        fields = ["id", "kpi", "period_kind", "period_start", "period_end", "scope", "branch",
                  "relationship_manager_id", "dimension", "numerator", "denominator", "value", "target_version",
                  "rag", "data_as_of", "computed_at"]


class KpiSnapshotFilterInput(QueryInput):
    kpi = serializers.SlugField(required=False, max_length=40)
    period_kind = serializers.ChoiceField(choices=PeriodKind.choices, required=False)
    period_start = serializers.DateField(required=False)
    scope = serializers.ChoiceField(choices=ScopeKind.choices, required=False)
    branch = serializers.CharField(required=False, max_length=20)


class ReportOutput(serializers.ModelSerializer):
    branch = serializers.SlugRelatedField(slug_field="code", read_only=True)
    period = serializers.CharField(source="period_label", read_only=True)

    class Meta:
        model = Report
        fields = ["id", "kind", "period", "period_start", "period_end", "branch", "revision", "status",
                  "progress_pct", "data_as_of", "created_at", "finished_at"]


class ReportDetailOutput(ReportOutput):
    class Meta(ReportOutput.Meta):
        fields = [*ReportOutput.Meta.fields, "content"]
