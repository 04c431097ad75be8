"""Demo complaints for seed_demo: a realistic, deterministic set over the last six months, set-based.

About 3 complaints per 100 active customers (at least 60): most resolved or closed with a root
cause, some still open, some overdue and escalated; credit cards and service attitude dominate,
as in the banks' published figures (MANUAL 3.3a). One INSERT ... SELECT for the complaints and
one per kind of timeline event; deterministic for a given seed (PostgreSQL's setseed).
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count

from complaints.models import Complaint, ComplaintCategory, ComplaintEvent
from complaints.services import REFERENCE_SEQUENCE, sla_policy_active
from customers.models import Customer, CustomerStatus

DEMO_LABEL = "demo"
MONTHS = 6
# Weighted leaf categories: credit cards lead, as they do in the banks' reports.
CATEGORY_WEIGHTS = [("B0302", 30), ("B0301", 10), ("B0401", 8), ("B0402", 10), ("B0101", 8), ("B0701", 8),
                    ("B0201", 6), ("B0202", 5), ("B06", 5), ("B0703", 4), ("B99", 6)]
ROOT_CAUSE_WEIGHTS = [("C01", 28), ("C03", 18), ("C02", 14), ("C05", 10), ("C04", 8), ("C08", 6), ("C09", 5),
                      ("C10", 4), ("C11", 3), ("C99", 4)]
DESCRIPTIONS = ["信用卡年费未按承诺减免", "手机银行转账失败但已扣款", "柜台排队时间过长 服务态度差",
                "理财产品风险未充分揭示", "ATM 吞卡后未及时处理", "贷款提前还款手续复杂", "短信通知未收到",
                "催收电话频繁影响生活"]
RESOLUTIONS = ["已向客户解释并致歉 费用已退还", "已核实并更正系统记录", "已安排专人跟进并回访客户",
               "已按规定补偿 客户表示理解"]


def _weighted_case(column: str, weights: list[tuple[str, int]]) -> str:
    """A CASE choosing a value by cumulative weight on a uniform random column in [0, 1)."""
    total = sum(weight for _value, weight in weights)
    parts, running = [], 0
    for value, weight in weights:
        running += weight
        parts.append(f"WHEN {column} < {running / total:.6f} THEN '{value}'")
    return "CASE " + " ".join(parts) + f" ELSE '{weights[-1][0]}' END"


@transaction.atomic
def demo_seed_complaints(*, seed: int, as_of: datetime, count: int | None = None) -> dict:
    """Create demo complaints received over the six months before ``as_of``; return counts by status.

    ``count`` overrides the number (default: 3 per 100 active customers, at least 60). Needs
    customers (and their branches); products are used when present.
    """
    active_customers = Customer.objects.filter(status=CustomerStatus.ACTIVE).count()
    if not active_customers:
        return {"complaints": 0}
    count = count if count is not None else max(60, active_customers * 3 // 100)
    policy = sla_policy_active(at=as_of)
    category_ids = dict(ComplaintCategory.objects.values_list("code", "id"))
    weights = [(str(category_ids[code]), weight) for code, weight in CATEGORY_WEIGHTS if code in category_ids]
    fr_minutes, res_minutes = policy.first_response_minutes, policy.resolution_minutes
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [((seed % 2000) - 1000) / 1000.0])
        # ON COMMIT DROP does not fire inside an outer transaction (a test, or a second call):
        # drop any leftover first.
        cursor.execute("DROP TABLE IF EXISTS pg_temp.demo_complaint")
        cursor.execute(f"""
            CREATE TEMP TABLE demo_complaint ON COMMIT DROP AS
            WITH customers AS (
                SELECT array_agg(id ORDER BY id) AS ids, count(*) AS n FROM customers_customer WHERE status = 'active'
            ), products AS (
                SELECT array_agg(id ORDER BY id) AS ids, count(*) AS n FROM customers_product
            ), raw AS (
                SELECT g, random() AS r_customer, random() AS r_age, random() AS r_category, random() AS r_channel,
                       random() AS r_severity, random() AS r_product, random() AS r_fr, random() AS r_res,
                       random() AS r_close, random() AS r_cause, random() AS r_text
                  FROM generate_series(1, %(count)s) AS g
            ), timed AS (
                SELECT raw.*,
                       -- more complaints recently: age skewed towards 0
                       %(as_of)s::timestamptz - make_interval(secs => (raw.r_age ^ 1.3) * %(months)s * 30 * 86400)
                           AS received_at,
                       -- 85 %% answered within 24 h, the rest late
                       make_interval(secs => CASE WHEN raw.r_fr < 0.85 THEN 1800 + raw.r_fr / 0.85 * 75000
                                                  ELSE 87000 + (raw.r_fr - 0.85) * 600000 END) AS fr_delay,
                       make_interval(secs => CASE WHEN raw.r_res < 0.8 THEN 20000 + raw.r_res / 0.8 * 150000
                                                  ELSE 175000 + (raw.r_res - 0.8) * 1500000 END) AS res_delay
                  FROM raw
            )
            SELECT t.g,
                   c.ids[1 + floor(t.r_customer * c.n)::int] AS customer_id,
                   t.received_at,
                   t.received_at + make_interval(mins => %(fr)s) AS fr_due,
                   t.received_at + make_interval(mins => %(res)s) AS res_due,
                   CASE WHEN t.received_at + t.fr_delay <= %(as_of)s THEN t.received_at + t.fr_delay END AS fr_at,
                   CASE WHEN t.received_at + greatest(t.res_delay, t.fr_delay) <= %(as_of)s
                        THEN t.received_at + greatest(t.res_delay, t.fr_delay) END AS resolved_at,
                   ({_weighted_case("t.r_category", weights)})::bigint AS category_id,
                   (ARRAY['branch','phone','online','app','regulator'])[
                       1 + (CASE WHEN t.r_channel < 0.35 THEN 0 WHEN t.r_channel < 0.6 THEN 1
                                 WHEN t.r_channel < 0.75 THEN 2 WHEN t.r_channel < 0.97 THEN 3 ELSE 4 END)] AS channel,
                   CASE WHEN t.r_severity < 0.3 THEN 'low' WHEN t.r_severity < 0.8 THEN 'medium'
                        WHEN t.r_severity < 0.97 THEN 'high' ELSE 'critical' END AS severity,
                   CASE WHEN p.n > 0 AND t.r_product < 0.6 THEN p.ids[1 + floor(t.r_product / 0.6 * p.n)::int]
                        END AS product_id,
                   t.r_close, t.r_cause, t.r_text
              FROM timed t CROSS JOIN customers c CROSS JOIN products p
        """, {"count": count, "as_of": as_of, "months": MONTHS, "fr": fr_minutes, "res": res_minutes})  # noqa: S608
        cursor.execute(f"""
            INSERT INTO complaints_complaint (
                reference, customer_id, contact_name, contact_phone, branch_id, channel, category_id, severity,
                product_id, description, status, version, received_at, first_response_at, resolved_at, closed_at,
                resolution_clock_started_at, sla_policy_id, sla_rule_id, first_response_due_at, resolution_due_at,
                original_resolution_due_at, first_resolved_at, resolution_flagged_due_at,
                first_response_breached_at, resolution_breached_at, escalated_at, resolution, root_cause,
                reopen_count, created_by_id, created_by_label, created_at)
            SELECT 'TS' || to_char(d.received_at AT TIME ZONE %(tz)s, 'YYYYMMDD') || '-'
                       || lpad(nextval(%(seq)s)::text, 6, '0'),
                   d.customer_id, '', NULL, cu.branch_id, d.channel, d.category_id, d.severity, d.product_id,
                   (%(descriptions)s::text[])[1 + floor(d.r_text * %(n_descriptions)s)::int],
                   CASE WHEN d.resolved_at IS NOT NULL AND d.r_close < 0.6
                             AND d.resolved_at + interval '3 days' <= %(as_of)s THEN 'closed'
                        WHEN d.resolved_at IS NOT NULL THEN 'resolved'
                        WHEN (d.fr_at IS NULL AND d.fr_due <= %(as_of)s) OR d.res_due <= %(as_of)s THEN 'escalated'
                        WHEN d.fr_at IS NOT NULL AND d.r_close < 0.5 THEN 'investigating'
                        WHEN d.fr_at IS NOT NULL THEN 'acknowledged'
                        ELSE 'received' END,
                   1, d.received_at, d.fr_at, d.resolved_at,
                   CASE WHEN d.resolved_at IS NOT NULL AND d.r_close < 0.6
                             AND d.resolved_at + interval '3 days' <= %(as_of)s THEN d.resolved_at + interval '3 days'
                        END,
                   d.received_at, %(policy)s, NULL, d.fr_due, d.res_due,
                   d.res_due, d.resolved_at,
                   CASE WHEN d.res_due <= %(as_of)s AND (d.resolved_at IS NULL OR d.resolved_at >= d.res_due)
                        THEN d.res_due END,
                   CASE WHEN d.fr_due <= %(as_of)s AND (d.fr_at IS NULL OR d.fr_at >= d.fr_due)
                        THEN d.fr_due + interval '1 minute' END,
                   CASE WHEN d.res_due <= %(as_of)s AND (d.resolved_at IS NULL OR d.resolved_at >= d.res_due)
                        THEN d.res_due + interval '1 minute' END,
                   CASE WHEN d.fr_due <= %(as_of)s AND (d.fr_at IS NULL OR d.fr_at >= d.fr_due)
                        THEN d.fr_due + interval '1 minute'
                        WHEN d.res_due <= %(as_of)s AND (d.resolved_at IS NULL OR d.resolved_at >= d.res_due)
                        THEN d.res_due + interval '1 minute' END,
                   CASE WHEN d.resolved_at IS NOT NULL
                        THEN (%(resolutions)s::text[])[1 + floor(d.r_text * %(n_resolutions)s)::int] ELSE '' END,
                   CASE WHEN d.resolved_at IS NOT NULL THEN {_weighted_case("d.r_cause", ROOT_CAUSE_WEIGHTS)}
                        ELSE '' END,
                   0, NULL, %(label)s, d.received_at
              FROM demo_complaint d JOIN customers_customer cu ON cu.id = d.customer_id
             ORDER BY d.received_at, d.g
            RETURNING id
        """, {"as_of": as_of, "tz": settings.TIME_ZONE, "seq": REFERENCE_SEQUENCE,  # noqa: S608
              "descriptions": DESCRIPTIONS, "n_descriptions": len(DESCRIPTIONS), "resolutions": RESOLUTIONS,
              "n_resolutions": len(RESOLUTIONS), "policy": policy.pk, "label": DEMO_LABEL})
        complaint_ids = [row[0] for row in cursor.fetchall()]
        cursor.execute("DROP TABLE pg_temp.demo_complaint")
    events = _demo_events(complaint_ids=complaint_ids)
    counts = dict(Complaint.objects.filter(pk__in=complaint_ids).order_by().values_list("status")
                  .annotate(n=Count("id"))
                  .values_list("status", "n"))
    return {"complaints": len(complaint_ids), "events": events, **counts}


_EVENT_SQL = [
    # kind, from, to, time column, customer visible, public note, condition (staff notes: none)
    ("created", "''", "'received'", "c.received_at", True, "''", "TRUE"),
    ("acknowledged", "'received'", "'acknowledged'", "c.first_response_at", True, "''",
     "c.first_response_at IS NOT NULL"),
    ("first_response_breached", "''", "c.status", "c.first_response_breached_at", False, "''",
     "c.first_response_breached_at IS NOT NULL"),
    ("resolution_breached", "''", "c.status", "c.resolution_breached_at", False, "''",
     "c.resolution_breached_at IS NOT NULL"),
    ("investigating", "'acknowledged'", "'investigating'", "c.first_response_at + interval '1 minute'", True, "''",
     "c.status IN ('investigating', 'resolved', 'closed')"),
    ("resolved", "'investigating'", "'resolved'", "c.resolved_at", True, "c.resolution",
     "c.resolved_at IS NOT NULL"),
    ("closed", "'resolved'", "'closed'", "c.closed_at", True, "''", "c.closed_at IS NOT NULL"),
]


def _demo_events(*, complaint_ids: list[int]) -> int:
    """The timeline of each demo complaint, one INSERT ... SELECT per kind of event."""
    total = 0
    table = ComplaintEvent._meta.db_table
    with connection.cursor() as cursor:
        for kind, from_status, to_status, at, visible, public_note, condition in _EVENT_SQL:
            cursor.execute(
                f"INSERT INTO {table} (complaint_id, kind, from_status, to_status, occurred_at, actor_id,"  # noqa: S608
                f" actor_label, note, public_note, customer_visible)"
                f" SELECT c.id, %s, {from_status}, {to_status}, {at}, NULL, %s, '', {public_note}, %s"
                f" FROM complaints_complaint c WHERE c.id = ANY(%s) AND {condition}",
                [kind, DEMO_LABEL if kind not in ("first_response_breached", "resolution_breached") else "system",
                 visible, complaint_ids],
            )
            total += cursor.rowcount
    return total
