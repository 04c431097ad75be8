"""How each KPI is computed: set-based SQL per KPI code (the registry).

Each computation is a *row-level* SELECT that yields, for every row that counts, the scope
columns ``branch_id`` and ``rm_id`` (the customer's branch and relationship manager, or the
complaint's branch), a ``dim`` (a tier code, or '' when the KPI is not broken down) and the
row's share of the numerator ``num`` and of the denominator ``den``. ``services`` aggregates
those rows for the bank, every branch and every RM in one GROUPING SETS pass and writes
``value = sum(num) * scale / sum(den)``.

Most KPIs count rows of one of two sources (customers; survey answers of the period): they are
declared as a ``SharedPart`` (numerator, denominator, which rows, which joins) rather than a
statement, and ``services`` computes all the KPIs of one source in one scan of it, each part a
pair of ``SUM(CASE WHEN where THEN ...)``. The same part also gives its KPI's row-level SELECT
(``row_sql``), so computed alone or together a KPI reads the same expressions.

Parameters every statement may use (the period in the bank's time zone, Asia/Shanghai):
``%(start_at)s`` / ``%(end_at)s`` aware datetimes, [start, end); ``%(start_day)s`` /
``%(end_day)s`` dates, [first day, first day of the next period).

The definitions people read (numerator, denominator, period, exclusions) are the
``KpiDefinition`` rows seeded by migration 0002; keep them and this file saying the same thing.
Customer-based KPIs count a customer under their branch and RM as they are when computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

# MANUAL 2.4 / common usage: "satisfied" is the top two boxes of the 5-point CSAT scale. This
# defines the measure (like the NPS bands in service.models), it is not a tunable target.
CSAT_SATISFIED_MIN = 4

# Customers on the books on the period's first day: joined before it (or date unknown) and
# not closed before it.
_AT_START = ("(c.customer_since IS NULL OR c.customer_since < %(start_day)s) "
             "AND (c.closed_on IS NULL OR c.closed_on >= %(start_day)s)")
# Customers on the books at the end of the period's last day.
_AT_END = ("(c.customer_since IS NULL OR c.customer_since < %(end_day)s) "
           "AND (c.closed_on IS NULL OR c.closed_on >= %(end_day)s)")


@dataclass(frozen=True)
class RowSource:
    """Rows several KPIs count, read once for all of them: each row's customer gives branch and RM."""
    key: str
    from_sql: str
    where: str = "TRUE"


CUSTOMERS = RowSource("customers", "customers_customer c")
# Survey answers given in the period, under the answering customer's branch and RM.
RESPONSES = RowSource("responses", "service_surveyresponse r JOIN customers_customer c ON c.id = r.customer_id",
                      "r.submitted_at >= %(start_at)s AND r.submitted_at < %(end_at)s")


@dataclass(frozen=True)
class SharedPart:
    """A KPI as sums over a RowSource: of ``num`` and ``den`` over the rows matching ``where``.

    ``joins`` are LEFT JOINs onto the source (constants of this module, so KPIs sharing a pass
    share each join once). KPIs with a part are computed together, one scan of their source.
    """
    source: RowSource
    num: str
    where: str = "TRUE"
    den: str = "1"
    joins: tuple[str, ...] = ()

    def row_sql(self) -> str:
        return _row_select(self.num, f"({self.source.where}) AND ({self.where})", den=self.den,
                           from_sql=self.source.from_sql, joins=" ".join(self.joins))


@dataclass(frozen=True)
class KpiComputation:
    """Either a row-level statement of its own (``sql``) or a ``part`` of its source's shared pass."""
    code: str
    sql: str = ""
    scale: Decimal = Decimal("1")
    part: SharedPart | None = None

    def row_sql(self) -> str:
        """The row-level SELECT (branch_id, rm_id, dim, num, den) this KPI sums."""
        return self.part.row_sql() if self.part is not None else self.sql


def _row_select(num: str, where: str, *, den: str = "1", dim: str = "''", joins: str = "",
                from_sql: str = "customers_customer c") -> str:
    """The row-level SELECT of rows whose customer ``c`` gives the branch and RM."""
    return (f"SELECT c.branch_id, c.relationship_manager_id AS rm_id, {dim} AS dim, "  # noqa: S608 (code constants only)
            f"({num})::numeric AS num, ({den})::numeric AS den "
            f"FROM {from_sql} {joins} WHERE {where}")


def _customers(num: str, where: str, *, den: str = "1", dim: str = "''", joins: str = "") -> str:
    return _row_select(num, where, den=den, dim=dim, joins=joins)


