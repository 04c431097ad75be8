"""Turn a prediction's feature contributions into reasons an RM understands.

Features are grouped by what they say about the customer (inactivity, falling activity,
complaints, ...). A group's contribution is the sum of its features' contributions to the
model's raw output for this customer; the groups that raise the risk most become reasons,
stored as a code plus the customer's own figures, and worded at display time in the reader's
language ("no transaction for 94 days", "2 complaints, 1 past its deadline").
"""

from __future__ import annotations

import math

import numpy as np
from django.utils.translation import gettext_lazy as _

from lifecycle.features import FEATURES

# Reason group -> its features (every feature in exactly one group).
GROUPS = {
    "inactivity": ("days_since_last_txn",),
    "activity": ("txn_count_90d", "txn_count_prior_90d", "txn_amount_90d", "txn_amount_prior_90d",
                 "activity_change_pct", "txn_count_365d", "channels_90d", "digital_share_90d"),
    "outflow": ("net_flow_90d",),
    "complaints": ("complaints_365d", "complaints_open", "complaints_breached"),
    "products": ("products_held", "categories_held", "has_card", "holdings_opened_180d", "holdings_closed_180d"),
    "assets": ("assets_cny", "deposit_cny", "wealth_cny", "insurance_cny", "loan_cny", "card_cny"),
    "contact": ("interactions_180d", "days_since_last_contact", "services_180d"),
    "satisfaction": ("nps_last", "csat_avg"),
    "tenure": ("tenure_days",),
    "age": ("age_years",),
    "profile": ("is_male", "annual_income_cny", "liabilities_cny", "credit_rank", "risk_tolerance_rank",
                "tier_rank"),
}
assert sorted(f for fs in GROUPS.values() for f in fs) == sorted(FEATURES), "every feature in one group"

MESSAGES = {
    "inactivity": _("no transaction for %(days)s days"),
    "activity_fell": _("transactions fell from %(prior)s to %(recent)s in the last 90 days"),
    "activity_low": _("only %(recent)s transactions in the last 90 days"),
    "outflow": _("net outflow of %(amount)s CNY in the last 90 days"),
    "complaints": _("%(count)s complaints in the last year, %(breached)s past its deadline"),
    "complaints_open": _("%(open)s complaint still open"),
    "products_closed": _("closed %(closed)s products in the last 6 months"),
    "products_few": _("holds only %(count)s products"),
    "assets": _("assets with the bank of %(amount)s CNY"),
    "contact": _("no contact with the bank for %(days)s days"),
    "contact_none": _("no recorded contact with the bank"),
    "satisfaction": _("last survey: %(nps)s of 10 for recommending the bank"),
    "tenure": _("customer for only %(months)s months"),
    "tenure_long": _("customer for %(years)s years"),
    "age": _("age %(age)s"),
    "profile": _("customer profile (income, credit rating, tier)"),
}

_INDEX = {name: position for position, name in enumerate(FEATURES)}
_GROUP_INDEXES = {group: [_INDEX[name] for name in names] for group, names in GROUPS.items()}
MAX_REASONS = 3


def _value(row: np.ndarray, name: str) -> float | None:
    value = float(row[_INDEX[name]])
    return None if math.isnan(value) else value


def _int(value: float | None) -> int:
    return 0 if value is None else round(value)


def _amount(value: float | None) -> str:
    return f"{abs(value or 0):,.0f}"


def _reason(group: str, row: np.ndarray) -> tuple[str, dict]:
    """The message code and the customer's figures for a reason group."""
    if group == "inactivity":
        return "inactivity", {"days": _int(_value(row, "days_since_last_txn"))}
    if group == "activity":
        recent, prior = _int(_value(row, "txn_count_90d")), _int(_value(row, "txn_count_prior_90d"))
        if recent < prior:
            return "activity_fell", {"prior": prior, "recent": recent}
        return "activity_low", {"recent": recent}
    if group == "outflow":
        return "outflow", {"amount": _amount(_value(row, "net_flow_90d"))}
    if group == "complaints":
        count = _int(_value(row, "complaints_365d"))
        if count:
            return "complaints", {"count": count, "breached": _int(_value(row, "complaints_breached"))}
        return "complaints_open", {"open": _int(_value(row, "complaints_open"))}
    if group == "products":
        closed = _int(_value(row, "holdings_closed_180d"))
        if closed:
            return "products_closed", {"closed": closed}
        return "products_few", {"count": _int(_value(row, "products_held"))}
    if group == "assets":
        return "assets", {"amount": _amount(_value(row, "assets_cny"))}
    if group == "contact":
        days = _value(row, "days_since_last_contact")
        return ("contact", {"days": _int(days)}) if days is not None else ("contact_none", {})
    if group == "satisfaction":
        nps = _value(row, "nps_last")
        return "satisfaction", {"nps": _int(nps) if nps is not None else "-"}
    if group == "tenure":
        days = _value(row, "tenure_days") or 0
        if days < 3 * 365:
            return "tenure", {"months": int(days // 30)}
        return "tenure_long", {"years": int(days // 365)}
    if group == "age":
        return "age", {"age": _int(_value(row, "age_years"))}
    return "profile", {}


def reasons_for(X: np.ndarray, contributions: np.ndarray, limit: int = MAX_REASONS) -> list[list[dict]]:
    """Per row: the groups raising the risk most, as [{"code", "params", "contribution"}, ...]."""
    group_names = list(_GROUP_INDEXES)
    sums = np.stack([contributions[:, _GROUP_INDEXES[group]].sum(axis=1) for group in group_names], axis=1)
    result = []
    for row_index in range(len(X)):
        order = np.argsort(-sums[row_index])[:limit]
        reasons = []
        for group_index in order:
            contribution = float(sums[row_index, group_index])
            if contribution <= 0:
                break
            code, params = _reason(group_names[group_index], X[row_index])
            reasons.append({"code": code, "params": params, "contribution": round(contribution, 4)})
        result.append(reasons)
    return result


def reason_text(reason: dict) -> str:
    """Word one stored reason in the active language."""
    message = MESSAGES.get(reason.get("code"))
    if message is None:
        return str(reason.get("code", ""))
    try:
        return str(message) % reason.get("params", {})
    except (KeyError, TypeError, ValueError):
        return str(message)


def top_feature_groups(contributions: np.ndarray) -> list[list]:
    """Mean absolute contribution per feature over a sample, largest first: [[feature, value], ...]."""
    means = np.abs(contributions).mean(axis=0) if len(contributions) else np.zeros(len(FEATURES))
    order = np.argsort(-means)
    return [[FEATURES[index], round(float(means[index]), 4)] for index in order]
