"""The data-quality policy and the data-quality pass (MANUAL 2.2)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import permissions
from accounts.models import User
from core import identifiers
from core.audit import audit_record
from core.errors import ApplicationError, ErrorCode
from core.outbox import outbox_enqueue
from customers import completeness, rules, selectors
from customers import data_quality_details as details
from customers.models import (
    Customer,
    CustomerStatus,
    DataQualityIssue,
    DataQualityIssueStatus,
    DataQualityPolicy,
    DataQualityRule,
)

logger = logging.getLogger(__name__)

AUDIT_DATA_QUALITY_POLICY_CREATE = "customers.data_quality_policy_create"
DATA_QUALITY_TASK = "customers.data_quality_run_task"

# --- Data-quality policy --------------------------------------------------------------------

# Any fixed bigints will do, as long as every writer takes the same one.
DATA_QUALITY_POLICY_LOCK_KEY = int.from_bytes(b"crmdqpol", "big")
DATA_QUALITY_RUN_LOCK_KEY = int.from_bytes(b"crmdqrun", "big")


@transaction.atomic
def data_quality_policy_create(
    *, stale_after_days: int, assets_tolerance_pct: Decimal, by: User
) -> DataQualityPolicy:
    """Add a new version of the data-quality policy (latest version + 1); old versions never change."""
    if not permissions.is_admin(by):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    if isinstance(stale_after_days, bool) or not isinstance(stale_after_days, int) or stale_after_days < 1:
        raise ApplicationError.invalid(_("Information goes stale after at least one day."), field="stale_after_days")
    try:
        tolerance_pct = Decimal(str(assets_tolerance_pct))
    except (InvalidOperation, ValueError):
        tolerance_pct = Decimal("NaN")
    if not tolerance_pct.is_finite() or not Decimal("0") <= tolerance_pct <= Decimal("100") or (
        tolerance_pct != tolerance_pct.quantize(Decimal("0.01"))
    ):
        raise ApplicationError.invalid(
            _("The assets tolerance is a percentage from 0 to 100 with at most two decimals."),
            field="assets_tolerance_pct",
        )
    # Serialise creators so two saves cannot both take the same next version; the next
    # statement's snapshot then sees a version committed by whoever held the lock before.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [DATA_QUALITY_POLICY_LOCK_KEY])
    latest_version = DataQualityPolicy.objects.aggregate(latest=Max("version"))["latest"] or 0
    policy = DataQualityPolicy.objects.create(
        version=latest_version + 1,
        stale_after_days=stale_after_days,
        assets_tolerance_pct=tolerance_pct,
        created_by=by,
    )
    audit_record(
        actor=by,
        action=AUDIT_DATA_QUALITY_POLICY_CREATE,
        target=policy,
        detail={
            "version": policy.version,
            "stale_after_days": stale_after_days,
            "assets_tolerance_pct": str(tolerance_pct),
        },
    )
    return policy


# --- Data-quality pass ----------------------------------------------------------------------
#
# Rules (MANUAL 2.2), all evaluated for active customers; a closed customer is no longer
# maintained, so the pass resolves any issue still open for one.
#
# Completeness: one issue per kind of information with a key field missing (customers.completeness,
# which also gives the stored completeness score: PostgreSQL computes it on every write).
#
# Timeliness: stale when info_updated_at is NULL or strictly older than stale_after_days
# (as_of - info_updated_at > stale_after_days x 24 h). Exactly stale_after_days old is not
# yet stale; a second more is.
#
# Accuracy, assets: compares the declared total_assets with held = SUM(balance) of the
# holdings open on as_of's date (closed_on NULL or later) in deposit, wealth and insurance
# products (loans and cards are liabilities). The holdings come from core banking, so they are
# the reference and the denominator: mismatch when |declared - held| * 100 > pct * |held|.
# A difference of exactly pct percent is within tolerance; with held = 0, any declared
# amount above 0 is a mismatch. No declared figure is a completeness issue, not this one.
#
# Accuracy, phone and ID number: these are encrypted, so SQL cannot read them. They are checked
# in one streamed pass over (id, phone, id_number, birth_date), DATA_QUALITY_BATCH_SIZE rows
# per fetch, and each batch's findings are written with one INSERT: the query count grows
# with the number of batches, never with a query per customer.
#   phone: the stored value (surrounding spaces aside) must be a mainland mobile number,
#          1[3-9] and 9 more ASCII digits. "+86 138..." is a valid number stored in a
#          non-canonical form and is reported too.
#   ID:    an 18-character PRC resident ID (GB 11643): 17 ASCII digits and a check character
#          (X in either case); the check character must match; digits 7-14 (YYYYMMDD) must
#          equal birth_date when a birth date is recorded. A value of another shape (a
#          15-digit first-generation ID, a passport number) fails the check-digit rule.
#
# Findings of all rules go to a temporary table; then one INSERT ... ON CONFLICT DO NOTHING
# against the one-open-issue-per-(customer, rule) index opens new issues, and one UPDATE
# resolves the open issues whose defect was not found again. Re-running changes nothing.
# A decryption failure aborts the whole run (one transaction), so issues are never resolved
# because a value could not be read.

DATA_QUALITY_BATCH_SIZE = 2000

@dataclass(frozen=True)
class DataQualityRunResult:
    """Counts of one data-quality pass, stamped with the policy version it used."""

    opened: int
    resolved: int
    still_open: int
    customers_scored: int  # active customers checked (their completeness scores the database keeps)
    policy_version: int
    opened_by_rule: dict[str, int] = field(default_factory=dict)
    resolved_by_rule: dict[str, int] = field(default_factory=dict)
    open_by_rule: dict[str, int] = field(default_factory=dict)


resident_id_check_character = identifiers.resident_id_check_character


def _phone_defect(phone: str) -> str | None:
    """Return why a stored mobile number is invalid (never echoing it), or None.

    The stored value itself is checked (customers.rules normalises on the way in), so a number
    kept as "+86 138..." is reported as not canonical.
    """
    value = phone.strip()
    if rules.phone_violation(value) is None:
        return None
    return details.detail_code(details.PHONE_SHAPE, length=len(value))


def _resident_id_defects(id_number: str, birth_date: date | None) -> list[tuple[str, str]]:
    """Return (rule, detail) for each defect of a stored resident ID number; details carry no PII."""
    value = id_number.strip().upper()
    code = rules.id_number_violation(value)
    if code == rules.ID_SHAPE:
        return [(DataQualityRule.ID_CHECK_DIGIT, details.detail_code(details.ID_SHAPE, length=len(value)))]
    defects = []
    if code == rules.ID_CHECK_CHARACTER:
        defects.append((DataQualityRule.ID_CHECK_DIGIT, details.detail_code(details.ID_CHECK)))
    if rules.id_number_birth_date_differs(value, birth_date):
        defects.append((DataQualityRule.ID_BIRTH_DATE, details.detail_code(details.ID_BIRTH_DATE)))
    return defects


@transaction.atomic
def data_quality_run_queue(*, customer_ids: list[int] | None = None) -> None:
    """Queue the data-quality pass (for these customers, or everyone) for a worker."""
    outbox_enqueue(task_name=DATA_QUALITY_TASK,
                   kwargs={"customer_ids": None if customer_ids is None else [int(pk) for pk in customer_ids]})


@transaction.atomic
def data_quality_run(
    *, as_of: datetime | None = None, customer_ids: list[int] | None = None
) -> DataQualityRunResult:
    """Check customer information against the latest policy; open new issues, resolve fixed ones.

    ``customer_ids`` limits the pass (findings, resolutions, scores) to those customers.
    Runs are serialised by an advisory lock; set-based SQL plus one streamed pass for the
    encrypted fields, so the query count does not grow with the number of customers.
    """
    as_of = as_of or timezone.now()
    if timezone.is_naive(as_of):
        as_of = timezone.make_aware(as_of)
    customer_ids = None if customer_ids is None else sorted({int(pk) for pk in customer_ids})

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [DATA_QUALITY_RUN_LOCK_KEY])
    policy = selectors.data_quality_policy_latest()

    with connection.cursor() as cursor:
        cursor.execute(
            "DROP TABLE IF EXISTS dq_findings; "
            "CREATE TEMPORARY TABLE dq_findings "
            "(customer_id bigint NOT NULL, rule varchar(20) NOT NULL, detail text NOT NULL) ON COMMIT DROP"
        )
        _find_encrypted_field_defects(cursor=cursor, customer_ids=customer_ids)
        _find_sql_defects(cursor=cursor, policy=policy, as_of=as_of, customer_ids=customer_ids)
        # Temporary tables are never analysed automatically; the anti-join below needs row counts.
        cursor.execute("ANALYZE dq_findings")
        opened_by_rule = _open_found_issues(cursor=cursor, policy=policy, as_of=as_of)
        resolved_by_rule = _resolve_issues_not_found(cursor=cursor, as_of=as_of, customer_ids=customer_ids)
        customers_scored = _count_checked(cursor=cursor, customer_ids=customer_ids)

    open_issues = DataQualityIssue.objects.filter(status=DataQualityIssueStatus.OPEN)
    if customer_ids is not None:
        open_issues = open_issues.filter(customer_id__in=customer_ids)
    open_by_rule = dict(open_issues.order_by().values_list("rule").annotate(count=Count("id")))

    result = DataQualityRunResult(
        opened=sum(opened_by_rule.values()),
        resolved=sum(resolved_by_rule.values()),
        still_open=sum(open_by_rule.values()),
        customers_scored=customers_scored,
        policy_version=policy.version,
        opened_by_rule=opened_by_rule,
        resolved_by_rule=resolved_by_rule,
        open_by_rule=open_by_rule,
    )
    logger.info(
        "data-quality run: opened=%d resolved=%d open=%d scored=%d policy=v%d",
        result.opened, result.resolved, result.still_open, result.customers_scored, result.policy_version,
    )
    return result


def _find_encrypted_field_defects(*, cursor, customer_ids: list[int] | None) -> None:
    """Stream (id, phone, id_number, birth_date) and insert each batch's findings at once."""
    customers = Customer.objects.filter(status=CustomerStatus.ACTIVE).exclude(
        phone__isnull=True, id_number__isnull=True
    )
    if customer_ids is not None:
        customers = customers.filter(pk__in=customer_ids)
    rows = customers.order_by().values_list("id", "phone", "id_number", "birth_date")

    findings: list[tuple[int, str, str]] = []
    rows_in_batch = 0
    for customer_id, phone, id_number, birth_date in rows.iterator(chunk_size=DATA_QUALITY_BATCH_SIZE):
        if phone:
            defect = _phone_defect(phone)
            if defect:
                findings.append((customer_id, DataQualityRule.PHONE_FORMAT, defect))
        if id_number:
            findings.extend(
                (customer_id, rule, detail) for rule, detail in _resident_id_defects(id_number, birth_date)
            )
        rows_in_batch += 1
        if rows_in_batch == DATA_QUALITY_BATCH_SIZE:
            _insert_findings(cursor=cursor, findings=findings)
            findings, rows_in_batch = [], 0
    _insert_findings(cursor=cursor, findings=findings)