def _shared(code: str, source: RowSource, num: str, where: str = "TRUE", *, den: str = "1",
            joins: tuple[str, ...] = (), scale: Decimal = Decimal("1")) -> KpiComputation:
    return KpiComputation(code, scale=scale, part=SharedPart(source, num, where, den, joins))


def _customers_at_end_as_denominator() -> str:
    return _customers("0", _AT_END)


def _complaints(num: str, where: str) -> str:
    """Complaint rows: the complaint's branch; the RM of the linked customer (none when unlinked)."""
    return (f"SELECT k.branch_id, c.relationship_manager_id AS rm_id, '' AS dim, ({num})::numeric AS num, "  # noqa: S608
            f"0::numeric AS den FROM complaints_complaint k "
            f"LEFT JOIN customers_customer c ON c.id = k.customer_id WHERE {where}")


def _complaints_per_row(num: str, where: str) -> str:
    """Complaint rows that are their own denominator (averages and shares of complaints)."""
    return (f"SELECT k.branch_id, c.relationship_manager_id AS rm_id, '' AS dim, ({num})::numeric AS num, "  # noqa: S608
            f"1::numeric AS den FROM complaints_complaint k "
            f"LEFT JOIN customers_customer c ON c.id = k.customer_id WHERE {where}")


_RECEIVED_IN_PERIOD = "k.received_at >= %(start_at)s AND k.received_at < %(end_at)s"

# Mirrors complaints.models.RESOLVED_ON_TIME (tests/evaluation check they agree): the last
# resolution met its clock and the first resolution met the original deadline.
_RESOLVED_ON_TIME = ("k.resolved_at < k.resolution_due_at AND COALESCE(k.first_resolved_at, k.resolved_at) "
                     "< COALESCE(k.original_resolution_due_at, k.resolution_due_at)")

_TIER_AT_START = """
    LEFT JOIN (
        SELECT DISTINCT ON (h.customer_id) h.customer_id, h.to_tier_rank
        FROM segmentation_segmenthistory h WHERE h.changed_at < %(start_at)s
        ORDER BY h.customer_id, h.changed_at DESC, h.id DESC
    ) ts ON ts.customer_id = c.id
    LEFT JOIN (
        SELECT DISTINCT h.customer_id FROM segmentation_segmenthistory h
        WHERE h.changed_at >= %(start_at)s AND h.changed_at < %(end_at)s
          AND h.from_tier_rank > 0 AND h.to_tier_rank > h.from_tier_rank
    ) up ON up.customer_id = c.id
"""

_ACTIVE_IN_PERIOD = """
    LEFT JOIN (
        SELECT DISTINCT t.customer_id FROM customers_transaction t
        WHERE t.occurred_at >= %(start_at)s AND t.occurred_at < %(end_at)s
    ) act ON act.customer_id = c.id
"""

_INTERACTIONS_IN_PERIOD = """
    LEFT JOIN (
        SELECT i.customer_id, COUNT(*) AS n FROM customers_interaction i
        WHERE i.occurred_at >= %(start_at)s AND i.occurred_at < %(end_at)s
        GROUP BY i.customer_id
    ) inter ON inter.customer_id = c.id
"""

_HOLDINGS_AT_END = """
    LEFT JOIN (
        SELECT h.customer_id, COUNT(DISTINCT h.product_id) AS products FROM customers_holding h
        WHERE h.opened_on < %(end_day)s AND (h.closed_on IS NULL OR h.closed_on >= %(end_day)s)
        GROUP BY h.customer_id
    ) hold ON hold.customer_id = c.id
"""

# A churn warning is what lifecycle raises for a high-risk customer: a retention task, opened by
# lifecycle.services.retention_tasks_create when a scoring run puts the customer at or above the
# policy's high-risk probability (at most one open per customer; a later run may open a new one).
_CHURN_WARNED_IN_PERIOD = """
    LEFT JOIN (
        SELECT DISTINCT w.customer_id FROM lifecycle_retentiontask w
        WHERE w.created_at >= %(start_at)s AND w.created_at < %(end_at)s
    ) cw ON cw.customer_id = c.id
"""

HUNDRED = Decimal("100")

