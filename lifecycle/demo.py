"""Demo churn for seed_demo: a realistic, non-linear churn signal, then stages, a model and scores.

``demo_plant_churn`` (after complaints, before classification) picks churners among the open,
transacting customers with a probability that depends non-linearly on who they are:

  young (under 32) with at most two products       +1.6   tenure under 3 years           +1.2
  low assets (< 50,000) and a weak credit rating    +1.5   one product only               +0.8
  a complaint while holding 200,000 or more         +2.2   55+ and a customer for 10+ y   -1.4

(log-odds, from a base of -3.0). A churner leaves on a day C in the last 540 days (after any
complaint): 70 % close the relationship (status closed, closed_on = C, open holdings closed on C,
nothing after C), 30 % just stop transacting on C. Before C they disengage: their transactions
thin out over the 240 days before C (kept with a probability falling from 1 to 0.1), and half of
them close one product 45 days before. Deterministic: every draw is a hash of the seed and the
row's external number, so a reseed gives the same data whatever ids the database hands out.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.db import connection, transaction

from core.errors import ApplicationError
from customers.models import Customer, Holding, Interaction, Transaction
from lifecycle import services

HISTORY_DAYS = 540
THINNING_DAYS = 240


def _uniform(tag: str, column: str = "c.external_id") -> str:
    """A deterministic uniform draw in [0, 1) from the seed, a tag and a row id."""
    return (f"(('x' || substr(md5(%(seed)s::text || ':{tag}:' || {column}::text), 1, 12))::bit(48)::bigint"
            f" / 281474976710656.0)")


@transaction.atomic
def demo_plant_churn(*, seed: int, as_of: date) -> dict:
    """Plant churners with dates (see the module docstring); return counts."""
    customer, holding = Customer._meta.db_table, Holding._meta.db_table
    txn, interaction = Transaction._meta.db_table, Interaction._meta.db_table
    params = {"seed": seed, "as_of": as_of, "history": HISTORY_DAYS, "thin": THINNING_DAYS}
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS pg_temp.demo_churn")
        cursor.execute(f"""
            CREATE TEMP TABLE demo_churn ON COMMIT DROP AS
            WITH base AS (
                SELECT c.id,
                       date_part('year', age(%(as_of)s::date, c.birth_date)) AS age,
                       (%(as_of)s::date - c.customer_since) / 365.25 AS tenure,
                       coalesce(h.products, 0) AS products, coalesce(h.assets, 0) AS assets,
                       c.credit_rating IN ('B', 'C', 'BB') AS weak_credit,
                       cm.first_at AS complained_at,
                       {_uniform('pick')} AS u_pick, {_uniform('day')} AS u_day, {_uniform('kind')} AS u_kind,
                       {_uniform('product')} AS u_product
                FROM {customer} c
                LEFT JOIN (
                    SELECT h.customer_id, count(*) AS products,
                           sum(h.balance) FILTER (WHERE p.category IN ('deposit', 'wealth', 'insurance')) AS assets
                    FROM {holding} h JOIN customers_product p ON p.id = h.product_id
                    WHERE h.closed_on IS NULL GROUP BY h.customer_id
                ) h ON h.customer_id = c.id
                LEFT JOIN (
                    SELECT customer_id, min(received_at) AS first_at FROM complaints_complaint
                    WHERE customer_id IS NOT NULL GROUP BY customer_id
                ) cm ON cm.customer_id = c.id
                WHERE c.status = 'active' AND c.customer_since <= %(as_of)s::date - 200
                  AND EXISTS (SELECT 1 FROM {txn} t WHERE t.customer_id = c.id
                              AND t.occurred_at >= %(as_of)s::date - (%(history)s + 180))
            ), scored AS (
                SELECT b.*, -3.0
                    + 1.6 * (b.age < 32 AND b.products <= 2)::int
                    + 1.2 * (b.tenure < 3)::int
                    + 1.5 * (b.assets < 50000 AND b.weak_credit)::int
                    + 2.2 * (b.complained_at IS NOT NULL AND b.assets >= 200000)::int
                    + 0.8 * (b.products = 1)::int
                    - 1.4 * (b.age >= 55 AND b.tenure >= 10)::int AS logit
                FROM base b
            )
            SELECT s.id, s.u_kind < 0.7 AS closes, s.u_product < 0.5 AS drops_product,
                   least(%(as_of)s::date - 1, greatest(
                       %(as_of)s::date - 1 - floor(s.u_day * %(history)s)::int,
                       coalesce((s.complained_at AT TIME ZONE 'Asia/Shanghai')::date + 14, '1900-01-01'::date)
                   )) AS churn_on
            FROM scored s
            WHERE s.u_pick < 1 / (1 + exp(-s.logit))
        """, params)  # noqa: S608
        cursor.execute("CREATE INDEX ON demo_churn (id)")
        cursor.execute("ANALYZE demo_churn")
        cursor.execute("SELECT count(*), count(*) FILTER (WHERE closes) FROM demo_churn")
        churners, closing = cursor.fetchone()
        # Nothing after the day they leave; thinning activity in the months before.
        cursor.execute(f"""
            DELETE FROM {txn} t USING demo_churn d
            WHERE t.customer_id = d.id AND (
                t.occurred_at >= d.churn_on + 1
                OR (t.occurred_at >= d.churn_on - %(thin)s AND {_uniform('keep', 't.external_ref')}
                    > 0.1 + 0.9 * (d.churn_on - (t.occurred_at AT TIME ZONE 'Asia/Shanghai')::date)::float8 / %(thin)s)
            )
        """, params)  # noqa: S608
        transactions_removed = cursor.rowcount
        cursor.execute(f"""
            DELETE FROM {interaction} i USING demo_churn d
            WHERE i.customer_id = d.id AND d.closes AND i.occurred_at >= d.churn_on + 1
        """)  # noqa: S608
        cursor.execute(f"""
            DELETE FROM {holding} h USING demo_churn d
            WHERE h.customer_id = d.id AND d.closes AND h.opened_on > d.churn_on
        """)  # noqa: S608
        # Half of them close their most recent product 45 days before leaving.
        cursor.execute(f"""
            UPDATE {holding} h SET closed_on = d.churn_on - 45
            FROM demo_churn d
            WHERE h.customer_id = d.id AND d.drops_product AND h.closed_on IS NULL
              AND h.opened_on <= d.churn_on - 45
              AND h.id = (SELECT max(h2.id) FROM {holding} h2 WHERE h2.customer_id = d.id
                          AND h2.closed_on IS NULL AND h2.opened_on <= d.churn_on - 45)
        """)  # noqa: S608
        cursor.execute(f"""
            UPDATE {holding} h SET closed_on = d.churn_on
            FROM demo_churn d
            WHERE h.customer_id = d.id AND d.closes AND h.closed_on IS NULL
        """)  # noqa: S608
        cursor.execute(f"""
            UPDATE {customer} c SET status = 'closed', closed_on = d.churn_on,
                   closed_reason = 'moved to another bank', updated_at = now()
            FROM demo_churn d WHERE c.id = d.id AND d.closes
        """)  # noqa: S608
        cursor.execute("DROP TABLE IF EXISTS pg_temp.demo_churn")
    return {"churners": churners, "closed": closing, "stopped_transacting": churners - closing,
            "transactions_removed": transactions_removed}


def demo_seed_lifecycle(*, as_of: date, horizon_days: int = services.DEFAULT_HORIZON_DAYS) -> dict:
    """After classification: stages, a churn model trained on the demo history, scores and retention tasks.

    Scoring runs in this process (the chunks one after the other), as ``make run`` has no worker.
    """
    services.lifecycle_defaults_ensure()
    stages = services.stage_run(as_of=as_of)
    result = {"customers_staged": stages.customers_staged}
    try:
        outcome = services.churn_model_train(as_of=as_of - timedelta(days=horizon_days),
                                             horizon_days=horizon_days)
    except ApplicationError as error:
        return {**result, "model": None, "error": error.message}
    result.update({"model_version": outcome.model.version, "roc_auc": outcome.model.roc_auc,
                   "validation": outcome.model.validation_method,
                   "validation_customers": outcome.model.validation_customers})
    if services.churn_model_active() is not None:
        run = services.scoring_run_queue(as_of=as_of)
        services.scoring_run_plan(run_id=run.pk)
        for chunk_id in run.chunks.order_by("number").values_list("pk", flat=True):
            services.scoring_chunk_score(chunk_id=chunk_id)
        services.retention_tasks_create(run_id=run.pk)
        run.refresh_from_db()
        result.update({"customers_scored": run.customers_scored, "high_risk": run.high_risk,
                       "retention_tasks": run.tasks_created})
    return result
