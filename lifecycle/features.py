"""Point-in-time churn features and labels, computed set-based from the CRM's own tables.

One SQL statement returns the feature matrix of every customer in the population as of a
cutoff date (or of the customers given, for a scoring chunk). **No feature reads a row dated
after the cutoff**: every time-stamped table is filtered on ``< cutoff_at`` (the start of the
day after the cutoff, local time) and every dated one on ``<= cutoff``; the tier comes from the
segment history as it stood then. Columns without a history (birth date, income, credit
rating, risk tolerance, a holding's balance) are taken as recorded: the CRM keeps no history
of them, so they are the latest recorded values (documented in README).

Population: customers who were customers at the cutoff (``customer_since <= cutoff`` or not
recorded), not closed by then, and not already churned by inactivity (a transaction within the
policy's churn period before the cutoff, or a customer for less than that period).

Label (training only): the customer closed, or went ``churn_inactive_days`` without a
transaction, within ``horizon_days`` after the cutoff.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np
from django.db import connection
from django.utils import timezone

from complaints.models import Complaint
from customers.models import Customer, Holding, Interaction, Product, Transaction
from segmentation.models import SegmentHistory
from service.models import ServiceRecord, SurveyResponse

# The feature columns, in the model's order. Changing this list needs a retrained model
# (each ChurnModel stores the list it was trained with, and scoring checks it).
FEATURES = (
    "age_years",
    "tenure_days",
    "is_male",
    "annual_income_cny",
    "liabilities_cny",
    "credit_rank",
    "risk_tolerance_rank",
    "tier_rank",
    "assets_cny",
    "deposit_cny",
    "wealth_cny",
    "insurance_cny",
    "loan_cny",
    "card_cny",
    "products_held",
    "categories_held",
    "has_card",
    "holdings_opened_180d",
    "holdings_closed_180d",
    "txn_count_90d",
    "txn_count_prior_90d",
    "txn_amount_90d",
    "txn_amount_prior_90d",
    "activity_change_pct",
    "txn_count_365d",
    "net_flow_90d",
    "days_since_last_txn",
    "channels_90d",
    "digital_share_90d",
    "interactions_180d",
    "days_since_last_contact",
    "services_180d",
    "complaints_365d",
    "complaints_open",
    "complaints_breached",
    "nps_last",
    "csat_avg",
)

CREDIT_RANKS = {"AAA": 7, "AA": 6, "A": 5, "BBB": 4, "BB": 3, "B": 2, "C": 1}
RISK_RANKS = {"R1": 1, "R2": 2, "R3": 3, "R4": 4, "R5": 5}
ASSET_CATEGORIES = ("deposit", "wealth", "insurance")
DIGITAL_CHANNELS = ("online", "mobile")


def cutoff_moment(cutoff: date) -> datetime:
    """The first instant after the cutoff day, local time: rows before it are 'as of the cutoff'."""
    return timezone.make_aware(datetime.combine(cutoff + timedelta(days=1), time.min))


def _case(column: str, ranks: dict[str, int]) -> str:
    whens = " ".join(f"WHEN '{key}' THEN {value}" for key, value in ranks.items())
    return f"(CASE {column} {whens} END)"


def _tables() -> dict[str, str]:
    return {
        "customer": Customer._meta.db_table, "holding": Holding._meta.db_table,
        "product": Product._meta.db_table, "txn": Transaction._meta.db_table,
        "interaction": Interaction._meta.db_table, "complaint": Complaint._meta.db_table,
        "service": ServiceRecord._meta.db_table, "survey": SurveyResponse._meta.db_table,
        "seghist": SegmentHistory._meta.db_table,
    }


def _population_sql(customer_only: str) -> str:
    """Customers in the population at the cutoff, with their last transaction before it."""
    t = _tables()
    return f"""
        SELECT c.id, c.branch_id, c.relationship_manager_id, c.birth_date, c.customer_since, c.gender,
               c.annual_income, c.liabilities, c.credit_rating, c.risk_tolerance, c.closed_on, lt.last_at
        FROM {t["customer"]} c
        LEFT JOIN LATERAL (
            SELECT max(tx.occurred_at) AS last_at FROM {t["txn"]} tx
            WHERE tx.customer_id = c.id AND tx.occurred_at < %(cutoff_at)s
        ) lt ON true
        WHERE (c.customer_since IS NULL OR c.customer_since <= %(cutoff)s::date)
          AND (c.closed_on IS NULL OR c.closed_on > %(cutoff)s::date)
          AND (lt.last_at >= %(cutoff_at)s - make_interval(days => %(inactive_days)s)
               OR c.customer_since > %(cutoff)s::date - %(inactive_days)s)
          {customer_only}
    """  # noqa: S608


def population_ids(*, cutoff: date, inactive_days: int) -> list[int]:
    """The ids of the population at the cutoff, in id order (a scoring run's customers)."""
    params = {"cutoff": cutoff, "cutoff_at": cutoff_moment(cutoff), "inactive_days": int(inactive_days)}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM ({_population_sql('')}) pop ORDER BY id", params)  # noqa: S608
        return [row[0] for row in cursor.fetchall()]


def feature_select_sql(*, scoped: bool, with_label: bool = False) -> str:
    """The SELECT of (customer_id, branch_id, relationship_manager_id, *FEATURES[, label]).

    Parameters by name: cutoff (date), cutoff_at (timestamptz), inactive_days (int),
    customer_ids (bigint[], when scoped) and horizon_days (int, with the label).
    Only this module's constants are formatted in; every value is a parameter.
    """
    t = _tables()
    only = "AND {col} = ANY(%(customer_ids)s)" if scoped else ""
    customer_only = only.format(col="c.id")

    def scope(col: str) -> str:
        return only.format(col=col)

    asset_sum = " + ".join(f"coalesce(h.{category}_cny, 0)" for category in ASSET_CATEGORIES)
    digital = ", ".join(f"'{channel}'" for channel in DIGITAL_CHANNELS)
    category_sums = ",\n".join(
        f"sum(h.balance) FILTER (WHERE p.category = '{category}')::float8 AS {category}_cny"
        for category in ("deposit", "wealth", "insurance", "loan", "card")
    )
    label_sql = ""
    label_join = ""
    if with_label:
        label_join = f"""
        LEFT JOIN (
            SELECT e.customer_id, max(e.next_at - e.at) >= make_interval(days => %(inactive_days)s) AS went_inactive
            FROM (
                SELECT ev.customer_id, ev.at,
                       lead(ev.at, 1, %(cutoff_at)s + make_interval(days => %(horizon_days)s))
                           OVER (PARTITION BY ev.customer_id ORDER BY ev.at) AS next_at
                FROM (
                    SELECT tx.customer_id, tx.occurred_at AS at FROM {t["txn"]} tx
                    WHERE tx.occurred_at >= %(cutoff_at)s - make_interval(days => %(inactive_days)s)
                      AND tx.occurred_at < %(cutoff_at)s + make_interval(days => %(horizon_days)s)
                      {scope("tx.customer_id")}
                    UNION ALL
                    SELECT c2.id, (c2.customer_since::timestamp AT TIME ZONE current_setting('TimeZone'))
                    FROM {t["customer"]} c2
                    WHERE c2.customer_since > %(cutoff)s::date - %(inactive_days)s {scope("c2.id")}
                ) ev
            ) e
            GROUP BY e.customer_id
        ) lab ON lab.customer_id = pop.id"""  # noqa: S608
        label_sql = """,
            (CASE WHEN pop.closed_on > %(cutoff)s::date
                       AND pop.closed_on <= %(cutoff)s::date + %(horizon_days)s THEN 1
                  WHEN coalesce(lab.went_inactive, true) THEN 1 ELSE 0 END) AS label"""

    return f"""
    WITH pop AS ({_population_sql(customer_only)})
    SELECT pop.id AS customer_id, pop.branch_id, pop.relationship_manager_id,
        date_part('year', age(%(cutoff)s::date, pop.birth_date))::float8 AS age_years,
        (%(cutoff)s::date - pop.customer_since)::float8 AS tenure_days,
        (CASE pop.gender WHEN 'male' THEN 1 WHEN 'female' THEN 0 END)::float8 AS is_male,
        pop.annual_income::float8 AS annual_income_cny,
        pop.liabilities::float8 AS liabilities_cny,
        {_case("pop.credit_rating", CREDIT_RANKS)}::float8 AS credit_rank,
        {_case("pop.risk_tolerance", RISK_RANKS)}::float8 AS risk_tolerance_rank,
        tier.to_tier_rank::float8 AS tier_rank,
        ({asset_sum})::float8 AS assets_cny,
        coalesce(h.deposit_cny, 0) AS deposit_cny, coalesce(h.wealth_cny, 0) AS wealth_cny,
        coalesce(h.insurance_cny, 0) AS insurance_cny, coalesce(h.loan_cny, 0) AS loan_cny,
        coalesce(h.card_cny, 0) AS card_cny,
        coalesce(h.products_held, 0)::float8 AS products_held,
        coalesce(h.categories_held, 0)::float8 AS categories_held,
        coalesce(h.has_card, 0)::float8 AS has_card,
        coalesce(hc.opened_180d, 0)::float8 AS holdings_opened_180d,
        coalesce(hc.closed_180d, 0)::float8 AS holdings_closed_180d,
        coalesce(x.count_90d, 0)::float8 AS txn_count_90d,
        coalesce(x.count_prior_90d, 0)::float8 AS txn_count_prior_90d,
        coalesce(x.amount_90d, 0)::float8 AS txn_amount_90d,
        coalesce(x.amount_prior_90d, 0)::float8 AS txn_amount_prior_90d,
        (CASE WHEN coalesce(x.amount_prior_90d, 0) > 0
              THEN 100 * (coalesce(x.amount_90d, 0) - x.amount_prior_90d) / x.amount_prior_90d END)::float8
            AS activity_change_pct,
        coalesce(x.count_365d, 0)::float8 AS txn_count_365d,
        coalesce(x.net_flow_90d, 0)::float8 AS net_flow_90d,
        (extract(epoch FROM (%(cutoff_at)s - pop.last_at)) / 86400)::float8 AS days_since_last_txn,
        coalesce(x.channels_90d, 0)::float8 AS channels_90d,
        (CASE WHEN x.count_90d > 0 THEN x.digital_90d::float8 / x.count_90d END) AS digital_share_90d,
        coalesce(i.interactions_180d, 0)::float8 AS interactions_180d,
        (extract(epoch FROM (%(cutoff_at)s - greatest(i.last_at, s.last_at))) / 86400)::float8
            AS days_since_last_contact,
        coalesce(s.services_180d, 0)::float8 AS services_180d,
        coalesce(cp.complaints_365d, 0)::float8 AS complaints_365d,
        coalesce(cp.complaints_open, 0)::float8 AS complaints_open,
        coalesce(cp.complaints_breached, 0)::float8 AS complaints_breached,
        sv.nps_last::float8 AS nps_last,
        sv.csat_avg::float8 AS csat_avg
        {label_sql}
    FROM pop
    LEFT JOIN (
        SELECT h.customer_id, {category_sums},
               count(*) AS products_held, count(DISTINCT p.category) AS categories_held,
               max(CASE WHEN p.category = 'card' THEN 1 ELSE 0 END) AS has_card
        FROM {t["holding"]} h JOIN {t["product"]} p ON p.id = h.product_id
        WHERE h.opened_on <= %(cutoff)s::date AND (h.closed_on IS NULL OR h.closed_on > %(cutoff)s::date)
          {scope("h.customer_id")}
        GROUP BY h.customer_id
    ) h ON h.customer_id = pop.id
    LEFT JOIN (
        SELECT h.customer_id,
               count(*) FILTER (WHERE h.opened_on > %(cutoff)s::date - 180) AS opened_180d,
               count(*) FILTER (WHERE h.closed_on > %(cutoff)s::date - 180
                                  AND h.closed_on <= %(cutoff)s::date) AS closed_180d
        FROM {t["holding"]} h
        WHERE h.opened_on <= %(cutoff)s::date
          AND (h.opened_on > %(cutoff)s::date - 180 OR h.closed_on > %(cutoff)s::date - 180)
          {scope("h.customer_id")}
        GROUP BY h.customer_id
    ) hc ON hc.customer_id = pop.id
    LEFT JOIN (
        SELECT tx.customer_id,
               count(*) FILTER (WHERE tx.occurred_at >= %(cutoff_at)s - interval '90 days') AS count_90d,
               count(*) FILTER (WHERE tx.occurred_at < %(cutoff_at)s - interval '90 days'
                                  AND tx.occurred_at >= %(cutoff_at)s - interval '180 days') AS count_prior_90d,
               sum(tx.amount) FILTER (WHERE tx.occurred_at >= %(cutoff_at)s - interval '90 days') AS amount_90d,
               sum(tx.amount) FILTER (WHERE tx.occurred_at < %(cutoff_at)s - interval '90 days'
                                        AND tx.occurred_at >= %(cutoff_at)s - interval '180 days')
                   AS amount_prior_90d,
               count(*) AS count_365d,
               sum(CASE WHEN tx.direction = 'in' THEN tx.amount ELSE -tx.amount END)
                   FILTER (WHERE tx.occurred_at >= %(cutoff_at)s - interval '90 days') AS net_flow_90d,
               count(DISTINCT tx.channel) FILTER (WHERE tx.occurred_at >= %(cutoff_at)s - interval '90 days')
                   AS channels_90d,
               count(*) FILTER (WHERE tx.occurred_at >= %(cutoff_at)s - interval '90 days'
                                  AND tx.channel IN ({digital})) AS digital_90d
        FROM {t["txn"]} tx
        WHERE tx.occurred_at < %(cutoff_at)s AND tx.occurred_at >= %(cutoff_at)s - interval '365 days'
          {scope("tx.customer_id")}
        GROUP BY tx.customer_id
    ) x ON x.customer_id = pop.id
    LEFT JOIN (
        SELECT it.customer_id,
               count(*) FILTER (WHERE it.occurred_at >= %(cutoff_at)s - interval '180 days') AS interactions_180d,
               max(it.occurred_at) AS last_at
        FROM {t["interaction"]} it
        WHERE it.occurred_at < %(cutoff_at)s {scope("it.customer_id")}
        GROUP BY it.customer_id
    ) i ON i.customer_id = pop.id
    LEFT JOIN (
        SELECT sr.customer_id,
               count(*) FILTER (WHERE sr.started_at >= %(cutoff_at)s - interval '180 days') AS services_180d,
               max(sr.started_at) AS last_at
        FROM {t["service"]} sr
        WHERE sr.started_at < %(cutoff_at)s {scope("sr.customer_id")}
        GROUP BY sr.customer_id
    ) s ON s.customer_id = pop.id
    LEFT JOIN (
        SELECT cm.customer_id,
               count(*) FILTER (WHERE cm.received_at >= %(cutoff_at)s - interval '365 days') AS complaints_365d,
               count(*) FILTER (WHERE (cm.resolved_at IS NULL OR cm.resolved_at >= %(cutoff_at)s)
                                  AND (cm.closed_at IS NULL OR cm.closed_at >= %(cutoff_at)s)) AS complaints_open,
               count(*) FILTER (WHERE cm.first_response_breached_at < %(cutoff_at)s
                                  OR cm.resolution_breached_at < %(cutoff_at)s) AS complaints_breached
        FROM {t["complaint"]} cm
        WHERE cm.received_at < %(cutoff_at)s AND cm.customer_id IS NOT NULL {scope("cm.customer_id")}
        GROUP BY cm.customer_id
    ) cp ON cp.customer_id = pop.id
    LEFT JOIN (
        SELECT sv.customer_id,
               (array_agg(sv.nps ORDER BY sv.submitted_at DESC))[1] AS nps_last,
               avg(sv.csat) AS csat_avg
        FROM {t["survey"]} sv
        WHERE sv.submitted_at < %(cutoff_at)s {scope("sv.customer_id")}
        GROUP BY sv.customer_id
    ) sv ON sv.customer_id = pop.id
    LEFT JOIN (
        SELECT DISTINCT ON (sh.customer_id) sh.customer_id, sh.to_tier_rank
        FROM {t["seghist"]} sh
        WHERE sh.changed_at < %(cutoff_at)s {scope("sh.customer_id")}
        ORDER BY sh.customer_id, sh.changed_at DESC, sh.id DESC
    ) tier ON tier.customer_id = pop.id
    {label_join}
    ORDER BY pop.id
    """  # noqa: S608


@dataclass
class FeatureMatrix:
    """The population's features as of a cutoff: ``X`` in FEATURES order (NaN where unknown)."""

    cutoff: date
    customer_ids: np.ndarray
    branch_ids: np.ndarray
    relationship_manager_ids: list
    X: np.ndarray
    y: np.ndarray | None

    def __len__(self) -> int:
        return len(self.customer_ids)

    def sampled(self, limit: int, *, seed: int = 0) -> FeatureMatrix:
        """At most ``limit`` labelled rows drawn at random (fixed seed, so a re-run trains on the same
        rows), in their original order; the matrix itself when it is no larger. The draw is stratified:
        churned and retained customers keep their shares, so calibration is not skewed."""
        if len(self) <= limit:
            return self
        positives, negatives = np.flatnonzero(self.y == 1), np.flatnonzero(self.y != 1)
        take = min(len(positives), max(1, round(limit * len(positives) / len(self)))) if len(positives) else 0
        take = max(take, limit - len(negatives))
        rng = np.random.default_rng(seed)
        rows = np.sort(np.concatenate([rng.choice(positives, size=take, replace=False),
                                       rng.choice(negatives, size=limit - take, replace=False)]))
        return FeatureMatrix(
            cutoff=self.cutoff, customer_ids=self.customer_ids[rows], branch_ids=self.branch_ids[rows],
            relationship_manager_ids=[self.relationship_manager_ids[i] for i in rows], X=self.X[rows],
            y=self.y[rows],
        )


def feature_matrix(*, cutoff: date, inactive_days: int, customer_ids: list[int] | None = None,
                   horizon_days: int | None = None) -> FeatureMatrix:
    """Read the feature matrix (and the label when ``horizon_days`` is given) in one statement."""
    scoped = customer_ids is not None
    with_label = horizon_days is not None
    params = {"cutoff": cutoff, "cutoff_at": cutoff_moment(cutoff), "inactive_days": int(inactive_days)}
    if scoped:
        params["customer_ids"] = [int(pk) for pk in customer_ids]
    if with_label:
        params["horizon_days"] = int(horizon_days)
    with connection.cursor() as cursor:
        cursor.execute(feature_select_sql(scoped=scoped, with_label=with_label), params)
        rows = cursor.fetchall()
    width = len(FEATURES)
    if not rows:
        return FeatureMatrix(cutoff=cutoff, customer_ids=np.zeros(0, dtype=np.int64),
                             branch_ids=np.zeros(0, dtype=np.int64), relationship_manager_ids=[],
                             X=np.zeros((0, width)), y=np.zeros(0, dtype=np.int64) if with_label else None)
    ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    branches = np.fromiter((row[1] for row in rows), dtype=np.int64, count=len(rows))
    managers = [row[2] for row in rows]
    X = np.array([row[3:3 + width] for row in rows], dtype=np.float64)  # None -> nan
    y = np.fromiter((row[3 + width] for row in rows), dtype=np.int64, count=len(rows)) if with_label else None
    return FeatureMatrix(cutoff=cutoff, customer_ids=ids, branch_ids=branches, relationship_manager_ids=managers,
                         X=X, y=y)
