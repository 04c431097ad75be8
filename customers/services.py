"""Writes for customers: revealing PII, recording interactions, the data-quality pass (MANUAL 2.2).

Every function is keyword-only, typed and atomic (STYLE.md §1). Revealing PII is audited in the
same transaction (STYLE.md §11).
"""

from __future__ import annotations

import logging
import re
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import permissions, scope
from accounts.models import Branch, Role, User
from core.audit import AuditAction, audit_record
from core.errors import ApplicationError, ErrorCode
from core.outbox import outbox_enqueue
from customers import importing, selectors
from customers.models import (
    Channel,
    Customer,
    CustomerStatus,
    DataQualityIssue,
    DataQualityIssueStatus,
    DataQualityPolicy,
    DataQualityRule,
    Gender,
    Holding,
    ImportJob,
    ImportJobStatus,
    Interaction,
    InteractionKind,
    InteractionOutcome,
    Product,
    ProductCategory,
    RiskLevel,
    Transaction,
    TransactionDirection,
    TransactionType,
)

logger = logging.getLogger(__name__)

PII_FIELDS = Customer.PII_FIELDS
AUDIT_DATA_QUALITY_POLICY_CREATE = "customers.data_quality_policy_create"
AUDIT_IDENTIFIER_SEARCH = "customers.identifier_search"
AUDIT_OUT_OF_SCOPE = "customers.out_of_scope"
DATA_QUALITY_TASK = "customers.data_quality_run_task"
# Interactions are recent contacts; a date before this is a typing error, not history.
INTERACTION_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)

# Clock skew between a phone and the server, not a business number.
INTERACTION_FUTURE_TOLERANCE = timedelta(minutes=5)


# --- PII ------------------------------------------------------------------------------------


@transaction.atomic
def customer_identifier_search(*, user: User, id_number: str | None = None, phone: str | None = None,
                               limit: int = 20) -> list[Customer]:
    """Find the user's customers by exact ID number or phone; audit the lookup (never the number).

    An exact lookup answers "is this person our customer?", so each one leaves an audit row
    naming the kind of number and how many customers matched.
    """
    customers = list(
        selectors.customer_search_visible_to(user=user, query="", id_number=id_number, phone=phone)[:limit]
    )
    audit_record(actor=user, action=AUDIT_IDENTIFIER_SEARCH, detail={
        "kind": "id_number" if id_number else "phone", "matches": len(customers),
    })
    return customers


def customer_out_of_scope_record(*, user: User, customer_id: int) -> None:
    """Audit an attempt to open a customer outside the user's scope (the page answers 404)."""
    audit_record(actor=user, action=AUDIT_OUT_OF_SCOPE, detail={"customer_id": customer_id})



@transaction.atomic
def customer_pii_reveal(*, customer: Customer, field: str, by: User) -> str:
    """Return one PII field of the customer in plaintext and audit who saw it ("" when empty).

    The caller has fetched ``customer`` through selectors.customer_get_visible_to for ``by``;
    the value is re-read through the same scope, so a customer outside it raises
    Customer.DoesNotExist (a 404) rather than being revealed. The audit row names the field,
    never the value.
    """
    if field not in PII_FIELDS:
        raise ApplicationError.invalid(_("This field cannot be revealed."), field="field")
    if not permissions.can_reveal_pii(by):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    plaintext = (
        selectors.customer_list_visible_to(user=by).values_list(field, flat=True).get(pk=customer.pk)
    )
    audit_record(actor=by, action=AuditAction.PII_REVEAL, target=customer, detail={"field": field})
    return plaintext or ""


# --- Interactions ---------------------------------------------------------------------------


@transaction.atomic
def interaction_record(
    *,
    customer: Customer,
    by: User,
    kind: str,
    occurred_at: datetime,
    summary: str,
    outcome: str,
    next_step: str = "",
    next_step_due_on: date | None = None,
) -> Interaction:
    """Record a contact with the customer made by ``by``.

    The caller has fetched ``customer`` through selectors.customer_get_visible_to for ``by``.
    Not audited: an interaction holds no PII and is itself the record of the contact.
    """
    if not permissions.can_record_interaction(by):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    fields = _interaction_fields_clean(kind=kind, occurred_at=occurred_at, summary=summary, outcome=outcome,
                                       next_step=next_step, next_step_due_on=next_step_due_on)
    return Interaction.objects.create(customer=customer, staff=by, **fields)


