"""Writes for classification and tiering (MANUAL 2.1), CLV (3.4) and recommendations (4.3).

Every function is keyword-only, typed and atomic where it writes (STYLE.md §1).

The classification pass (``segmentation_run``)
------------------------------------------------
One set-based pass over all customers (or the ``customer_ids`` given), against the latest
policy version, over the window [as_of - lookback_days, as_of):

1. one ``CREATE TEMPORARY TABLE seg_new AS SELECT ...``: transactions, service interactions and
   holdings aggregated per customer with GROUP BY (hash aggregates, no per-customer query, no
   transaction in Python), then every class, rule, tier and CLV as SQL CASE expressions, joined
   once to the current rows; only new and changed rows are kept (compared by a fingerprint);
2. one ``INSERT INTO segmenthistory ... SELECT`` of the customers whose classes or tier differ
   from their current row (or who had none);
3. one ``INSERT ... ON CONFLICT (customer_id) DO UPDATE`` writing all current rows back.
Steps 2 and 3 commit together; the run row records progress between steps and the policy
version. Re-running with the same data and as_of writes no history and the same values.

The rules (defaults in parentheses; every number is a field of SegmentationPolicy):

Value (MANUAL 2.1)
  VIP        transaction amount > vip_min_amount_cny (1,000,000) AND service interactions
             >= vip_min_services (5). Exactly 1,000,000 is not VIP ("more than"); 5 services are.
  important  not VIP, and amount > important_min_amount_cny (200,000) OR assets held >=
             important_min_assets_cny (500,000). Chosen so that about the manual's 45 % "middle"
             customers land here; a wealthy customer who rarely transacts is still important.
  general    the rest.
  Amount = the sum of all transaction amounts (in and out) in the window.
  Service interactions = customers.Interaction rows plus service.ServiceRecord rows in the
  window (SERVICE_COUNT_SOURCES: one place, a UNION ALL).

Behaviour
  churned    the customer is closed, or has had no transaction for churn_inactive_days (180, a
             half-year of silence, the common "dormant" mark) and became a customer before that.
  active     >= active_min_transactions (3) AND amount >= active_min_amount_cny (50,000) (MANUAL 2.1).
  potential  the rest (a customer newer than churn_inactive_days without transactions included).

Risk: points, 0 low, 1 medium, 2 or more high
  credit rating in weak_credit_ratings (B, C) 2 points; in fair_credit_ratings (BB) 1 point;
  any single transaction >= large_movement_cny (500,000) 1 point;
  average monthly outflow >= outflow_min_monthly_cny (10,000) and above outflow_to_assets_pct
  (50 %) of assets held 1 point;
  account changes (holdings opened or closed in the window) > account_changes_max (4) 1 point.

Tier: the value class, one level lower when the customer is churned (a churned VIP is served
as important until they come back). An approved, unexpired SegmentOverride replaces the tier;
``computed_tier`` keeps what the rules said.

CLV: annual margin m = sum over open holdings of balance x the policy's margin for the
product's category (deposits 1.5 %, wealth 0.8 %, insurance 1.0 %, loans 2.0 %, cards 3.0 %);
retention r by computed tier (VIP 92 %, important 85 %, general 75 %; the manual's benchmark
retention is 78 %), discount d (8 %), horizon H (10 years):
  CLV = m x sum_{t=1..H} (r / (1 + d))^t = m x q (1 - q^H) / (1 - q), q = r / (1 + d).
The expected remaining lifetime is 1 / (1 - r) years. A closed customer's CLV is 0.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import DatabaseError, connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import permissions
from accounts.models import User
from core.audit import audit_record
from core.errors import ApplicationError, ErrorCode
from core.outbox import outbox_enqueue
from customers.models import Customer, CustomerStatus, ProductCategory
from segmentation import recommending, rules
from segmentation.models import (
    TIER_RANK,
    CustomerSegment,
    FeedbackOutcome,
    OverrideStatus,
    Recommendation,
    RecommendationFeedback,
    RecommendationRun,
    RunStatus,
    SegmentationPolicy,
    SegmentationRun,
    SegmentHistory,
    SegmentOverride,
    ServiceStrategy,
    Tier,
)

logger = logging.getLogger(__name__)

AUDIT_POLICY_CREATE = "segmentation.policy_create"
AUDIT_RUN_REQUEST = "segmentation.run_request"
AUDIT_OVERRIDE_PROPOSE = "segmentation.override_propose"
AUDIT_OVERRIDE_APPROVE = "segmentation.override_approve"
AUDIT_OVERRIDE_REJECT = "segmentation.override_reject"
AUDIT_FEEDBACK = "segmentation.recommendation_feedback"

SEGMENTATION_RUN_TASK = "segmentation.segmentation_run_task"
RECOMMENDATION_RUN_TASK = "segmentation.recommendation_run_task"

POLICY_LOCK_KEY = int.from_bytes(b"crmsgpol", "big")
RUN_LOCK_KEY = int.from_bytes(b"crmsgrun", "big")
RECOMMENDATION_LOCK_KEY = int.from_bytes(b"crmsgrec", "big")
# Session memory for the pass's temporary table (1 M customers take about 200 MB), and memory per
# hash aggregate / join of the compute step (for this transaction only).
TEMP_BUFFERS = "256MB"
WORK_MEM = "128MB"
# Rows written by one run above which the pass refreshes the tables' planner statistics itself.
ANALYZE_AFTER_ROWS = 50_000

# Categories whose balances are assets; loans and cards are liabilities (customers.selectors agrees).
ASSET_CATEGORIES = (ProductCategory.DEPOSIT, ProductCategory.WEALTH, ProductCategory.INSURANCE)

# Where service interactions are counted: (table, time column) pairs, each row one service to the
# customer_id it names; the pass counts their UNION ALL in the look-back window. This is the one
# place to change: TODO #5, once service.ServiceRecord has landed, add ("service_servicerecord", "started_at").
SERVICE_COUNT_SOURCES = (
    ("customers_interaction", "occurred_at"),
    ("service_servicerecord", "started_at"),
)

DEFAULT_POLICY = {
    "weak_credit_ratings": ["B", "C"],
    "fair_credit_ratings": ["BB"],
}
DEFAULT_STRATEGIES = {
    Tier.VIP: {
        "service_level": "Priority service: dedicated wealth advisor, customised products, priority lane",
        "service_level_zh": "优先服务：专属理财顾问、定制产品、优先通道",  # noqa: RUF001 (Chinese punctuation)
        "dedicated_advisor": True,
        "review_every_days": 90,
        "eligible_categories": [c.value for c in ProductCategory],
        "risk_controls": "Suitability check before every wealth product; large movements reviewed by the branch",
        "risk_controls_zh": "每次购买理财产品前进行适当性核查；大额资金变动由网点复核",  # noqa: RUF001 (Chinese punctuation)
    },
    Tier.IMPORTANT: {
        "service_level": "Enhanced service: named relationship manager, yearly financial review",
        "service_level_zh": "增强服务：指定客户经理，每年一次财务检视",  # noqa: RUF001 (Chinese punctuation)
        "dedicated_advisor": False,
        "review_every_days": 180,
        "eligible_categories": [c.value for c in ProductCategory],
        "risk_controls": "Suitability check before every wealth product",
        "risk_controls_zh": "每次购买理财产品前进行适当性核查",
    },
    Tier.GENERAL: {
        "service_level": "Standard service: standard deposit, wealth and insurance products",
        "service_level_zh": "标准服务：标准存款、理财与保险产品",  # noqa: RUF001 (Chinese punctuation)
        "dedicated_advisor": False,
        "review_every_days": 365,
        "eligible_categories": [ProductCategory.DEPOSIT.value, ProductCategory.WEALTH.value,
                                ProductCategory.INSURANCE.value, ProductCategory.CARD.value],
        "risk_controls": "Standard suitability assessment",
        "risk_controls_zh": "标准适当性评估",
    },
}

# Columns of seg_new written to CustomerSegment, in order.
SEGMENT_COLUMNS = (
    "customer_id", "branch_id", "value_class", "behaviour_class", "risk_class", "computed_tier", "tier",
    "value_rule", "behaviour_rule", "override_id", "amount_cny", "transaction_count", "service_count",
    "last_transaction_at", "assets_cny", "large_movements", "monthly_outflow_cny", "account_changes",
    "credit_rating", "risk_points", "annual_margin_cny", "retention_pct", "clv_cny", "fingerprint",
)


# --- Policy and strategies -------------------------------------------------------------------


def segmentation_defaults_ensure() -> SegmentationPolicy:
    """Create policy version 1 and the three tier strategies with the documented defaults if missing."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [POLICY_LOCK_KEY])
        policy = SegmentationPolicy.objects.order_by("-version").first()
        if policy is None:
            policy = SegmentationPolicy.objects.create(version=1, **DEFAULT_POLICY)
        for tier, defaults in DEFAULT_STRATEGIES.items():
            ServiceStrategy.objects.get_or_create(tier=tier, defaults=defaults)
    return policy