def _insert_findings(*, cursor, findings: list[tuple[int, str, str]]) -> None:
    if not findings:
        return
    customer_ids, rules, details = (list(column) for column in zip(*findings, strict=True))
    cursor.execute(
        "INSERT INTO dq_findings (customer_id, rule, detail) "
        "SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[])",
        [customer_ids, [str(rule) for rule in rules], details],
    )


def _find_sql_defects(*, cursor, policy: DataQualityPolicy, as_of: datetime,
                      customer_ids: list[int] | None) -> None:
    """Insert completeness, timeliness and assets findings with one INSERT ... SELECT."""
    completeness_rows = []
    for rule, fields in completeness.COMPLETENESS_FIELDS.items():
        # The cheap boolean test runs for every customer; the detail text only for the incomplete.
        complete = " AND ".join(f"({condition})" for _name, condition in fields)
        missing = ", ".join(f"CASE WHEN NOT ({condition}) THEN '{name}' END" for name, condition in fields)
        completeness_rows.append(
            f"('{DataQualityRule(rule).value}', CASE WHEN NOT ({complete}) THEN "
            f"json_build_object('code', '{details.MISSING}', 'fields', array_remove(ARRAY[{missing}], NULL))::text END)"
        )
    customer_scope = "AND c.id = ANY(%(customer_ids)s)" if customer_ids is not None else ""
    holding_scope = "AND h.customer_id = ANY(%(customer_ids)s)" if customer_ids is not None else ""
    # Only constants of this module and model metadata are formatted in; values are parameters.
    sql = f"""
        INSERT INTO dq_findings (customer_id, rule, detail)
        SELECT c.id, finding.rule, finding.detail
        FROM customers_customer c
        LEFT JOIN (
            SELECT h.customer_id, SUM(h.balance) AS assets_cny
            FROM customers_holding h
            JOIN customers_product p ON p.id = h.product_id
            WHERE p.category = ANY(%(asset_categories)s)
              AND (h.closed_on IS NULL OR h.closed_on > %(as_of_date)s)
              {holding_scope}
            GROUP BY h.customer_id
        ) held ON held.customer_id = c.id
        CROSS JOIN LATERAL (VALUES
            {", ".join(completeness_rows)},
            ('{DataQualityRule.STALE.value}', CASE
                WHEN c.info_updated_at IS NULL THEN json_build_object('code', '{details.NEVER_UPDATED}')::text
                WHEN c.info_updated_at < %(stale_before)s THEN json_build_object(
                    'code', '{details.STALE}',
                    'date', to_char(c.info_updated_at AT TIME ZONE %(time_zone)s, 'YYYY-MM-DD'),
                    'days', %(stale_after_days)s)::text
            END),
            ('{DataQualityRule.ASSETS_MISMATCH.value}', CASE
                WHEN c.total_assets IS NOT NULL
                 AND abs(c.total_assets - coalesce(held.assets_cny, 0)) * 100
                     > %(tolerance_pct)s * abs(coalesce(held.assets_cny, 0))
                THEN json_build_object(
                    'code', '{details.ASSETS}', 'declared', c.total_assets::text,
                    'held', coalesce(held.assets_cny, 0)::text, 'tolerance', %(tolerance_pct)s::text)::text
            END)
        ) AS finding (rule, detail)
        WHERE c.status = %(active)s {customer_scope}
          AND finding.detail IS NOT NULL
    """  # noqa: S608
    cursor.execute(sql, {
        "asset_categories": [str(category) for category in selectors.ASSET_CATEGORIES],
        "as_of_date": timezone.localdate(as_of),
        "stale_before": as_of - timedelta(days=policy.stale_after_days),
        "stale_after_days": policy.stale_after_days,
        "time_zone": settings.TIME_ZONE,
        "tolerance_pct": policy.assets_tolerance_pct,
        "active": CustomerStatus.ACTIVE.value,
        "customer_ids": customer_ids,
    })