def _interaction_fields_clean(*, kind: str, occurred_at: datetime, summary: str, outcome: str, next_step: str,
                              next_step_due_on: date | None) -> dict:
    """The rules an interaction must meet, whoever records it; return the cleaned fields."""
    if kind not in InteractionKind.values:
        raise ApplicationError.invalid(_("Choose a kind of interaction from the list."), field="kind")
    if outcome not in InteractionOutcome.values:
        raise ApplicationError.invalid(_("Choose an outcome from the list."), field="outcome")
    summary = (summary or "").strip()
    if not summary:
        raise ApplicationError.invalid(_("Describe what was discussed."), field="summary")
    if len(summary) > Interaction._meta.get_field("summary").max_length:
        raise ApplicationError.invalid(_("The summary is too long."), field="summary")
    if timezone.is_naive(occurred_at):
        occurred_at = timezone.make_aware(occurred_at)
    if occurred_at > timezone.now() + INTERACTION_FUTURE_TOLERANCE:
        raise ApplicationError.invalid(_("An interaction cannot be recorded before it happens."), field="occurred_at")
    if occurred_at < INTERACTION_EARLIEST:
        raise ApplicationError.invalid(
            _("Check the date: interactions before 2000 cannot be recorded."), field="occurred_at"
        )
    next_step = (next_step or "").strip()
    if next_step_due_on is not None:
        if not next_step:
            raise ApplicationError.invalid(_("Describe the next step that is due."), field="next_step")
        if next_step_due_on < timezone.localdate(occurred_at):
            raise ApplicationError.invalid(
                _("The next step cannot be due before the interaction."), field="next_step_due_on"
            )
    return {"kind": kind, "occurred_at": occurred_at, "summary": summary, "outcome": outcome,
            "next_step": next_step, "next_step_due_on": next_step_due_on}


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
# Completeness: one issue per kind of information with a key field missing. The key fields
# (12) are:
#   basic      name, gender (not "unknown"), birth_date (gives the age), occupation,
#              phone (the contact detail the bank relies on), id_number
#   financial  total_assets, liabilities, annual_income (0 is a value; NULL is missing)
#   behaviour  preferred_channel. Transaction frequency and product usage are derived from
#              the transaction and holding tables, not collected, so they cannot be missing;
#              a customer without recent transactions is a behaviour class (MANUAL 2.1,
#              "churned"), not a data defect.
#   risk       credit_rating, risk_tolerance
# completeness_score = floor(100 * present key fields / 12): 100 only when all are present.
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
MOBILE_PHONE_PATTERN = re.compile(r"1[3-9][0-9]{9}")
RESIDENT_ID_PATTERN = re.compile(r"[0-9]{17}[0-9X]")
RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RESIDENT_ID_CHECK_CHARACTERS = "10X98765432"

# Present-conditions of the key fields, as SQL on customers_customer aliased "c". Empty
# encrypted values are stored as '' unencrypted, so presence is visible without decrypting.
COMPLETENESS_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    DataQualityRule.MISSING_BASIC: (
        ("name", "btrim(c.name) <> ''"),
        ("gender", "c.gender <> %(gender_unknown)s"),
        ("birth_date", "c.birth_date IS NOT NULL"),
        ("occupation", "btrim(c.occupation) <> ''"),
        ("phone", "coalesce(c.phone, '') <> ''"),
        ("id_number", "coalesce(c.id_number, '') <> ''"),
    ),
    DataQualityRule.MISSING_FINANCIAL: (
        ("total_assets", "c.total_assets IS NOT NULL"),
        ("liabilities", "c.liabilities IS NOT NULL"),
        ("annual_income", "c.annual_income IS NOT NULL"),
    ),
    DataQualityRule.MISSING_BEHAVIOUR: (("preferred_channel", "c.preferred_channel <> ''"),),
    DataQualityRule.MISSING_RISK: (
        ("credit_rating", "c.credit_rating <> ''"),
        ("risk_tolerance", "c.risk_tolerance <> ''"),
    ),
}
COMPLETENESS_FIELD_COUNT = sum(len(fields) for fields in COMPLETENESS_FIELDS.values())


@dataclass(frozen=True)
class DataQualityRunResult:
    """Counts of one data-quality pass, stamped with the policy version it used."""

    opened: int
    resolved: int
    still_open: int
    customers_scored: int
    policy_version: int
    scores_changed: int = 0
    opened_by_rule: dict[str, int] = field(default_factory=dict)
    resolved_by_rule: dict[str, int] = field(default_factory=dict)
    open_by_rule: dict[str, int] = field(default_factory=dict)


def resident_id_check_character(first_17_digits: str) -> str:
    """Return the GB 11643 check character for the first 17 digits of a resident ID number."""
    weighted = zip(first_17_digits, RESIDENT_ID_WEIGHTS, strict=True)
    total = sum(int(digit) * weight for digit, weight in weighted)
    return RESIDENT_ID_CHECK_CHARACTERS[total % 11]


def _phone_defect(phone: str) -> str | None:
    """Return why a stored mobile number is invalid (never echoing it), or None."""
    value = phone.strip()
    if MOBILE_PHONE_PATTERN.fullmatch(value):
        return None
    return f"not an 11-digit mainland mobile number starting 13-19 ({len(value)} characters)"


def _resident_id_defects(id_number: str, birth_date: date | None) -> list[tuple[str, str]]:
    """Return (rule, detail) for each defect of a stored resident ID number; details carry no PII."""
    value = id_number.strip().upper()
    if not RESIDENT_ID_PATTERN.fullmatch(value):
        return [(DataQualityRule.ID_CHECK_DIGIT,
                 f"not an 18-character resident ID number ({len(value)} characters)")]
    defects = []
    if resident_id_check_character(value[:17]) != value[17]:
        defects.append((DataQualityRule.ID_CHECK_DIGIT, "check character does not match (GB 11643)"))
    if birth_date is not None:
        try:
            encoded_birth_date = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
        except ValueError:
            encoded_birth_date = None
        if encoded_birth_date != birth_date:
            defects.append((DataQualityRule.ID_BIRTH_DATE,
                            "birth date in the ID number differs from the recorded birth date"))
    return defects


