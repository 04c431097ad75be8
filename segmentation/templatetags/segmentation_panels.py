"""The segmentation panel on the customer 360 page, registered into customers.panels from apps.py."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.translation import gettext as _

from accounts import permissions
from segmentation import selectors
from segmentation.models import CustomerSegment, SegmentationPolicy

register = template.Library()


def _cny(amount) -> str:
    return f"{Decimal(amount):,.2f}"


def segment_explanation(segment: CustomerSegment) -> dict:
    """"Why": each class's figures against the thresholds of the policy version that produced it."""
    policy: SegmentationPolicy = segment.policy
    window = _("last %(days)d days") % {"days": policy.lookback_days}
    value = [
        (_("Transaction amount, %(window)s") % {"window": window}, _cny(segment.amount_cny) + " CNY",
         _("VIP: more than %(amount)s CNY") % {"amount": _cny(policy.vip_min_amount_cny)},
         segment.amount_cny > policy.vip_min_amount_cny),
        (_("Service interactions, %(window)s") % {"window": window}, str(segment.service_count),
         _("VIP: at least %(count)d") % {"count": policy.vip_min_services},
         segment.service_count >= policy.vip_min_services),
        (_("Transaction amount, %(window)s") % {"window": window}, _cny(segment.amount_cny) + " CNY",
         _("important: more than %(amount)s CNY") % {"amount": _cny(policy.important_min_amount_cny)},
         segment.amount_cny > policy.important_min_amount_cny),
        (_("Assets held"), _cny(segment.assets_cny) + " CNY",
         _("important: at least %(amount)s CNY") % {"amount": _cny(policy.important_min_assets_cny)},
         segment.assets_cny >= policy.important_min_assets_cny),
    ]
    behaviour = [
        (_("Transactions, %(window)s") % {"window": window}, str(segment.transaction_count),
         _("active: at least %(count)d") % {"count": policy.active_min_transactions},
         segment.transaction_count >= policy.active_min_transactions),
        (_("Transaction amount, %(window)s") % {"window": window}, _cny(segment.amount_cny) + " CNY",
         _("active: at least %(amount)s CNY") % {"amount": _cny(policy.active_min_amount_cny)},
         segment.amount_cny >= policy.active_min_amount_cny),
        (_("Last transaction"),
         segment.last_transaction_at.strftime("%Y-%m-%d") if segment.last_transaction_at else "—",
         _("churned: none for %(days)d days") % {"days": policy.churn_inactive_days}, None),
    ]
    rating_points = (2 if segment.credit_rating in policy.weak_credit_ratings
                     else 1 if segment.credit_rating in policy.fair_credit_ratings else 0)
    outflow_signal = (segment.monthly_outflow_cny >= policy.outflow_min_monthly_cny
                      and segment.monthly_outflow_cny * 100 > policy.outflow_to_assets_pct * segment.assets_cny)
    risk = [
        (_("Credit rating"), segment.credit_rating or "—",
         _("weak %(weak)s: 2 points; fair %(fair)s: 1 point") % {
             "weak": "/".join(policy.weak_credit_ratings) or "—", "fair": "/".join(policy.fair_credit_ratings) or "—"},
         rating_points > 0),
        (_("Large single movements"), str(segment.large_movements),
         _("any of at least %(amount)s CNY: 1 point") % {"amount": _cny(policy.large_movement_cny)},
         segment.large_movements > 0),
        (_("Average monthly outflow"), _cny(segment.monthly_outflow_cny) + " CNY",
         _("above %(pct)s%% of assets held: 1 point") % {"pct": policy.outflow_to_assets_pct}, outflow_signal),
        (_("Account changes, %(window)s") % {"window": window}, str(segment.account_changes),
         _("more than %(count)d: 1 point") % {"count": policy.account_changes_max},
         segment.account_changes > policy.account_changes_max),
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
            "value_rule": _rule_text(segment.value_rule, policy), "behaviour_rule": _rule_text(segment.behaviour_rule,
                                                                                                policy)}


def _rule_text(rule: str, policy: SegmentationPolicy) -> str:
    texts = {
        "vip_amount_and_services": _("VIP: amount above %(amount)s CNY and at least %(count)d service interactions")
        % {"amount": _cny(policy.vip_min_amount_cny), "count": policy.vip_min_services},
        "important_amount": _("important: amount above %(amount)s CNY")
        % {"amount": _cny(policy.important_min_amount_cny)},
        "important_assets": _("important: assets held of at least %(amount)s CNY")
        % {"amount": _cny(policy.important_min_assets_cny)},
        "general_default": _("general: below the VIP and important thresholds"),
        "churned_closed": _("churned: the customer is closed"),
        "churned_inactive": _("churned: no transaction for %(days)d days") % {"days": policy.churn_inactive_days},
        "active_default": _("active: at least %(count)d transactions and %(amount)s CNY")
        % {"count": policy.active_min_transactions, "amount": _cny(policy.active_min_amount_cny)},
        "potential_new": _("potential: a new customer without transactions yet"),
        "potential_default": _("potential: transacts, but below the active thresholds"),
    }
    return texts.get(rule, rule)


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
        "can_view_recommendations": can_view_recommendations,
        "can_feedback": user is not None and permissions.can_record_recommendation_feedback(user),
        "can_propose": user is not None and permissions.can_propose_segment_override(user),
        "pending_override": selectors.override_pending_for(customer=customer),
    }