def segmentation_policy_latest() -> SegmentationPolicy:
    policy = SegmentationPolicy.objects.order_by("-version").first()
    if policy is None:
        raise ApplicationError(ErrorCode.UNAVAILABLE, _("No segmentation policy is configured."))
    return policy


POLICY_NUMBER_FIELDS = tuple(
    field.name for field in SegmentationPolicy._meta.concrete_fields
    if field.name not in ("id", "version", "created_at", "created_by")
)


@transaction.atomic
def segmentation_policy_create(*, by: User, **numbers) -> SegmentationPolicy:
    """Add a new policy version (latest + 1) from the latest one's numbers changed by ``numbers``."""
    if not permissions.is_admin(by):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    unknown = sorted(set(numbers) - set(POLICY_NUMBER_FIELDS))
    if unknown:
        raise ApplicationError.invalid(_("Unknown policy field."), field=unknown[0])
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [POLICY_LOCK_KEY])
    latest = SegmentationPolicy.objects.order_by("-version").first()
    values = {name: getattr(latest, name) for name in POLICY_NUMBER_FIELDS} if latest else dict(DEFAULT_POLICY)
    values.update(numbers)
    policy = SegmentationPolicy(version=(latest.version if latest else 0) + 1, created_by=by, **values)
    if policy.churn_inactive_days > policy.lookback_days:
        raise ApplicationError.invalid(
            _("The churn period cannot be longer than the look-back window."), field="churn_inactive_days"
        )
    policy.full_clean(exclude=["version", "created_by"])
    policy.save(force_insert=True)
    audit_record(actor=by, action=AUDIT_POLICY_CREATE, target=policy,
                 detail={"version": policy.version, **{k: str(v) for k, v in numbers.items()}})
    return policy


