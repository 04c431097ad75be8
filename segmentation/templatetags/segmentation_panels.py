"""The segmentation panel on the customer 360 page, registered into customers.panels from apps.py."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.translation import gettext as _

from accounts import permissions
from customers import consent as customer_consent
from segmentation import rules, selectors
from segmentation.models import CustomerSegment, SegmentationPolicy

register = template.Library()


def _cny(amount) -> str:
    return f"{Decimal(amount):,.2f}"


def segment_explanation(segment: CustomerSegment) -> dict:
    """"Why": each class's figures against the thresholds of the policy version that produced it."""
    policy: SegmentationPolicy = segment.policy
    window = _("last %(days)d days") % {"days": policy.lookback_days}
    amount_label = _("Transaction amount, %(window)s") % {"window": window}
    labels = {  # what each figure is; the thresholds, their test and their text come from segmentation.rules
        "amount_cny": amount_label, "service_count": _("Service interactions, %(window)s") % {"window": window},
        "assets_cny": _("Assets held"), "transaction_count": _("Transactions, %(window)s") % {"window": window},
    }

    def shown(threshold: rules.Threshold) -> str:
        value = getattr(segment, threshold.figure)
        return _cny(value) + " CNY" if threshold.money else str(value)

    def rows(thresholds) -> list[tuple]:
        return [(labels[t.figure], shown(t), t.text(policy), t.holds(segment, policy)) for t in thresholds]

    value = rows(t for _class, _rule, thresholds in rules.VALUE_RULES for t in thresholds)
    behaviour = [*rows(rules.ACTIVE_RULE[2]), (
        _("Last transaction"),
        segment.last_transaction_at.strftime("%Y-%m-%d") if segment.last_transaction_at else "—",
        _("churned: none for %(days)d days") % {"days": policy.churn_inactive_days}, None)]
    risk = [
        (_("Credit rating"), segment.credit_rating or "—",
         _("weak %(weak)s: 2 points; fair %(fair)s: 1 point") % {
             "weak": "/".join(policy.weak_credit_ratings) or "—", "fair": "/".join(policy.fair_credit_ratings) or "—"},
         rules.credit_points(segment, policy) > 0),
        (_("Large single movements"), str(segment.large_movements),
         _("any of at least %(amount)s CNY: 1 point") % {"amount": _cny(policy.large_movement_cny)},
         rules.large_movements_signal(segment, policy)),
        (_("Average monthly outflow"), _cny(segment.monthly_outflow_cny) + " CNY",
         _("above %(pct)s%% of assets held: 1 point") % {"pct": policy.outflow_to_assets_pct},
         rules.outflow_signal(segment, policy)),
        (_("Account changes, %(window)s") % {"window": window}, str(segment.account_changes),
         rules.ACCOUNT_CHANGES.text(policy), rules.ACCOUNT_CHANGES.holds(segment, policy)),
    ]
    retention = segment.retention_pct / 100
    expected_years = (1 / (1 - retention)) if retention < 1 else None
    clv = [
        (_("Annual margin from balances and product mix"), _cny(segment.annual_margin_cny) + " CNY"),
        (_("Retention a year (by tier)"), f"{segment.retention_pct}%"),
        (_("Expected remaining lifetime"),
         _("%(years)s years") % {"years": f"{expected_years:.1f}"} if expected_years is not None else "—"),
        (_("Discount rate"), f"{policy.discount_rate_pct}%"),
        (_("Horizon"), _("%(years)d years") % {"years": policy.clv_horizon_years}),
    ]
    return {"value": value, "behaviour": behaviour, "risk": risk, "risk_points": segment.risk_points, "clv": clv,
            "value_rule": rules.rule_text(segment.value_rule, policy),
            "behaviour_rule": rules.rule_text(segment.behaviour_rule, policy)}


def segmentation_customer_panel(*, request, customer) -> dict:
    """The 360 panel (registered in apps.py): tier, classes and why, CLV, strategy, recommendations, override."""
    user = getattr(request, "user", None)
    segment = selectors.segment_for(customer=customer)
    can_view_recommendations = user is not None and permissions.can_view_recommendations(user)
    return {
        "segment": segment,
        "why": segment_explanation(segment) if segment is not None else None,
        "strategy": selectors.strategy_for(tier=segment.tier) if segment is not None else None,
        "recommendations": (selectors.recommendation_list_for(customer=customer)
                            if can_view_recommendations else []),
        "marketing_channels": (customer_consent.consent_marketing_channels_for(customer=customer)
                               if can_view_recommendations else []),
        "declined_products": (selectors.recommendation_declined_for(customer=customer)
                              if can_view_recommendations else []),
        "can_view_recommendations": can_view_recommendations,
        "can_feedback": user is not None and permissions.can_record_recommendation_feedback(user),
        "can_propose": user is not None and permissions.can_propose_segment_override(user),
        "pending_override": selectors.override_pending_for(customer=customer),
    }