@transaction.atomic
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
        # Last, so the customer rows are locked only for the moment before commit.
        customers_scored, scores_changed = _write_completeness_scores(
            cursor=cursor, customer_ids=customer_ids
        )

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
        scores_changed=scores_changed,
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
    for rule, fields in COMPLETENESS_FIELDS.items():
        # The cheap boolean test runs for every customer; the detail text only for the incomplete.
        complete = " AND ".join(f"({condition})" for _name, condition in fields)
        missing = ", ".join(f"CASE WHEN NOT ({condition}) THEN '{name}' END" for name, condition in fields)
        completeness_rows.append(
            f"('{DataQualityRule(rule).value}', "
            f"CASE WHEN NOT ({complete}) THEN 'missing: ' || concat_ws(', ', {missing}) END)"
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
                WHEN c.info_updated_at IS NULL THEN 'never updated'
                WHEN c.info_updated_at < %(stale_before)s THEN 'last updated '
                    || to_char(c.info_updated_at AT TIME ZONE %(time_zone)s, 'YYYY-MM-DD')
                    || ', older than ' || %(stale_after_days)s || ' days'
            END),
            ('{DataQualityRule.ASSETS_MISMATCH.value}', CASE
                WHEN c.total_assets IS NOT NULL
                 AND abs(c.total_assets - coalesce(held.assets_cny, 0)) * 100
                     > %(tolerance_pct)s * abs(coalesce(held.assets_cny, 0))
                THEN 'declared ' || c.total_assets || ' CNY, open holdings '
                    || coalesce(held.assets_cny, 0) || ' CNY, tolerance ' || %(tolerance_pct)s || '%%'
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
        "gender_unknown": Gender.UNKNOWN.value,
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


def _write_completeness_scores(*, cursor, customer_ids: list[int] | None) -> tuple[int, int]:
    """Write every active customer's completeness score in one UPDATE ... FROM; return (scored, changed)."""
    present = " + ".join(
        f"(CASE WHEN {condition} THEN 1 ELSE 0 END)"
        for fields in COMPLETENESS_FIELDS.values()
        for _name, condition in fields
    )
    customer_scope = "AND c.id = ANY(%(customer_ids)s)" if customer_ids is not None else ""
    cursor.execute(
        f"""
        WITH scores AS (
            SELECT c.id, ({present}) * 100 / {COMPLETENESS_FIELD_COUNT} AS score
            FROM customers_customer c
            WHERE c.status = %(active)s {customer_scope}
        ), changed AS (
            UPDATE customers_customer c SET completeness_score = scores.score
            FROM scores
            WHERE c.id = scores.id AND c.completeness_score IS DISTINCT FROM scores.score
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM scores), (SELECT count(*) FROM changed)
        """,  # noqa: S608
        {
            "active": CustomerStatus.ACTIVE.value,
            "gender_unknown": Gender.UNKNOWN.value,
            "customer_ids": customer_ids,
        },
    )
    customers_scored, scores_changed = cursor.fetchone()
    return customers_scored, scores_changed


# --- Imports from core-banking exports (customers.importing holds the engine) -----------------

AUDIT_IMPORT = "customers.import"
IMPORT_JOB_TASK = "customers.import_job_run_task"
# A running job writes its progress at most this often; the admin page refreshes every 2 s.
IMPORT_PROGRESS_INTERVAL_SECONDS = 1.0
IMPORT_JOB_ERROR_MAX_LENGTH = ImportJob._meta.get_field("error").max_length


def import_run(*, source: IO[bytes], file_name: str, mapping: importing.Mapping, bytes_total: int,
               by: User | None, report_stream: IO[str] | None = None,
               batch_size: int | None = None,
               progress: importing.ProgressCallback | None = None) -> importing.ImportResult:
    """Import a core-banking export and audit it (counts and file name, never row data).

    Call outside a transaction: every batch commits on its own (see customers.importing). A
    file that cannot be imported raises ImportFileError; that failure is audited too.
    """
    detail = {"kind": mapping.kind, "mapping": mapping.name, "file": Path(file_name).name}
    try:
        result = importing.import_stream(source=source, mapping=mapping, bytes_total=bytes_total,
                                         report_stream=report_stream,
                                         batch_size=batch_size or importing.DEFAULT_BATCH_SIZE, progress=progress)
    except importing.ImportFileError as exc:
        audit_record(actor=by, action=AUDIT_IMPORT, detail={**detail, "failed": str(exc)})
        raise
    audit_record(actor=by, action=AUDIT_IMPORT, detail={**detail, **result.counts(), "encoding": result.encoding})
    return result


@transaction.atomic
def import_job_create(*, mapping_name: str, uploaded_file: UploadedFile, by: User) -> ImportJob:
    """Store the upload as an import job with a shipped mapping and queue its run."""
    if not permissions.is_admin(by):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    if mapping_name not in importing.mapping_names():
        raise ApplicationError.invalid(_("Choose one of the shipped mappings."), field="mapping")
    try:
        mapping = importing.mapping_load(name_or_path=mapping_name)
    except importing.ImportMappingError as exc:
        raise ApplicationError.invalid(str(exc), field="mapping") from exc
    job = ImportJob.objects.create(kind=mapping.kind, mapping=mapping_name, source_file=uploaded_file,
                                   bytes_total=uploaded_file.size or 0, created_by=by)
    outbox_enqueue(task_name=IMPORT_JOB_TASK, kwargs={"job_id": job.pk})
    return job


@transaction.atomic
def import_job_start(*, job_id: int) -> bool:
    """Move a queued job to running; return False when it is not queued (already taken)."""
    job = ImportJob.objects.select_for_update().get(pk=job_id)
    if ImportJobStatus.RUNNING not in ImportJob.TRANSITIONS.get(job.status, set()):
        return False
    job.status = ImportJobStatus.RUNNING
    job.started_at = timezone.now()
    job.save(update_fields=["status", "started_at"])
    return True


def import_job_run(*, job_id: int) -> ImportJob:
    """Run a running job's import, writing progress as it goes; finish it as done or failed.

    Call outside a transaction (after import_job_start committed), so each batch and each
    progress update commits and the admin page sees them.
    """
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    if job.status != ImportJobStatus.RUNNING:
        return job
    last_write = 0.0

    def write_progress(result: importing.ImportResult) -> None:
        nonlocal last_write
        if time.monotonic() - last_write < IMPORT_PROGRESS_INTERVAL_SECONDS:
            return
        last_write = time.monotonic()
        ImportJob.objects.filter(pk=job.pk).update(**_import_job_counters(result))

    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as report_stream:
        try:
            mapping = importing.mapping_load(name_or_path=job.mapping)
            with job.source_file.open("rb") as source:
                result = import_run(source=source, file_name=job.source_file.name, mapping=mapping,
                                    bytes_total=job.source_file.size, by=job.created_by,
                                    report_stream=report_stream, progress=write_progress)
        except (importing.ImportFileError, importing.ImportMappingError) as exc:
            return _import_job_finish(job=job, status=ImportJobStatus.FAILED, error=str(exc))
        except Exception as exc:
            logger.exception("Import job %s failed", job.pk)
            _import_job_finish(job=job, status=ImportJobStatus.FAILED,
                               error=f"internal error ({type(exc).__name__}); see the worker log")
            raise
        report_stream.seek(0)
        job.report_file.save(f"import-{job.pk}-errors.csv", File(report_stream), save=False)
    return _import_job_finish(job=job, status=ImportJobStatus.DONE, result=result)


@transaction.atomic
def _import_job_finish(*, job: ImportJob, status: str, result: importing.ImportResult | None = None,
                       error: str = "") -> ImportJob:
    locked = ImportJob.objects.select_for_update().get(pk=job.pk)
    if status not in ImportJob.TRANSITIONS.get(locked.status, set()):
        raise ApplicationError(ErrorCode.INVALID_TRANSITION)
    job.status = status
    job.finished_at = timezone.now()
    job.error = error[:IMPORT_JOB_ERROR_MAX_LENGTH]
    fields = ["status", "finished_at", "error", "report_file"]
    if result is not None:
        for name, value in _import_job_counters(result).items():
            setattr(job, name, value)
        fields += list(_import_job_counters(result))
    job.save(update_fields=fields)
    return job


def _import_job_counters(result: importing.ImportResult) -> dict[str, int]:
    # Rows of a batch not yet written are left out, so the counters always add up.
    processed = result.created + result.updated + result.unchanged + result.rejected
    return {
        "rows_read": processed, "rows_created": result.created, "rows_updated": result.updated,
        "rows_unchanged": result.unchanged, "rows_rejected": result.rejected,
        "bytes_read": result.bytes_read, "bytes_total": result.bytes_total,
    }


# --- The REST API's writes (issue #4) ---------------------------------------------------------
#
# ``by`` is the request's principal: a staff User or an accounts.models.ApiClient (another bank
# system). The API view has checked the method's scope or role; these functions check the object:
# a caller may only write a customer it can see before and after the write (an RM cannot hand a
# customer to another RM, a branch key cannot move one to another branch). Every write is audited
# with the principal as actor, so an API key's writes read "api-key:<name>" in the audit log.

AUDIT_API_CUSTOMER_CREATE = "customers.customer_create"
AUDIT_API_CUSTOMER_UPDATE = "customers.customer_update"
AUDIT_API_HOLDING_UPSERT = "customers.holding_upsert"
AUDIT_API_INTERACTION_RECORD = "customers.interaction_record"
AUDIT_API_PRODUCT_UPSERT = "customers.product_upsert"
AUDIT_API_TRANSACTIONS_INGEST = "customers.transactions_ingest"

# Fields an API caller may write on a customer; branch and relationship_manager arrive as a
# branch code and a staff number and are resolved here.
CUSTOMER_API_WRITABLE_FIELDS = (
    "name", "gender", "birth_date", "occupation", "id_number", "phone", "email", "address",
    "branch", "relationship_manager", "customer_since", "status", "closed_on", "closed_reason",
    "total_assets", "liabilities", "annual_income", "credit_rating", "risk_tolerance",
    "consent_data_processing", "consent_marketing", "consent_channel", "preferred_channel",
)
CUSTOMER_API_REQUIRED_ON_CREATE = ("name", "branch")
# Birth dates and customer-since dates before this are typing errors.
CUSTOMER_EARLIEST_DATE = date(1900, 1, 1)

TRANSACTION_BULK_MAX_ROWS = 10_000
TRANSACTION_BULK_FIELDS = ("external_ref", "customer_external_id", "occurred_at", "amount", "direction",
                           "channel", "type")
TRANSACTION_EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
# A transaction time later than this past "now" is a wrong clock or a wrong field, not a booking.
TRANSACTION_FUTURE_TOLERANCE = timedelta(days=1)
TRANSACTION_AMOUNT_PATTERN = re.compile(r"(?:0|[1-9][0-9]{0,15})(?:\.[0-9]{1,2})?")


class TransactionBatchRejected(ApplicationError):
    """A bulk batch with invalid rows: nothing was written; ``field_errors["rows"]`` lists each problem."""

    @property
    def http_status(self) -> int:
        return 422


@dataclass(frozen=True)
class TransactionIngestResult:
    received: int
    inserted: int
    already_present: int


def _customer_visible(*, by, customer_id: int) -> bool:
    return selectors.customer_list_for_principal(principal=by).filter(pk=customer_id).exists()


def _customer_fields_resolve(*, fields: dict) -> dict:
    """Turn the API's references (branch code, RM staff number) into model values; check the rules."""
    resolved = dict(fields)
    if "branch" in resolved:
        branch = Branch.objects.filter(code=resolved["branch"]).first()
        if branch is None:
            raise ApplicationError.invalid(_("No branch has this code."), field="branch")
        resolved["branch"] = branch
    if "relationship_manager" in resolved and resolved["relationship_manager"] not in (None, ""):
        manager = User.objects.filter(
            staff_number=resolved["relationship_manager"], is_active=True, groups__name=Role.RELATIONSHIP_MANAGER
        ).first()
        if manager is None:
            raise ApplicationError.invalid(
                _("No active relationship manager has this staff number."), field="relationship_manager"
            )
        resolved["relationship_manager"] = manager
    elif "relationship_manager" in resolved:
        resolved["relationship_manager"] = None
    phone = resolved.get("phone")
    if phone and not MOBILE_PHONE_PATTERN.fullmatch(phone):
        raise ApplicationError.invalid(_("Enter an 11-digit mainland mobile number (13-19...)."), field="phone")
    id_number = resolved.get("id_number")
    if id_number:
        id_number = resolved["id_number"] = id_number.strip().upper()
        if not RESIDENT_ID_PATTERN.fullmatch(id_number) or (
            resident_id_check_character(id_number[:17]) != id_number[17]
        ):
            raise ApplicationError.invalid(_("Enter a valid 18-character resident ID number."), field="id_number")
    today = timezone.localdate()
    for date_field in ("birth_date", "customer_since", "closed_on"):
        value = resolved.get(date_field)
        if value is not None and not CUSTOMER_EARLIEST_DATE <= value <= today:
            raise ApplicationError.invalid(
                _("Enter a date between 1900-01-01 and today."), field=date_field
            )
    return resolved


def _customer_state_check(customer: Customer) -> None:
    """The rules that span fields, checked on the merged state (so PATCH cannot break them)."""
    if customer.status == CustomerStatus.CLOSED and customer.closed_on is None:
        raise ApplicationError.invalid(_("A closed customer needs a closing date."), field="closed_on")
    if customer.status == CustomerStatus.ACTIVE and customer.closed_on is not None:
        raise ApplicationError.invalid(_("An active customer cannot have a closing date."), field="closed_on")
    id_number = customer.id_number
    if id_number and customer.birth_date is not None and RESIDENT_ID_PATTERN.fullmatch(id_number):
        try:
            encoded = date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
        except ValueError:
            encoded = None
        if encoded != customer.birth_date:
            raise ApplicationError.invalid(
                _("The birth date in the ID number differs from the birth date."), field="id_number"
            )


def _customer_apply(*, customer: Customer, fields: dict) -> list[str]:
    """Set the given fields on the customer; return the names that changed."""
    changed = []
    now = timezone.now()
    for name, value in fields.items():
        if name not in CUSTOMER_API_WRITABLE_FIELDS:
            continue
        attname = "branch_id" if name == "branch" else "relationship_manager_id" if name == "relationship_manager" \
            else name
        new_value = value.pk if name in ("branch", "relationship_manager") and value is not None else value
        if getattr(customer, attname) != new_value:
            setattr(customer, attname, new_value)
            changed.append(name)
    for consent in ("consent_data_processing", "consent_marketing"):
        if consent in changed:
            setattr(customer, f"{consent}_at", now)
    if changed or customer.pk is None:
        customer.info_updated_at = now
    return changed


def _customer_save(*, customer: Customer) -> None:
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError as exc:
        raise ApplicationError(
            ErrorCode.CONFLICT, _("A customer with this customer number already exists."),
            field_errors={"external_id": [_("A customer with this customer number already exists.")]},
        ) from exc


@transaction.atomic
def customer_create(*, by, external_id: str, fields: dict) -> Customer:
    """Create a customer the caller will be able to see; audit it. Raises CONFLICT for a taken number."""
    missing = [name for name in CUSTOMER_API_REQUIRED_ON_CREATE if fields.get(name) in (None, "")]
    if missing:
        message = _("This field is required.")
        raise ApplicationError(ErrorCode.INVALID, message, field_errors={name: [message] for name in missing})
    if Customer.objects.filter(external_id=external_id).exists():
        raise ApplicationError(
            ErrorCode.CONFLICT, _("A customer with this customer number already exists."),
            field_errors={"external_id": [_("A customer with this customer number already exists.")]},
        )
    customer = Customer(external_id=external_id)
    changed = _customer_apply(customer=customer, fields=_customer_fields_resolve(fields=fields))
    _customer_state_check(customer)
    _customer_save(customer=customer)
    if not _customer_visible(by=by, customer_id=customer.pk):
        # Rolls the insert back: a caller cannot create a customer outside its own scope.
        raise ApplicationError(ErrorCode.PERMISSION_DENIED, _("You cannot create a customer outside your scope."))
    audit_record(actor=by, action=AUDIT_API_CUSTOMER_CREATE, target=customer, detail={"fields": sorted(changed)})
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, by, fields: dict) -> Customer:
    """Change the given fields of a customer the caller sees (fetched through the selector); audit it.

    Fields left out keep their values. The result must still be in the caller's scope.
    """
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    changed = _customer_apply(customer=customer, fields=_customer_fields_resolve(fields=fields))
    if not changed:
        return selectors.customer_get_for_principal(principal=by, customer_id=customer.pk)
    _customer_state_check(customer)
    _customer_save(customer=customer)
    if not _customer_visible(by=by, customer_id=customer.pk):
        raise ApplicationError(
            ErrorCode.PERMISSION_DENIED, _("You cannot move a customer outside your scope.")
        )
    # Field names only: the values may be PII.
    audit_record(actor=by, action=AUDIT_API_CUSTOMER_UPDATE, target=customer, detail={"fields": sorted(changed)})
    return selectors.customer_get_for_principal(principal=by, customer_id=customer.pk)