# --- The classification pass -------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentationRunResult:
    run_id: int
    policy_version: int
    customers_classified: int
    customers_changed: int
    seconds: float


def _tier_rank_sql(column: str) -> str:
    whens = " ".join(f"WHEN '{tier.value}' THEN {rank}" for tier, rank in TIER_RANK.items())
    return f"(CASE {column} {whens} ELSE 0 END)"


def _lower_tier_sql(column: str) -> str:
    return (f"(CASE {column} WHEN '{Tier.VIP.value}' THEN '{Tier.IMPORTANT.value}' "
            f"ELSE '{Tier.GENERAL.value}' END)")


FINGERPRINTED_COLUMNS = (
    "branch_id", "value_class", "behaviour_class", "risk_class", "computed_tier", "tier", "value_rule",
    "behaviour_rule",
    "override_id", "amount_cny", "transaction_count", "service_count", "last_transaction_at", "assets_cny",
    "large_movements", "monthly_outflow_cny", "account_changes", "credit_rating", "risk_points",
    "annual_margin_cny", "retention_pct", "clv_cny",
)


def classification_select_sql(*, scoped: bool) -> str:
    """The SELECT computing every customer's figures, classes, rules, tier and CLV (parameters by name).

    Used by the pass (into a temporary table) and by the benchmark; only constants of this module
    are formatted in, values are parameters.

    ``OFFSET 0`` closes ``classified``, ``tiered`` and ``final``: without it PostgreSQL inlines each
    step into the next, and every use of a class (the tier's CASE, the retention join, the
    fingerprint, the pass's change test) evaluates the nested CASE expressions again. Computed once
    per row instead, the pass at 100k went from 3.0 s to 2.0 s (its one-statement reference: 1.2-1.5 s).
    """
    txn_scope = "AND t.customer_id = ANY(%(customer_ids)s)" if scoped else ""
    service_scope = "AND customer_id = ANY(%(customer_ids)s)" if scoped else ""
    holding_scope = "AND h.customer_id = ANY(%(customer_ids)s)" if scoped else ""
    customer_scope = "WHERE c.id = ANY(%(customer_ids)s)" if scoped else ""
    services_union = " UNION ALL ".join(
        f"SELECT customer_id FROM {table} WHERE {column} >= %(since)s AND {column} < %(until)s {service_scope}"  # noqa: S608
        for table, column in SERVICE_COUNT_SOURCES
    )
    fingerprinted = ", ".join(f"f.{column}" for column in FINGERPRINTED_COLUMNS)
    margin_case = " ".join(
        f"WHEN '{category.value}' THEN %(margin_{category.value}_pct)s" for category in ProductCategory
    )
    # The thresholds come from segmentation.rules, which also explains them on the 360 page.
    value_sql = rules.value_class_sql()
    value_rule_sql = rules.value_rule_sql()
    behaviour_rule_sql = f"""CASE
            WHEN f.status = %(closed)s THEN 'churned_closed'
            WHEN (f.last_transaction_at IS NULL OR f.last_transaction_at < %(churn_before)s)
                 AND (f.customer_since IS NULL OR f.customer_since < %(churn_before_date)s) THEN 'churned_inactive'
            WHEN {rules.active_sql()} THEN 'active_default'
            WHEN f.last_transaction_at IS NULL THEN 'potential_new'
            ELSE 'potential_default' END"""
    risk_points_sql = rules.risk_points_sql()
    return f"""
    WITH txn AS (
        SELECT t.customer_id,
               sum(t.amount) AS amount_cny,
               count(*) AS transaction_count,
               max(t.occurred_at) AS last_transaction_at,
               count(*) FILTER (WHERE t.amount >= %(large_movement_cny)s) AS large_movements,
               coalesce(sum(t.amount) FILTER (WHERE t.direction = 'out'), 0) AS outflow_cny
        FROM customers_transaction t
        WHERE t.occurred_at >= %(since)s AND t.occurred_at < %(until)s {txn_scope}
        GROUP BY t.customer_id
    ), services AS (
        SELECT s.customer_id, count(*) AS service_count FROM ({services_union}) s GROUP BY s.customer_id
    ), held AS (
        SELECT h.customer_id,
               coalesce(sum(h.balance) FILTER (
                   WHERE (h.closed_on IS NULL OR h.closed_on > %(as_of_date)s)
                     AND p.category = ANY(%(asset_categories)s)), 0) AS assets_cny,
               coalesce(sum(h.balance * (CASE p.category {margin_case} ELSE 0 END)) FILTER (
                   WHERE h.closed_on IS NULL OR h.closed_on > %(as_of_date)s), 0) / 100 AS annual_margin_cny,
               count(*) FILTER (WHERE h.opened_on >= %(since_date)s AND h.opened_on <= %(as_of_date)s)
               + count(*) FILTER (WHERE h.closed_on >= %(since_date)s AND h.closed_on <= %(as_of_date)s)
                   AS account_changes
        FROM customers_holding h JOIN customers_product p ON p.id = h.product_id
        WHERE h.opened_on <= %(as_of_date)s {holding_scope}
        GROUP BY h.customer_id
    ), figures AS (
        SELECT c.id AS customer_id, c.branch_id, c.status, c.customer_since, c.credit_rating,
               coalesce(txn.amount_cny, 0) AS amount_cny,
               coalesce(txn.transaction_count, 0) AS transaction_count,
               coalesce(services.service_count, 0) AS service_count,
               txn.last_transaction_at,
               coalesce(held.assets_cny, 0) AS assets_cny,
               coalesce(txn.large_movements, 0) AS large_movements,
               round(coalesce(txn.outflow_cny, 0) * 365.0 / (12 * %(lookback_days)s), 2) AS monthly_outflow_cny,
               coalesce(held.account_changes, 0) AS account_changes,
               coalesce(held.annual_margin_cny, 0) AS annual_margin_cny
        FROM customers_customer c
        LEFT JOIN txn ON txn.customer_id = c.id
        LEFT JOIN services ON services.customer_id = c.id
        LEFT JOIN held ON held.customer_id = c.id
        {customer_scope}
    ), classified AS (
        SELECT f.*, {value_sql} AS value_class, {value_rule_sql} AS value_rule,
               {behaviour_rule_sql} AS behaviour_rule, {risk_points_sql} AS risk_points
        FROM figures f
        OFFSET 0
    ), tiered AS (
        SELECT k.*,
               split_part(k.behaviour_rule, '_', 1) AS behaviour_class,
               CASE WHEN k.risk_points >= 2 THEN 'high' WHEN k.risk_points = 1 THEN 'medium' ELSE 'low' END
                   AS risk_class,
               CASE WHEN k.behaviour_rule LIKE 'churned%%' THEN {_lower_tier_sql("k.value_class")}
                    ELSE k.value_class END AS computed_tier
        FROM classified k
        OFFSET 0
    ), overrides AS (
        SELECT DISTINCT ON (o.customer_id) o.customer_id, o.id, o.tier
        FROM segmentation_segmentoverride o
        WHERE o.status = 'approved' AND o.starts_on <= %(as_of_date)s AND o.expires_on >= %(as_of_date)s
        ORDER BY o.customer_id, o.decided_at DESC, o.id DESC
    )
    , final AS (
        SELECT t.customer_id, t.branch_id, t.value_class, t.behaviour_class, t.risk_class, t.computed_tier,
               coalesce(ov.tier, t.computed_tier) AS tier, t.value_rule, t.behaviour_rule, ov.id AS override_id,
               t.amount_cny, t.transaction_count, t.service_count, t.last_transaction_at, t.assets_cny,
               t.large_movements, t.monthly_outflow_cny, t.account_changes, t.credit_rating, t.risk_points,
               round(t.annual_margin_cny, 2) AS annual_margin_cny,
               CASE WHEN t.status = %(closed)s THEN 0 ELSE rt.retention_pct END AS retention_pct,
               CASE WHEN t.status = %(closed)s THEN 0
                    ELSE round(t.annual_margin_cny * rt.annuity, 2) END AS clv_cny
        FROM tiered t
        LEFT JOIN overrides ov ON ov.customer_id = t.customer_id
        JOIN (VALUES ('vip', %(retention_vip_pct)s::numeric, %(annuity_vip)s::numeric),
                     ('important', %(retention_important_pct)s::numeric, %(annuity_important)s::numeric),
                     ('general', %(retention_general_pct)s::numeric, %(annuity_general)s::numeric))
            AS rt (tier, retention_pct, annuity) ON rt.tier = t.computed_tier
        OFFSET 0
    )
    SELECT f.*, hashtextextended(concat_ws('|', {fingerprinted}), 0) AS fingerprint FROM final f
    """  # noqa: S608