def _open_found_issues(*, cursor, policy: DataQualityPolicy, as_of: datetime) -> dict[str, int]:
    """Open an issue for each finding without one; return how many opened per rule."""
    cursor.execute(
        """
        WITH opened AS (
            INSERT INTO customers_dataqualityissue (customer_id, rule, status, detail, policy_id, opened_at)
            SELECT customer_id, rule, %(open)s, left(detail, 200), %(policy_id)s, %(as_of)s
            FROM dq_findings
            ON CONFLICT (customer_id, rule) WHERE status = 'open' DO NOTHING
            RETURNING rule
        )
        SELECT rule, count(*) FROM opened GROUP BY rule
        """,
        {"open": DataQualityIssueStatus.OPEN.value, "policy_id": policy.pk, "as_of": as_of},
    )
    return dict(cursor.fetchall())


def _resolve_issues_not_found(*, cursor, as_of: datetime, customer_ids: list[int] | None) -> dict[str, int]:
    """Resolve open issues (of the customers in scope) whose defect this pass did not find."""
    issue_scope = "AND i.customer_id = ANY(%(customer_ids)s)" if customer_ids is not None else ""
    cursor.execute(
        f"""
        WITH resolved AS (
            UPDATE customers_dataqualityissue i
            SET status = %(resolved)s, resolved_at = greatest(%(as_of)s, i.opened_at)
            WHERE i.status = %(open)s {issue_scope}
              AND NOT EXISTS (
                  SELECT 1 FROM dq_findings f WHERE f.customer_id = i.customer_id AND f.rule = i.rule
              )
            RETURNING i.rule
        )
        SELECT rule, count(*) FROM resolved GROUP BY rule
        """,  # noqa: S608
        {
            "resolved": DataQualityIssueStatus.RESOLVED.value,
            "open": DataQualityIssueStatus.OPEN.value,
            "as_of": as_of,
            "customer_ids": customer_ids,
        },
    )
    return dict(cursor.fetchall())


def _count_checked(*, cursor, customer_ids: list[int] | None) -> int:
    """The active customers in the pass's scope. Their completeness scores need no write: the column is
    generated (customers.completeness), so a first pass over a million imported customers writes issues
    only, not a new version of every customer row."""
    customer_scope = "AND c.id = ANY(%(customer_ids)s)" if customer_ids is not None else ""
    cursor.execute(
        f"SELECT count(*) FROM customers_customer c WHERE c.status = %(active)s {customer_scope}",  # noqa: S608
        {"active": CustomerStatus.ACTIVE.value, "customer_ids": customer_ids},
    )
    return cursor.fetchone()[0]