@transaction.atomic
def customer_upsert_by_external_id(*, by, external_id: str, fields: dict) -> tuple[Customer, bool]:
    """Create the customer with this customer number, or update it; return (customer, created).

    A customer that exists outside the caller's scope raises Customer.DoesNotExist (a 404), as
    any foreign object does. Repeating the same call changes nothing the second time.
    """
    existing = Customer.objects.select_for_update().filter(external_id=external_id).first()
    if existing is None:
        return customer_create(by=by, external_id=external_id, fields=fields), True
    if not _customer_visible(by=by, customer_id=existing.pk):
        raise Customer.DoesNotExist
    return customer_update(customer=existing, by=by, fields=fields), False


def customer_pii_read_record(*, by, customers: list[Customer]) -> None:
    """Audit that the caller received these customers' PII unmasked (ids and field names only)."""
    if not customers:
        return
    with transaction.atomic():
        audit_record(
            actor=by, action=AuditAction.PII_REVEAL, target=customers[0] if len(customers) == 1 else None,
            detail={"fields": list(PII_FIELDS), "customer_ids": [customer.pk for customer in customers],
                    "via": "api"},
        )


@transaction.atomic
def customer_identifier_lookup(*, by, id_number: str | None = None, phone: str | None = None,
                               limit: int = 20) -> list[Customer]:
    """Find the caller's customers by exact ID number or phone; audit the kind and match count only."""
    customers = list(
        selectors.customer_find_by_identifier_for_principal(principal=by, id_number=id_number, phone=phone)[:limit]
    )
    audit_record(actor=by, action=AUDIT_IDENTIFIER_SEARCH, detail={
        "kind": "id_number" if id_number else "phone", "matches": len(customers), "via": "api",
    })
    return customers