def clv_annuity(*, retention_pct: Decimal, discount_rate_pct: Decimal, horizon_years: int) -> Decimal:
    """Sum over t = 1..H of q^t with q = retention / (1 + discount): CLV = annual margin x this factor."""
    q = (Decimal(retention_pct) / 100) / (1 + Decimal(discount_rate_pct) / 100)
    if q >= 1:
        return Decimal(horizon_years)
    return (q * (1 - q**horizon_years) / (1 - q)).quantize(Decimal("0.0000000001"))


def classification_params(*, policy: SegmentationPolicy, as_of: datetime,
                          customer_ids: list[int] | None = None) -> dict:
    since = as_of - timedelta(days=policy.lookback_days)
    churn_before = as_of - timedelta(days=policy.churn_inactive_days)
    params = {
        name: getattr(policy, name) for name in (
            "vip_min_amount_cny", "vip_min_services", "important_min_amount_cny", "important_min_assets_cny",
            "active_min_transactions", "active_min_amount_cny", "weak_credit_ratings", "fair_credit_ratings",
            "large_movement_cny", "outflow_to_assets_pct", "outflow_min_monthly_cny", "account_changes_max",
            "retention_vip_pct", "retention_important_pct", "retention_general_pct", "discount_rate_pct",
            "clv_horizon_years", "lookback_days",
        )
    }
    params.update({f"margin_{category.value}_pct": getattr(policy, f"margin_{category.value}_pct")
                   for category in ProductCategory})
    params.update({
        f"annuity_{tier}": clv_annuity(retention_pct=getattr(policy, f"retention_{tier}_pct"),
                                       discount_rate_pct=policy.discount_rate_pct,
                                       horizon_years=policy.clv_horizon_years)
        for tier in ("vip", "important", "general")
    })
    params.update({
        "since": since,
        "until": as_of,
        "since_date": timezone.localdate(since),
        "as_of_date": timezone.localdate(as_of),
        "churn_before": churn_before,
        "churn_before_date": timezone.localdate(churn_before),
        "asset_categories": [category.value for category in ASSET_CATEGORIES],
        "closed": CustomerStatus.CLOSED.value,
        "customer_ids": customer_ids,
    })
    return params


