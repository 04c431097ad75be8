"""The classification rules, written once (MANUAL 2.1; thresholds from the versioned SegmentationPolicy).

Each threshold is one ``Threshold``: the pass turns it into SQL (``sql()``, a condition on the
figures row ``f`` with the policy value as a named parameter) and the 360 panel into its "why"
(``holds()`` on the stored figures, ``text()`` naming the policy value). The value and behaviour
rules are ordered lists of thresholds; the pass's CASE expressions and the panel's rule texts are
generated from those lists, so a threshold cannot differ between the class and its explanation.
Risk points are the four signals below, each with its SQL and its Python side by side (the
outflow signal compares two figures; tests/segmentation check both spellings agree).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

_OPERATORS = {">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def cny(amount) -> str:
    return f"{Decimal(amount):,.2f}"


@dataclass(frozen=True)
class Threshold:
    figure: str  # the figures column in the pass and the CustomerSegment attribute
    operator: str  # ">" or ">="
    policy_field: str  # the SegmentationPolicy field, also the SQL parameter's name
    bound_text: Promise  # names the bound as %(amount)s (money) or %(count)d
    money: bool = False

    def sql(self, alias: str = "f") -> str:
        return f"{alias}.{self.figure} {self.operator} %({self.policy_field})s"

    def holds(self, segment: Any, policy: Any) -> bool:
        return _OPERATORS[self.operator](getattr(segment, self.figure), getattr(policy, self.policy_field))

    def value(self, policy: Any):
        value = getattr(policy, self.policy_field)
        return cny(value) if self.money else value

    def text(self, policy: Any) -> str:
        return self.bound_text % ({"amount": self.value(policy)} if self.money else {"count": self.value(policy)})


VIP_AMOUNT = Threshold("amount_cny", ">", "vip_min_amount_cny", _("VIP: more than %(amount)s CNY"), money=True)
VIP_SERVICES = Threshold("service_count", ">=", "vip_min_services", _("VIP: at least %(count)d"))
IMPORTANT_AMOUNT = Threshold("amount_cny", ">", "important_min_amount_cny",
                             _("important: more than %(amount)s CNY"), money=True)
IMPORTANT_ASSETS = Threshold("assets_cny", ">=", "important_min_assets_cny",
                             _("important: at least %(amount)s CNY"), money=True)
ACTIVE_TRANSACTIONS = Threshold("transaction_count", ">=", "active_min_transactions", _("active: at least %(count)d"))
ACTIVE_AMOUNT = Threshold("amount_cny", ">=", "active_min_amount_cny", _("active: at least %(amount)s CNY"),
                          money=True)
ACCOUNT_CHANGES = Threshold("account_changes", ">", "account_changes_max", _("more than %(count)d: 1 point"))

# (class, rule code, thresholds that must all hold), first match wins; else the default.
VALUE_RULES = [
    ("vip", "vip_amount_and_services", (VIP_AMOUNT, VIP_SERVICES)),
    ("important", "important_amount", (IMPORTANT_AMOUNT,)),
    ("important", "important_assets", (IMPORTANT_ASSETS,)),
]
VALUE_DEFAULT = ("general", "general_default")
ACTIVE_RULE = ("active", "active_default", (ACTIVE_TRANSACTIONS, ACTIVE_AMOUNT))


def value_class_sql() -> str:
    whens = " ".join(f"WHEN {' AND '.join(t.sql() for t in thresholds)} THEN '{value_class}'"
                     for value_class, _rule, thresholds in VALUE_RULES)
    return f"CASE {whens} ELSE '{VALUE_DEFAULT[0]}' END"


def value_rule_sql() -> str:
    whens = " ".join(f"WHEN {' AND '.join(t.sql() for t in thresholds)} THEN '{rule}'"
                     for _class, rule, thresholds in VALUE_RULES)
    return f"CASE {whens} ELSE '{VALUE_DEFAULT[1]}' END"


def active_sql() -> str:
    return " AND ".join(threshold.sql() for threshold in ACTIVE_RULE[2])


# --- Risk points ------------------------------------------------------------------------------

def credit_points_sql() -> str:
    return ("CASE WHEN f.credit_rating = ANY(%(weak_credit_ratings)s) THEN 2 "
            "WHEN f.credit_rating = ANY(%(fair_credit_ratings)s) THEN 1 ELSE 0 END")


def credit_points(segment: Any, policy: Any) -> int:
    if segment.credit_rating in policy.weak_credit_ratings:
        return 2
    return 1 if segment.credit_rating in policy.fair_credit_ratings else 0


LARGE_MOVEMENTS_SQL = "f.large_movements > 0"


def large_movements_signal(segment: Any, policy: Any) -> bool:
    return segment.large_movements > 0


OUTFLOW_SQL = ("f.monthly_outflow_cny >= %(outflow_min_monthly_cny)s "
               "AND f.monthly_outflow_cny * 100 > %(outflow_to_assets_pct)s * f.assets_cny")


def outflow_signal(segment: Any, policy: Any) -> bool:
    return (segment.monthly_outflow_cny >= policy.outflow_min_monthly_cny
            and segment.monthly_outflow_cny * 100 > policy.outflow_to_assets_pct * segment.assets_cny)


def risk_points_sql() -> str:
    signals = [LARGE_MOVEMENTS_SQL, OUTFLOW_SQL, ACCOUNT_CHANGES.sql()]
    return "(" + credit_points_sql() + "".join(f" + CASE WHEN {s} THEN 1 ELSE 0 END" for s in signals) + ")"


def risk_points(segment: Any, policy: Any) -> int:
    return (credit_points(segment, policy) + large_movements_signal(segment, policy)
            + outflow_signal(segment, policy) + ACCOUNT_CHANGES.holds(segment, policy))


def rule_text(rule: str, policy: Any) -> str:
    """The explanation of a value or behaviour rule code, naming the policy's values."""
    texts = {
        "vip_amount_and_services": _("VIP: amount above %(amount)s CNY and at least %(count)d service interactions")
        % {"amount": VIP_AMOUNT.value(policy), "count": VIP_SERVICES.value(policy)},
        "important_amount": _("important: amount above %(amount)s CNY") % {"amount": IMPORTANT_AMOUNT.value(policy)},
        "important_assets": _("important: assets held of at least %(amount)s CNY")
        % {"amount": IMPORTANT_ASSETS.value(policy)},
        "general_default": _("general: below the VIP and important thresholds"),
        "churned_closed": _("churned: the customer is closed"),
        "churned_inactive": _("churned: no transaction for %(days)d days") % {"days": policy.churn_inactive_days},
        "active_default": _("active: at least %(count)d transactions and %(amount)s CNY")
        % {"count": ACTIVE_TRANSACTIONS.value(policy), "amount": ACTIVE_AMOUNT.value(policy)},
        "potential_new": _("potential: a new customer without transactions yet"),
        "potential_default": _("potential: transacts, but below the active thresholds"),
    }
    return str(texts.get(rule, rule))