@transaction.atomic
def holding_upsert(
    *,
    customer: Customer,
    by,
    product_code: str,
    balance: Decimal,
    opened_on: date,
    closed_on: date | None = None,
    external_ref: str | None = None,
) -> tuple[Holding, bool]:
    """Create or update the customer's holding of a product; return (holding, created).

    The holding is found by ``external_ref`` when given (one without a reference of the same
    product is adopted), else by (customer, product). Several holdings of the product and no
    reference to pick one is a CONFLICT. Upserts of one customer are serialised on its row.
    """
    Customer.objects.select_for_update().filter(pk=customer.pk).values_list("pk", flat=True).get()
    product = Product.objects.filter(code=product_code).first()
    if product is None:
        raise ApplicationError(ErrorCode.NOT_FOUND, _("No product has this code."))
    if closed_on is not None and closed_on < opened_on:
        raise ApplicationError.invalid(_("A holding cannot close before it opens."), field="closed_on")
    same_product = Holding.objects.select_for_update().filter(customer=customer, product=product)
    holding = None
    if external_ref:
        holding = Holding.objects.select_for_update().filter(external_ref=external_ref).first()
        if holding is not None and (holding.customer_id != customer.pk or holding.product_id != product.pk):
            message = _("This external reference belongs to another holding.")
            raise ApplicationError(ErrorCode.CONFLICT, message, field_errors={"external_ref": [message]})
        if holding is None:
            unreferenced = list(same_product.filter(external_ref__isnull=True)[:2])
            holding = unreferenced[0] if len(unreferenced) == 1 else None
    else:
        candidates = list(same_product[:2])
        if len(candidates) > 1:
            message = _("The customer holds this product more than once; send external_ref to pick one.")
            raise ApplicationError(ErrorCode.CONFLICT, message, field_errors={"external_ref": [message]})
        holding = candidates[0] if candidates else None
    created = holding is None
    if created:
        holding = Holding(customer=customer, product=product)
    values = {"balance": balance, "opened_on": opened_on, "closed_on": closed_on}
    if external_ref:
        values["external_ref"] = external_ref
    changed = sorted(name for name, value in values.items() if getattr(holding, name) != value)
    for name, value in values.items():
        setattr(holding, name, value)
    if created or changed:
        holding.save()
        audit_record(actor=by, action=AUDIT_API_HOLDING_UPSERT, target=holding, detail={
            "customer_id": customer.pk, "product": product.code, "created": created, "fields": changed,
        })
    return holding, created