@transaction.atomic
def segmentation_run_queue(*, customer_ids: list[int] | None = None, by: User | None = None) -> None:
    """Queue a classification pass (everyone, or these customers) for a worker; audit who asked."""
    if by is not None:
        if not permissions.is_admin(by):
            raise ApplicationError(ErrorCode.PERMISSION_DENIED)
        audit_record(actor=by, action=AUDIT_RUN_REQUEST,
                     detail={"customers": None if customer_ids is None else len(customer_ids)})
    outbox_enqueue(task_name=SEGMENTATION_RUN_TASK,
                   kwargs={"customer_ids": None if customer_ids is None else [int(pk) for pk in customer_ids]})


def segmentation_run(*, as_of: datetime | None = None, customer_ids: list[int] | None = None,
                     progress=None, transactions_seen_up_to: int | None = None) -> SegmentationRunResult:
    """Classify all customers (or ``customer_ids``) in one set-based pass; see the module docstring.

    Runs are serialised by a session advisory lock: a second concurrent run raises CONFLICT.
    Progress is committed between steps (the run row), so an admin can watch it.
    Call outside a transaction in production (the steps commit one by one); inside one (tests)
    the steps are savepoints. A full run records the newest transaction id it saw; a run for some
    customers only what ``transactions_seen_up_to`` says (segmentation_run_touched passes it).
    """
    started = time.monotonic()
    as_of = as_of or timezone.now()
    if timezone.is_naive(as_of):
        as_of = timezone.make_aware(as_of)
    scoped = customer_ids is not None
    customer_ids = sorted({int(pk) for pk in customer_ids}) if scoped else None

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [RUN_LOCK_KEY])
        if not cursor.fetchone()[0]:
            raise ApplicationError(ErrorCode.CONFLICT, _("A segmentation run is already in progress."))
    run = None
    try:
        policy = segmentation_policy_latest()
        with transaction.atomic():
            # Any run still "running" belongs to a process that died: we hold the lock now.
            SegmentationRun.objects.filter(status=RunStatus.RUNNING).update(
                status=RunStatus.FAILED, error="interrupted", finished_at=timezone.now()
            )
            max_transaction_id = _max_transaction_id() if not scoped else (transactions_seen_up_to or 0)
            run = SegmentationRun.objects.create(
                kind=SegmentationRun.Kind.INCREMENTAL if scoped else SegmentationRun.Kind.FULL,
                policy=policy, as_of=as_of, step=_("computing classes"), max_transaction_id=max_transaction_id,
            )

        def step(name: str, **counts) -> None:
            run.steps_done += 1
            run.step = name
            for key, value in counts.items():
                setattr(run, key, value)
            with transaction.atomic():
                run.save(update_fields=["steps_done", "step", *counts])
            if progress:
                progress(run)

        params = classification_params(policy=policy, as_of=as_of, customer_ids=customer_ids)
        _temp_buffers_raise()
        with transaction.atomic(), connection.cursor() as cursor:
            # The per-customer hash aggregates and joins fit in memory instead of spilling to disk.
            cursor.execute("SELECT set_config('work_mem', %s, true)", [WORK_MEM])
            # Serial: the parallel plan PostgreSQL picks splits only the customer scan, and every worker
            # builds each per-customer aggregate (transactions, holdings, services) again for its own
            # hash join: three times the work on two cores (2.7 s against 2.0 s serial at 100k).
            cursor.execute("SELECT set_config('max_parallel_workers_per_gather', '0', true)")
            cursor.execute("DROP TABLE IF EXISTS seg_new")
            cursor.execute(_seg_new_sql(scoped=scoped), {**params, "policy_id": policy.pk})
            cursor.execute("ANALYZE seg_new")
            cursor.execute(COUNT_SCOPED_SQL if scoped else COUNT_ALL_SQL, params)
            classified = cursor.fetchone()[0]
        step(_("classes computed"), customers_classified=classified)

        with transaction.atomic(), connection.cursor() as cursor:
            changed = _write_history(cursor=cursor, run=run, policy=policy, as_of=as_of)
            step(_("history written"), customers_changed=changed)
            written = _write_segments(cursor=cursor, run=run, policy=policy, as_of=as_of)
            if written > ANALYZE_AFTER_ROWS:
                # Fresh statistics now, not when autovacuum gets round to it: the pages' plans depend on them.
                cursor.execute("ANALYZE segmentation_customersegment")
                cursor.execute("ANALYZE segmentation_segmenthistory")
            cursor.execute("DROP TABLE IF EXISTS seg_new")
            segment_counts_refresh(cursor=cursor, run=run)
            run.status = RunStatus.DONE
            run.steps_done = run.steps_total
            run.step = _("done")
            run.finished_at = timezone.now()
            run.save(update_fields=["status", "steps_done", "step", "finished_at"])
        if progress:
            progress(run)
    except Exception as error:
        if run is not None and run.status != RunStatus.DONE:
            with transaction.atomic():
                SegmentationRun.objects.filter(pk=run.pk).update(
                    status=RunStatus.FAILED, error=f"{type(error).__name__}: {error}"[:500],
                    finished_at=timezone.now(),
                )
        raise
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [RUN_LOCK_KEY])

    seconds = time.monotonic() - started
    logger.info("segmentation run %s: classified=%d changed=%d policy=v%d %.1fs",
                run.pk, run.customers_classified, run.customers_changed, policy.version, seconds)
    return SegmentationRunResult(run_id=run.pk, policy_version=policy.version,
                                 customers_classified=run.customers_classified,
                                 customers_changed=run.customers_changed, seconds=seconds)


