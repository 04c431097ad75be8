"""segmentation.rules: each rule's SQL (the pass) and its Python (the 360 explanation) agree."""

from __future__ import annotations

import itertools
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import connection

from segmentation import rules, services

FIGURE_VALUES = {
    "amount_cny": [Decimal("0"), Decimal("50000"), Decimal("500000"), Decimal("1000000"), Decimal("1000000.01")],
    "service_count": [0, 4, 5],
    "assets_cny": [Decimal("0"), Decimal("499999.99"), Decimal("500000")],
    "transaction_count": [0, 2, 3],
}


def _sql_value(expression: str, figures: dict, params: dict):
    columns = ", ".join(f"%({name})s AS {name}" for name in figures)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {expression} FROM (SELECT {columns}) f", {**figures, **params})
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_value_classes_and_rules_in_sql_match_the_thresholds_in_python():
    policy = services.segmentation_defaults_ensure()
    params = services.classification_params(policy=policy, as_of=services.timezone.now())
    names = list(FIGURE_VALUES)
    for values in itertools.product(*FIGURE_VALUES.values()):
        figures = dict(zip(names, values, strict=True))
        segment = SimpleNamespace(**figures)
        expected = next(((value_class, rule) for value_class, rule, thresholds in rules.VALUE_RULES
                         if all(t.holds(segment, policy) for t in thresholds)), rules.VALUE_DEFAULT)
        assert (_sql_value(rules.value_class_sql(), figures, params),
                _sql_value(rules.value_rule_sql(), figures, params)) == expected, figures
        assert _sql_value(rules.active_sql(), figures, params) == all(
            t.holds(segment, policy) for t in rules.ACTIVE_RULE[2]), figures


@pytest.mark.django_db
def test_risk_points_in_sql_match_python():
    policy = services.segmentation_defaults_ensure()
    params = services.classification_params(policy=policy, as_of=services.timezone.now())
    ratings = [policy.weak_credit_ratings[0], policy.fair_credit_ratings[0], "AAA"]
    for rating, large, outflow, assets, changes in itertools.product(
            ratings, [0, 1], [Decimal("0"), policy.outflow_min_monthly_cny, Decimal("90000")],
            [Decimal("0"), Decimal("100000"), Decimal("10000000")], [0, policy.account_changes_max + 1]):
        figures = {"credit_rating": rating, "large_movements": large, "monthly_outflow_cny": outflow,
                   "assets_cny": assets, "account_changes": changes}
        assert _sql_value(rules.risk_points_sql(), figures, params) == rules.risk_points(
            SimpleNamespace(**figures), policy), figures


def test_rule_texts_name_the_policy_values():
    policy = SimpleNamespace(vip_min_amount_cny=Decimal("1000000"), vip_min_services=5, churn_inactive_days=180,
                             important_min_amount_cny=Decimal("200000"), important_min_assets_cny=Decimal("500000"),
                             active_min_transactions=3, active_min_amount_cny=Decimal("50000"))
    assert rules.rule_text("vip_amount_and_services", policy) == (
        "VIP: amount above 1,000,000.00 CNY and at least 5 service interactions")
    assert rules.rule_text("active_default", policy) == "active: at least 3 transactions and 50,000.00 CNY"