@transaction.atomic
def interaction_record_by(
    *,
    customer: Customer,
    by,
    kind: str,
    occurred_at: datetime,
    summary: str,
    outcome: str,
    next_step: str = "",
    next_step_due_on: date | None = None,
) -> Interaction:
    """Record a contact through the API: staff through interaction_record, an API key (staff left
    empty) under the same rules, audited, since no staff member's name is on the row."""
    fields = {"kind": kind, "occurred_at": occurred_at, "summary": summary, "outcome": outcome,
              "next_step": next_step, "next_step_due_on": next_step_due_on}
    if scope.is_staff_principal(by):
        return interaction_record(customer=customer, by=by, **fields)
    # interaction_record's rules; its permission check and staff column assume a User.
    fields = _interaction_fields_clean(**fields)
    interaction = Interaction.objects.create(customer=customer, staff=None, **fields)
    audit_record(actor=by, action=AUDIT_API_INTERACTION_RECORD, target=interaction,
                 detail={"customer_id": customer.pk, "kind": kind})
    return interaction


@transaction.atomic
def product_upsert(*, by, code: str, name: str, category: str, risk_level: str,
                   is_active: bool = True) -> tuple[Product, bool]:
    """Create or update the product with this code; return (product, created). Audited when it changes."""
    if category not in ProductCategory.values:
        raise ApplicationError.invalid(_("Choose a product category from the list."), field="category")
    if risk_level not in RiskLevel.values:
        raise ApplicationError.invalid(_("Choose a risk level from the list."), field="risk_level")
    name = (name or "").strip()
    if not name:
        raise ApplicationError.invalid(_("Give the product a name."), field="name")
    product = Product.objects.select_for_update().filter(code=code).first()
    created = product is None
    if created:
        product = Product(code=code)
    values = {"name": name, "category": category, "risk_level": risk_level, "is_active": is_active}
    changed = sorted(field_name for field_name, value in values.items() if getattr(product, field_name) != value)
    if not (created or changed):
        return product, False
    for field_name, value in values.items():
        setattr(product, field_name, value)
    try:
        with transaction.atomic():
            product.save()
    except IntegrityError as exc:  # a concurrent create of the same code
        raise ApplicationError(ErrorCode.CONFLICT, _("The product was changed meanwhile; retry.")) from exc
    audit_record(actor=by, action=AUDIT_API_PRODUCT_UPSERT, target=product,
                 detail={"code": code, "created": created, "fields": changed})
    return product, created