SEGMENT_COUNTS_SQL = """
    INSERT INTO segmentation_segmentcount (run_id, branch_id, tier, value_class, behaviour_class, risk_class, customers)
    SELECT %(run_id)s, branch_id, tier, value_class, behaviour_class, risk_class, count(*)
    FROM segmentation_customersegment GROUP BY branch_id, tier, value_class, behaviour_class, risk_class
"""
SEGMENT_MOVES_SQL = """
    INSERT INTO segmentation_segmentmovecount (run_id, branch_id, from_tier, to_tier, customers)
    SELECT h.run_id, s.branch_id, h.from_tier, h.to_tier, count(*)
    FROM segmentation_segmenthistory h JOIN segmentation_customersegment s ON s.customer_id = h.customer_id
    WHERE h.run_id = %(run_id)s AND h.from_tier <> h.to_tier
    GROUP BY h.run_id, s.branch_id, h.from_tier, h.to_tier
"""


def segment_counts_refresh(*, cursor, run: SegmentationRun | None) -> None:
    """Rewrite the overview's counts from CustomerSegment (and, after a full run, its tier moves).

    One GROUP BY over the segments' (branch, tier, classes) index; the page then reads a few
    hundred rows instead of counting every customer on each view. Call inside the transaction
    that changed the segments.
    """
    cursor.execute("DELETE FROM segmentation_segmentcount")
    cursor.execute(SEGMENT_COUNTS_SQL, {"run_id": run.pk if run is not None else None})
    if run is not None and run.kind == SegmentationRun.Kind.FULL:
        cursor.execute("DELETE FROM segmentation_segmentmovecount")
        cursor.execute(SEGMENT_MOVES_SQL, {"run_id": run.pk})