COMPUTATIONS: dict[str, KpiComputation] = {
    computation.code: computation
    for computation in (
        _shared("retention_rate", CUSTOMERS,
                "CASE WHEN c.closed_on IS NULL OR c.closed_on >= %(end_day)s THEN 1 ELSE 0 END", _AT_START,
                scale=HUNDRED),
        _shared("churn_rate", CUSTOMERS,
                "CASE WHEN c.closed_on >= %(start_day)s AND c.closed_on < %(end_day)s THEN 1 ELSE 0 END", _AT_START,
                scale=HUNDRED),
        KpiComputation("clv_average", _customers(
            "s.clv_cny", _AT_END, dim="s.tier", joins="JOIN segmentation_customersegment s ON s.customer_id = c.id")),
        _shared("active_rate", CUSTOMERS, "CASE WHEN act.customer_id IS NULL THEN 0 ELSE 1 END", _AT_END,
                joins=(_ACTIVE_IN_PERIOD,), scale=HUNDRED),
        # Every interaction of the period (of any customer) over the customers on the books at its end.
        _shared("contacts_per_customer", CUSTOMERS, "COALESCE(inter.n, 0)",
                den=f"CASE WHEN {_AT_END} THEN 1 ELSE 0 END", joins=(_INTERACTIONS_IN_PERIOD,)),
        _shared("acquisition_rate", CUSTOMERS,
                "CASE WHEN c.customer_since >= %(start_day)s AND c.customer_since < %(end_day)s THEN 1 ELSE 0 END",
                f"(({_AT_START}) OR (c.customer_since >= %(start_day)s AND c.customer_since < %(end_day)s))",
                den=f"CASE WHEN {_AT_START} THEN 1 ELSE 0 END", scale=HUNDRED),
        _shared("tier_conversion_rate", CUSTOMERS, "CASE WHEN up.customer_id IS NULL THEN 0 ELSE 1 END",
                f"{_AT_START} AND ts.to_tier_rank < 3", joins=(_TIER_AT_START,), scale=HUNDRED),
        _shared("product_usage_rate", CUSTOMERS, "CASE WHEN COALESCE(hold.products, 0) >= 2 THEN 1 ELSE 0 END",
                _AT_END, joins=(_HOLDINGS_AT_END,), scale=HUNDRED),
        KpiComputation("complaint_rate",
                       _complaints("1", _RECEIVED_IN_PERIOD) + " UNION ALL " + _customers_at_end_as_denominator(),
                       HUNDRED),
        KpiComputation("complaints_per_10m_customers",
                       _complaints("1", _RECEIVED_IN_PERIOD) + " UNION ALL " + _customers_at_end_as_denominator(),
                       Decimal("10000000")),
        KpiComputation("complaints_per_1000_branches", (
            _complaints("1", _RECEIVED_IN_PERIOD) + " UNION ALL "
            "SELECT b.id AS branch_id, NULL::bigint AS rm_id, '' AS dim, 0::numeric AS num, 1::numeric AS den "
            "FROM accounts_branch b WHERE NOT b.is_head_office"), Decimal("1000")),
        KpiComputation("response_time_hours", _complaints_per_row(
            "EXTRACT(EPOCH FROM (k.first_response_at - k.received_at)) / 3600",
            "k.first_response_at >= %(start_at)s AND k.first_response_at < %(end_at)s")),
        KpiComputation("sla_compliance_rate", _complaints_per_row(
            f"CASE WHEN {_RESOLVED_ON_TIME} THEN 1 ELSE 0 END",
            "k.resolved_at >= %(start_at)s AND k.resolved_at < %(end_at)s"), HUNDRED),
        _shared("satisfaction_rate", RESPONSES, f"CASE WHEN r.csat >= {CSAT_SATISFIED_MIN} THEN 1 ELSE 0 END",
                scale=HUNDRED),
        _shared("csat_average", RESPONSES, "r.csat"),
        _shared("nps", RESPONSES, "CASE WHEN r.nps >= 9 THEN 1 WHEN r.nps <= 6 THEN -1 ELSE 0 END", scale=HUNDRED),
        _shared("satisfaction_index", RESPONSES,
                "(COALESCE(r.score_service, 0) + COALESCE(r.score_product, 0) + COALESCE(r.score_ease, 0))::numeric"
                " / ((r.score_service IS NOT NULL)::int + (r.score_product IS NOT NULL)::int"
                " + (r.score_ease IS NOT NULL)::int)",
                "COALESCE(r.score_service, r.score_product, r.score_ease) IS NOT NULL"),
        _shared("churn_warning_rate", CUSTOMERS, "CASE WHEN cw.customer_id IS NULL THEN 0 ELSE 1 END", _AT_END,
                joins=(_CHURN_WARNED_IN_PERIOD,), scale=HUNDRED),
    )
}


def computation_for(code: str) -> KpiComputation | None:
    """The registered computation of a KPI code; None for a KPI defined without one (it is skipped)."""
    return COMPUTATIONS.get(code)