def transaction_bulk_ingest(*, by, rows: list) -> TransactionIngestResult:
    """Validate a batch of transactions whole, then insert the new ones in one statement.

    Any invalid row: nothing is written, and TransactionBatchRejected lists every problem as
    {"index", "field", "reason"} (index 0-based, in the order sent). A valid batch is one
    INSERT ... SELECT FROM unnest(...) ON CONFLICT (external_ref) DO NOTHING, so a retried
    batch never duplicates a row: rows whose external_ref is stored already count as
    ``already_present`` (their stored values are not changed). The caller sees customers by
    customer number, within its scope (a branch key: its branch); others are "unknown".
    """
    if len(rows) > TRANSACTION_BULK_MAX_ROWS:
        raise ApplicationError.invalid(
            _("Send at most %(max)d rows per request; split the batch.") % {"max": TRANSACTION_BULK_MAX_ROWS},
            field="rows",
        )
    errors, columns = _transaction_rows_check(rows)
    customer_ids = selectors.customer_ids_by_number_for_principal(
        principal=by, customer_numbers=sorted(set(columns["customer_external_id"]))
    )
    unknown_customer = _("No customer with this customer number (in your scope).")
    resolved_ids = []
    for index, customer_number in zip(columns["index"], columns["customer_external_id"], strict=True):
        customer_id = customer_ids.get(customer_number)
        if customer_id is None:
            errors.append({"index": index, "field": "customer_external_id", "reason": unknown_customer})
        resolved_ids.append(customer_id)
    if errors:
        errors.sort(key=lambda error: (error["index"], error["field"]))
        message = _("%(count)d of %(total)d rows are invalid; nothing was written.") % {
            "count": len({error["index"] for error in errors}), "total": len(rows),
        }
        raise TransactionBatchRejected(ErrorCode.INVALID, message, field_errors={"rows": errors})
    with transaction.atomic():
        inserted = 0
        if rows:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"""
                    INSERT INTO {Transaction._meta.db_table}
                        (external_ref, customer_id, occurred_at, amount, direction, channel, type)
                    SELECT * FROM unnest(%s::text[], %s::bigint[], %s::timestamptz[], %s::numeric[],
                                         %s::text[], %s::text[], %s::text[])
                    ON CONFLICT (external_ref) DO NOTHING
                    """,  # noqa: S608 (the table name is ours)
                    [selectors.pg_array_literal(values) for values in (
                        columns["external_ref"], map(str, resolved_ids), columns["occurred_at"], columns["amount"],
                        columns["direction"], columns["channel"], columns["type"],
                    )],
                )
                inserted = cursor.rowcount
        result = TransactionIngestResult(received=len(rows), inserted=inserted,
                                         already_present=len(rows) - inserted)
        audit_record(actor=by, action=AUDIT_API_TRANSACTIONS_INGEST, detail={
            "received": result.received, "inserted": result.inserted, "already_present": result.already_present,
        })
    return result