def _temp_buffers_raise() -> None:
    """Keep seg_new in memory (PostgreSQL's 8 MB default spills it to disk); possible only before a
    session's first temporary table, so a later run in the same session keeps what it has."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET temp_buffers = %s", [TEMP_BUFFERS])
    except DatabaseError:
        pass


def _max_transaction_id() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM customers_transaction")
        return cursor.fetchone()[0]


COUNT_ALL_SQL = "SELECT count(*) FROM customers_customer"
COUNT_SCOPED_SQL = "SELECT count(*) FROM customers_customer WHERE id = ANY(%(customer_ids)s)"
VALUE_COLUMNS = tuple(column for column in SEGMENT_COLUMNS if column != "customer_id")
CLASS_COLUMNS = ("tier", "value_class", "behaviour_class", "risk_class")


def _seg_new_sql(*, scoped: bool) -> str:
    """CREATE the temporary table of the computed rows that are new or changed.

    Each computed row is joined once to the current row; values are compared through their
    fingerprint, so the join hashes a few narrow columns instead of every figure. Only new and
    changed rows are kept, so a nightly run writes (and then reads back) the few that moved, not
    the million that did not.
    """
    columns = ", ".join(f"n.{column}" for column in SEGMENT_COLUMNS)
    classes_differ = f"(c.{', c.'.join(CLASS_COLUMNS)}) IS DISTINCT FROM (n.{', n.'.join(CLASS_COLUMNS)})"
    return f"""
        CREATE TEMPORARY TABLE seg_new AS
        SELECT * FROM (
        SELECT {columns},
               c.customer_id IS NULL AS is_new,
               c.customer_id IS NOT NULL AND ((c.fingerprint, c.policy_id)
                   IS DISTINCT FROM (n.fingerprint, %(policy_id)s::bigint) OR {classes_differ}) AS values_changed,
               c.customer_id IS NULL OR {classes_differ} AS classes_changed,
               c.tier AS old_tier, c.value_class AS old_value_class, c.behaviour_class AS old_behaviour_class,
               c.risk_class AS old_risk_class
        FROM ({classification_select_sql(scoped=scoped)}) n
        LEFT JOIN segmentation_customersegment c ON c.customer_id = n.customer_id
        ) computed
        WHERE computed.is_new OR computed.values_changed
    """  # noqa: S608


def _write_history(*, cursor, run: SegmentationRun, policy: SegmentationPolicy, as_of: datetime) -> int:
    """One row per customer whose classes or tier differ from the current row (or who has none)."""
    cursor.execute(
        f"""
        INSERT INTO segmentation_segmenthistory
            (customer_id, run_id, policy_id, changed_at, from_tier, to_tier, from_tier_rank, to_tier_rank,
             from_value_class, to_value_class, from_behaviour_class, to_behaviour_class,
             from_risk_class, to_risk_class, override_id)
        SELECT n.customer_id, %(run_id)s, %(policy_id)s, %(as_of)s, coalesce(n.old_tier, ''), n.tier,
               {_tier_rank_sql("n.old_tier")}, {_tier_rank_sql("n.tier")},
               coalesce(n.old_value_class, ''), n.value_class, coalesce(n.old_behaviour_class, ''),
               n.behaviour_class, coalesce(n.old_risk_class, ''), n.risk_class, n.override_id
        FROM seg_new n
        WHERE n.classes_changed
        """,  # noqa: S608
        {"run_id": run.pk, "policy_id": policy.pk, "as_of": as_of},
    )
    return cursor.rowcount


def _write_segments(*, cursor, run: SegmentationRun, policy: SegmentationPolicy, as_of: datetime) -> int:
    """Write back only what changed: UPDATE ... FROM the changed rows, INSERT the new ones.

    ``run`` and ``as_of`` of a row are those of the run that last changed it. Return rows written.
    """
    assignments = ", ".join(f"{column} = n.{column}" for column in VALUE_COLUMNS)
    params = {"run_id": run.pk, "policy_id": policy.pk, "as_of": as_of}
    cursor.execute(
        f"""
        UPDATE segmentation_customersegment c
        SET {assignments}, policy_id = %(policy_id)s, run_id = %(run_id)s, as_of = %(as_of)s
        FROM seg_new n
        WHERE c.customer_id = n.customer_id AND n.values_changed
        """,  # noqa: S608
        params,
    )
    updated = cursor.rowcount
    cursor.execute(
        f"""
        INSERT INTO segmentation_customersegment ({", ".join(SEGMENT_COLUMNS)}, policy_id, run_id, as_of)
        SELECT {", ".join(f"n.{column}" for column in SEGMENT_COLUMNS)}, %(policy_id)s, %(run_id)s, %(as_of)s
        FROM seg_new n
        WHERE n.is_new
        """,  # noqa: S608
        params,
    )
    return updated + cursor.rowcount


def segmentation_run_touched(*, as_of: datetime | None = None) -> SegmentationRunResult | None:
    """Reclassify the customers with transactions newer than the last finished run saw; None if none.

    Transactions are append-only with increasing ids, so "newer" is ``id > max_transaction_id``
    (served by the primary key). The nightly full run catches anything this misses.
    """
    last_seen = (SegmentationRun.objects.filter(status=RunStatus.DONE)
                 .aggregate(last=Max("max_transaction_id"))["last"])
    if last_seen is None:
        return None
    seen_up_to = _max_transaction_id()
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT customer_id FROM customers_transaction WHERE id > %s AND id <= %s",
                       [last_seen, seen_up_to])
        customer_ids = [row[0] for row in cursor.fetchall()]
    if not customer_ids:
        return None
    return segmentation_run(as_of=as_of, customer_ids=customer_ids, transactions_seen_up_to=seen_up_to)


# --- Overrides (maker-checker) ------------------------------------------------------------------


@transaction.atomic
def segment_override_propose(*, customer: Customer, by: User, tier: str, reason: str, expires_on: date,
                             starts_on: date | None = None) -> SegmentOverride:
    """Propose a manual tier for the customer; a branch manager of the branch (or an admin) approves it.

    The caller has fetched ``customer`` through customers.selectors.customer_get_visible_to for ``by``.
    """
    if not permissions.can_propose_segment_override(by):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    if tier not in Tier.values:
        raise ApplicationError.invalid(_("Choose a tier from the list."), field="tier")
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError.invalid(_("Give the reason for the override."), field="reason")
    if len(reason) > SegmentOverride._meta.get_field("reason").max_length:
        raise ApplicationError.invalid(_("The reason is too long."), field="reason")
    today = timezone.localdate()
    starts_on = starts_on or today
    policy = segmentation_policy_latest()
    if starts_on < today:
        raise ApplicationError.invalid(_("An override cannot start in the past."), field="starts_on")
    if expires_on < starts_on:
        raise ApplicationError.invalid(_("The override must end on or after its first day."), field="expires_on")
    if (expires_on - starts_on).days + 1 > policy.override_max_days:
        raise ApplicationError.invalid(
            _("An override lasts at most %(days)d days.") % {"days": policy.override_max_days}, field="expires_on"
        )
    if SegmentOverride.objects.filter(customer=customer, status=OverrideStatus.PROPOSED).exists():
        raise ApplicationError(ErrorCode.CONFLICT, _("An override for this customer is already waiting for approval."))
    override = SegmentOverride.objects.create(
        customer=customer, tier=tier, reason=reason, starts_on=starts_on, expires_on=expires_on, proposed_by=by,
    )
    audit_record(actor=by, action=AUDIT_OVERRIDE_PROPOSE, target=override,
                 detail={"customer_id": customer.pk, "tier": tier, "expires_on": expires_on.isoformat()})
    return override


def _decide(*, override_id: int, by: User) -> SegmentOverride:
    if not permissions.can_approve_segment_override(by):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    override = (SegmentOverride.objects.select_for_update(of=("self",)).select_related("customer")
                .get(pk=override_id))
    if not permissions.is_admin(by) and override.customer.branch_id != by.branch_id:
        raise SegmentOverride.DoesNotExist
    if override.proposed_by_id == by.pk:
        raise ApplicationError(ErrorCode.PERMISSION_DENIED, _("Someone other than the proposer must decide."))
    if override.status != OverrideStatus.PROPOSED:
        raise ApplicationError(ErrorCode.INVALID_TRANSITION)
    return override


@transaction.atomic
def segment_override_approve(*, override_id: int, by: User, note: str = "") -> SegmentOverride:
    """Approve a proposed override; if in force today, the customer's tier changes now (with history)."""
    override = _decide(override_id=override_id, by=by)
    override.status = OverrideStatus.APPROVED
    override.decided_by = by
    override.decided_at = timezone.now()
    override.decision_note = (note or "").strip()[:500]
    override.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    if override.starts_on <= timezone.localdate() <= override.expires_on:
        _apply_override(override=override)
    audit_record(actor=by, action=AUDIT_OVERRIDE_APPROVE, target=override,
                 detail={"customer_id": override.customer_id, "tier": override.tier})
    return override


