"""Output shapes of the segmentation API (unique names: drf-spectacular components)."""

from __future__ import annotations

from rest_framework import serializers

from core.api import QueryInput
from segmentation.models import BehaviourClass, RiskClass, Tier, ValueClass


class SegmentRecommendationOutput(serializers.Serializer):
    rank = serializers.IntegerField()
    product_code = serializers.CharField(source="product.code")
    product_name = serializers.CharField(source="product.name")
    category = serializers.CharField(source="product.category")
    risk_level = serializers.CharField(source="product.risk_level")
    reason = serializers.CharField(help_text="similar: held together with because_product_code; popular: fallback.")
    because_product_code = serializers.CharField(source="because_product.code", allow_null=True, default=None)
    score = serializers.FloatField()


class CustomerSegmentOutput(serializers.Serializer):
    customer_id = serializers.IntegerField()
    tier = serializers.ChoiceField(choices=Tier.choices)
    computed_tier = serializers.ChoiceField(choices=Tier.choices,
                                            help_text="The tier the rules gave, before any override.")
    overridden = serializers.BooleanField()
    value_class = serializers.ChoiceField(choices=ValueClass.choices)
    value_rule = serializers.CharField()
    behaviour_class = serializers.ChoiceField(choices=BehaviourClass.choices)
    behaviour_rule = serializers.CharField()
    risk_class = serializers.ChoiceField(choices=RiskClass.choices)
    risk_points = serializers.IntegerField()
    policy_version = serializers.IntegerField(source="policy.version")
    as_of = serializers.DateTimeField()
    figures = serializers.DictField(child=serializers.CharField(allow_null=True))
    clv = serializers.DictField(child=serializers.CharField())
    recommendations = SegmentRecommendationOutput(many=True)


class SegmentListItemOutput(serializers.Serializer):
    customer_id = serializers.IntegerField()
    tier = serializers.ChoiceField(choices=Tier.choices)
    value_class = serializers.ChoiceField(choices=ValueClass.choices)
    behaviour_class = serializers.ChoiceField(choices=BehaviourClass.choices)
    risk_class = serializers.ChoiceField(choices=RiskClass.choices)


class SegmentListQueryInput(QueryInput):
    tier = serializers.ChoiceField(choices=Tier.choices, required=False)