def _transaction_rows_check(rows: list) -> tuple[list[dict], dict[str, list]]:
    """Check every row's shape and values by hand (a DRF serializer per row is ~50x slower).

    Returns (errors, columns): one list per column, of the valid rows only, occurred_at
    normalised to ISO 8601 in UTC. A row that passes the fast path costs a few microseconds;
    only a row that fails it is examined field by field to name every problem.
    """
    allowed_keys = frozenset(TRANSACTION_BULK_FIELDS)
    directions, channels, types = set(TransactionDirection.values), set(Channel.values), set(TransactionType.values)
    amount_ok = TRANSACTION_AMOUNT_PATTERN.fullmatch
    parse_time = datetime.fromisoformat
    latest = timezone.now() + TRANSACTION_FUTURE_TOLERANCE
    earliest = TRANSACTION_EARLIEST
    errors: list[dict] = []
    columns: dict[str, list] = {name: [] for name in (*TRANSACTION_BULK_FIELDS, "index")}
    refs, numbers, times, amounts = (columns["external_ref"], columns["customer_external_id"],
                                     columns["occurred_at"], columns["amount"])
    row_directions, row_channels, row_types, indexes = (columns["direction"], columns["channel"], columns["type"],
                                                        columns["index"])
    first_index_of_ref: dict[str, int] = {}
    messages = _transaction_row_messages()
    for index, row in enumerate(rows):
        if type(row) is dict and row.keys() == allowed_keys:
            ref, number, occurred_at, amount, direction, channel, kind = (
                row["external_ref"], row["customer_external_id"], row["occurred_at"], row["amount"],
                row["direction"], row["channel"], row["type"],
            )
            if (
                type(ref) is str and type(number) is str and type(occurred_at) is str and type(amount) is str
                and type(direction) is str and type(channel) is str and type(kind) is str
                and 0 < len(ref) <= 64 and 0 < len(number) <= 32 and ref.strip() and number.strip()
                and "\x00" not in ref and "\x00" not in number
                and direction in directions and channel in channels and kind in types
                and amount_ok(amount) and amount.strip("0.") and ref not in first_index_of_ref
            ):
                try:
                    moment = parse_time(occurred_at)
                    if moment.tzinfo is not None and earliest <= moment <= latest:
                        first_index_of_ref[ref] = index
                        refs.append(ref)
                        numbers.append(number)
                        times.append(moment.astimezone(UTC).isoformat())
                        amounts.append(amount)
                        row_directions.append(direction)
                        row_channels.append(channel)
                        row_types.append(kind)
                        indexes.append(index)
                        continue
                except (ValueError, OverflowError):
                    pass
        errors.extend(_transaction_row_problems(index, row, first_index_of_ref=first_index_of_ref, latest=latest,
                                                messages=messages))
    return errors, columns


def _transaction_row_messages() -> dict[str, str]:
    one_of = _("Must be one of: %(choices)s.")
    return {
        "required": _("This field is required."),
        "unknown": _("Unknown field."),
        "not_text": _("Must be a string."),
        "too_long": _("Longer than %(max)d characters."),
        "blank": _("May not be blank."),
        "nul": _("Null characters are not allowed."),
        "not_object": _("Each row must be a JSON object."),
        "bad_time": _("Must be an ISO 8601 date-time with a time-zone offset, from 1900 to tomorrow."),
        "bad_amount": _("Must be a positive decimal string with at most 2 decimal places, e.g. \"120.50\"."),
        "repeated": _("Repeats the external_ref of row %(index)d."),
        "direction": one_of % {"choices": ", ".join(TransactionDirection.values)},
        "channel": one_of % {"choices": ", ".join(Channel.values)},
        "type": one_of % {"choices": ", ".join(TransactionType.values)},
    }


def _transaction_row_problems(index: int, row, *, first_index_of_ref: dict[str, int], latest: datetime,
                              messages: dict[str, str]) -> list[dict]:
    """Name every problem of one row that failed the fast path, as {"index", "field", "reason"}."""
    if not isinstance(row, dict):
        return [{"index": index, "field": "", "reason": messages["not_object"]}]
    problems = [(str(name), messages["unknown"]) for name in row.keys() - set(TRANSACTION_BULK_FIELDS)]
    values = {}
    for name in TRANSACTION_BULK_FIELDS:
        value = row.get(name)
        if value is None:
            problems.append((name, messages["required"]))
        elif not isinstance(value, str):
            problems.append((name, messages["not_text"]))
        elif "\x00" in value:
            problems.append((name, messages["nul"]))
        else:
            values[name] = value
    for name, max_length in (("external_ref", 64), ("customer_external_id", 32)):
        value = values.get(name)
        if value is not None and not value.strip():
            problems.append((name, messages["blank"]))
        elif value is not None and len(value) > max_length:
            problems.append((name, messages["too_long"] % {"max": max_length}))
    for name, choice_class in (("direction", TransactionDirection), ("channel", Channel), ("type", TransactionType)):
        if name in values and values[name] not in choice_class.values:
            problems.append((name, messages[name]))
    amount = values.get("amount")
    if amount is not None and (not TRANSACTION_AMOUNT_PATTERN.fullmatch(amount) or not amount.strip("0.")):
        problems.append(("amount", messages["bad_amount"]))
    occurred_at = values.get("occurred_at")
    if occurred_at is not None:
        try:
            moment = datetime.fromisoformat(occurred_at)
            if moment.tzinfo is None or not TRANSACTION_EARLIEST <= moment <= latest:
                raise ValueError
        except (ValueError, OverflowError):
            problems.append(("occurred_at", messages["bad_time"]))
    external_ref = values.get("external_ref")
    if external_ref is not None:
        first_index = first_index_of_ref.setdefault(external_ref, index)
        if first_index != index:
            problems.append(("external_ref", messages["repeated"] % {"index": first_index}))
    return [{"index": index, "field": name, "reason": reason} for name, reason in problems]