@transaction.atomic
def segment_override_reject(*, override_id: int, by: User, note: str = "") -> SegmentOverride:
    override = _decide(override_id=override_id, by=by)
    override.status = OverrideStatus.REJECTED
    override.decided_by = by
    override.decided_at = timezone.now()
    override.decision_note = (note or "").strip()[:500]
    override.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    audit_record(actor=by, action=AUDIT_OVERRIDE_REJECT, target=override,
                 detail={"customer_id": override.customer_id, "tier": override.tier})
    return override


def _apply_override(*, override: SegmentOverride) -> None:
    segment = CustomerSegment.objects.select_for_update().filter(customer_id=override.customer_id).first()
    if segment is None:
        return  # not classified yet: the next pass applies the override
    if segment.tier != override.tier:
        SegmentHistory.objects.create(
            customer_id=segment.customer_id, run=None, policy_id=segment.policy_id, changed_at=timezone.now(),
            from_tier=segment.tier, to_tier=override.tier,
            from_tier_rank=TIER_RANK[Tier(segment.tier)], to_tier_rank=TIER_RANK[Tier(override.tier)],
            from_value_class=segment.value_class, to_value_class=segment.value_class,
            from_behaviour_class=segment.behaviour_class, to_behaviour_class=segment.behaviour_class,
            from_risk_class=segment.risk_class, to_risk_class=segment.risk_class, override=override,
        )
    segment.tier = override.tier
    segment.override = override
    segment.save(update_fields=["tier", "override"])
    with connection.cursor() as cursor:
        segment_counts_refresh(cursor=cursor, run=None)


# --- Recommendations -----------------------------------------------------------------------------


@transaction.atomic
def recommendation_run_queue(*, customer_ids: list[int] | None = None) -> None:
    outbox_enqueue(task_name=RECOMMENDATION_RUN_TASK, queue="scoring",
                   kwargs={"customer_ids": None if customer_ids is None else [int(pk) for pk in customer_ids]})


def recommendation_run(*, customer_ids: list[int] | None = None, as_of: date | None = None,
                       top_n: int = 3) -> RecommendationRun:
    """Recompute the top products for all customers (or ``customer_ids``) and replace them in bulk.

    Item-to-item collaborative filtering over all open holdings (segmentation.recommending);
    filtered by suitability, products held and the tier's strategy. Serialised by an advisory lock.
    """
    as_of = as_of or timezone.localdate()
    policy = SegmentationPolicy.objects.order_by("-version").first()
    cooloff_days = (policy.declined_cooloff_days if policy is not None
                    else SegmentationPolicy._meta.get_field("declined_cooloff_days").default)
    declined_since = datetime.combine(as_of - timedelta(days=cooloff_days), datetime.min.time(),
                                      tzinfo=timezone.get_current_timezone())
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [RECOMMENDATION_LOCK_KEY])
            if not cursor.fetchone()[0]:
                raise ApplicationError(ErrorCode.CONFLICT, _("A recommendation run is already in progress."))
        run = RecommendationRun.objects.create()
        # A failure rolls the whole run back (the old recommendations stay).
        with connection.cursor() as cursor:
            stats = recommending.recommend_and_write(cursor=cursor, run_id=run.pk, as_of=as_of,
                                                     customer_ids=customer_ids, top_n=top_n,
                                                     declined_since=declined_since)
        run.status = RunStatus.DONE
        run.customers = stats.customers
        run.recommendations = stats.recommendations
        run.holdings_used = stats.holdings
        run.finished_at = timezone.now()
        run.save()
    logger.info("recommendation run %s: customers=%d recommendations=%d phases=%s",
                run.pk, run.customers, run.recommendations, stats.seconds_by_phase)
    run.seconds_by_phase = stats.seconds_by_phase
    return run


@transaction.atomic
def recommendation_feedback_record(*, recommendation: Recommendation, outcome: str, by: User
                                   ) -> RecommendationFeedback:
    """Record what the customer made of a recommendation (kept for retraining).

    The caller has fetched the recommendation through selectors.recommendation_get_visible_to.
    """
    if not permissions.can_record_recommendation_feedback(by):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    if outcome not in FeedbackOutcome.values:
        raise ApplicationError.invalid(_("Choose offered, accepted or declined."), field="outcome")
    feedback = RecommendationFeedback.objects.create(
        customer_id=recommendation.customer_id, product_id=recommendation.product_id, outcome=outcome,
        rank=recommendation.rank, score=recommendation.score, reason=recommendation.reason,
        run_id=recommendation.run_id, recorded_by=by,
    )
    audit_record(actor=by, action=AUDIT_FEEDBACK, target=feedback,
                 detail={"customer_id": recommendation.customer_id, "product_id": recommendation.product_id,
                         "outcome": outcome})
    return feedback


def segmentation_nightly(*, as_of: datetime | None = None) -> SegmentationRunResult:
    """The nightly job: the full classification pass, then the recommendations (they use the tiers)."""
    result = segmentation_run(as_of=as_of)
    recommendation_run_queue()
    return result

