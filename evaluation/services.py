"""Writes of the evaluation app: KPI targets, KPI snapshots and reports (STYLE §1)."""

from __future__ import annotations

import logging
from datetime import date, datetime
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import Min
from django.utils import timezone

from accounts.models import Branch
from core import notifications
from core.audit import audit_record
from core.errors import ApplicationError, ErrorCode
from core.outbox import outbox_enqueue
from evaluation import kpis, selectors
from evaluation.models import (
    REPORT_PERIOD_KIND,
    KpiDefinition,
    KpiRefreshState,
    KpiSnapshot,
    KpiTarget,
    PeriodKind,
    Report,
    ReportKind,
    ReportStatus,
    ScopeKind,
)
from evaluation.periods import Period, last_complete_period, period_containing, periods_around

logger = logging.getLogger(__name__)

_COMPARISON_SQL = {"gte": ">=", "gt": ">", "lte": "<=", "lt": "<"}

# --- Targets ----------------------------------------------------------------------------------


@transaction.atomic
def kpi_target_set(*, kpi: KpiDefinition, comparison: str, value: Decimal, effective_from: date,
                   amber_margin_pct: Decimal = Decimal("10"), note: str = "", by) -> KpiTarget:
    """Add a new target version for a KPI (earlier versions stay, and keep judging their periods)."""
    if comparison not in _COMPARISON_SQL:
        raise ApplicationError(ErrorCode.INVALID, f"unknown comparison {comparison!r}")
    KpiDefinition.objects.select_for_update().get(pk=kpi.pk)
    latest = KpiTarget.objects.filter(kpi=kpi).order_by("-version").first()
    target = KpiTarget.objects.create(
        kpi=kpi, version=(latest.version + 1) if latest else 1, comparison=comparison, value=value,
        amber_margin_pct=amber_margin_pct, effective_from=effective_from, note=note,
        created_by=by if getattr(by, "pk", None) else None,
    )
    audit_record(actor=by, action="evaluation.kpi_target_set", target=target, detail={
        "kpi": kpi.code, "version": target.version, "comparison": comparison, "value": str(value),
        "amber_margin_pct": str(amber_margin_pct), "effective_from": effective_from.isoformat(),
        "previous_version": latest.version if latest else None,
    })
    return target


def kpi_target_in_force(*, kpi: KpiDefinition, period: Period) -> KpiTarget | None:
    """The latest target version in force on the period's first day."""
    return (KpiTarget.objects.filter(kpi=kpi, effective_from__lte=period.start)
            .order_by("-version").first())


# --- Snapshots --------------------------------------------------------------------------------


# Red / amber / green of a value against its target: green when the comparison holds, amber within
# the target's margin, red beyond it; '' without a value or a target.
_RAG_SQL = ("CASE WHEN {value} IS NULL OR {cmp} IS NULL THEN '' WHEN CASE {cmp} "
            + " ".join(f"WHEN '{code}' THEN {{value}} {op} {{tv}}" for code, op in _COMPARISON_SQL.items())
            + " END THEN 'green' WHEN ABS({value} - {tv}) <= {amber} THEN 'amber' ELSE 'red' END")

# The scope of a grouping-sets row, and the rows to leave out: an RM group of customers without
# an RM, a branch group of rows without a branch.
_SCOPE_COLUMNS = """CASE WHEN GROUPING(g.branch_id) = 0 THEN 'branch'
                        WHEN GROUPING(g.rm_id) = 0 THEN 'rm' ELSE 'bank' END AS scope,
                   CASE WHEN GROUPING(g.branch_id) = 0 THEN g.branch_id END AS branch_id,
                   CASE WHEN GROUPING(g.rm_id) = 0 THEN g.rm_id END AS rm_id"""
_SCOPE_HAVING = """NOT (GROUPING(g.rm_id) = 0 AND g.rm_id IS NULL)
               AND NOT (GROUPING(g.branch_id) = 0 AND g.branch_id IS NULL)"""
# One branch's scope alone (kpi_snapshots_compute(branch_id=...)): its rows are the only group.
_BRANCH_SCOPE_COLUMNS = "'branch' AS scope, g.branch_id AS branch_id, NULL::bigint AS rm_id"


def _scope_grouping(*, branch_only: bool, within: tuple[tuple[str, ...], ...] = ((),)) -> tuple[str, str, str]:
    """The scope columns, grouping sets and HAVING of a snapshot statement: the bank, every branch and
    every RM (only the branch's own group with ``branch_only``), each crossed with the groupings in
    ``within`` (the shared pass's KPI member; a KPI's tiers)."""
    scopes = (("g.branch_id",),) if branch_only else ((), ("g.branch_id",), ("g.rm_id",))
    sets = ", ".join("(" + ", ".join(extra + scope) + ")" for extra in within for scope in scopes)
    if branch_only:
        return _BRANCH_SCOPE_COLUMNS, sets, "TRUE"
    return _SCOPE_COLUMNS, sets, _SCOPE_HAVING

_INSERT_INTO = """INSERT INTO evaluation_kpisnapshot (kpi_id, period_kind, period_start, period_end, scope, branch_id,
            relationship_manager_id, dimension, numerator, denominator, value, target_id, rag, data_as_of,
            computed_at)"""


def _target_params(target: KpiTarget | None) -> dict:
    return {
        "target_id": target.pk if target else None,
        "cmp": target.comparison if target else None,
        "target_value": target.value if target else None,
        "amber": (abs(target.value) * target.amber_margin_pct / 100) if target else None,
    }


def _snapshot_insert_sql(*, computation: kpis.KpiComputation, by_tier: bool, branch_only: bool = False) -> str:
    """One KPI's snapshot rows from its own row-level statement (KPIs outside a shared pass, tier splits).

    ``branch_only``: the rows of branch ``%(only_branch_id)s`` alone.
    """
    dim = "CASE WHEN GROUPING(g.dim) = 0 THEN g.dim ELSE '' END" if by_tier else "''"
    scope_columns, grouping_sets, having = _scope_grouping(
        branch_only=branch_only, within=((), ("g.dim",)) if by_tier else ((),))
    branch_filter = "WHERE g0.branch_id = %(only_branch_id)s" if branch_only else ""
    rag = _RAG_SQL.format(value="a.value", cmp="%(cmp)s::text", tv="%(target_value)s", amber="%(amber)s")
    return f"""
        {_INSERT_INTO}
        SELECT %(kpi_id)s, %(period_kind)s, %(period_start)s, %(period_end)s, a.scope, a.branch_id, a.rm_id, a.dim,
               a.num, a.den, a.value, %(target_id)s, {rag}, %(data_as_of)s, %(computed_at)s
        FROM (
            SELECT {scope_columns},
                   {dim} AS dim,
                   SUM(g.num) AS num, SUM(g.den) AS den,
                   ROUND(SUM(g.num) * %(scale)s / NULLIF(SUM(g.den), 0), 4) AS value
            -- Summed per (branch, RM, dimension) first: the grouping sets then hash a few hundred rows
            -- three (or six) times instead of every customer.
            FROM (SELECT g0.branch_id, g0.rm_id, g0.dim, SUM(g0.num) AS num, SUM(g0.den) AS den
                  FROM ({computation.row_sql()}) g0 {branch_filter} GROUP BY 1, 2, 3) g
            GROUP BY GROUPING SETS ({grouping_sets})
            HAVING SUM(g.den) <> 0 AND {having}
        ) a
    """  # noqa: S608 (SQL from evaluation.kpis constants; values are parameters)


def _shared_pass_insert_sql(*, source: kpis.RowSource, parts: list[kpis.SharedPart],
                            branch_only: bool = False) -> tuple[str, list[str]]:
    """The snapshot rows of several KPIs of one source from one scan of it; and the parameter names per KPI.

    Each KPI ``n`` is a pair of conditional sums per (branch, RM); a LATERAL VALUES turns the pairs
    into one row per KPI, and the grouping sets run per KPI. Per KPI, parameters ``k<n>_kpi_id``,
    ``k<n>_scale``, ``k<n>_target_id``, ``k<n>_cmp``, ``k<n>_target_value``, ``k<n>_amber``.
    ``branch_only``: the source rows of branch ``%(only_branch_id)s``, its scope alone.
    """
    joins = " ".join(dict.fromkeys(join for part in parts for join in part.joins))
    sums = ",\n".join(
        f"SUM(CASE WHEN {part.where} THEN ({part.num})::numeric END) AS n{n}, "
        f"SUM(CASE WHEN {part.where} THEN ({part.den})::numeric END) AS d{n}"
        for n, part in enumerate(parts))
    pairs = ", ".join(f"({n}, g.n{n}, g.d{n})" for n in range(len(parts)))
    members = ", ".join(
        f"({n}, %(k{n}_kpi_id)s::bigint, %(k{n}_scale)s::numeric, %(k{n}_target_id)s::bigint, %(k{n}_cmp)s::text, "
        f"%(k{n}_target_value)s::numeric, %(k{n}_amber)s::numeric)" for n in range(len(parts)))
    rag = _RAG_SQL.format(value="x.value", cmp="k.cmp", tv="k.target_value", amber="k.amber")
    scope_columns, grouping_sets, having = _scope_grouping(branch_only=branch_only, within=(("v.member",),))
    where = f"({source.where}) AND c.branch_id = %(only_branch_id)s" if branch_only else source.where
    sql = f"""
        {_INSERT_INTO}
        SELECT k.kpi_id, %(period_kind)s, %(period_start)s, %(period_end)s, a.scope, a.branch_id, a.rm_id, '',
               a.num, a.den, x.value, k.target_id, {rag}, %(data_as_of)s, %(computed_at)s
        FROM (
            SELECT v.member, {scope_columns}, SUM(v.num) AS num, SUM(v.den) AS den
            FROM (SELECT c.branch_id, c.relationship_manager_id AS rm_id,
                         {sums}
                  FROM {source.from_sql} {joins} WHERE {where}
                  GROUP BY 1, 2) g
            CROSS JOIN LATERAL (VALUES {pairs}) v(member, num, den)
            GROUP BY GROUPING SETS ({grouping_sets})
            HAVING SUM(v.den) <> 0 AND {having}
        ) a
        JOIN (VALUES {members}) k(member, kpi_id, scale, target_id, cmp, target_value, amber) ON k.member = a.member
        CROSS JOIN LATERAL (SELECT ROUND(a.num * k.scale / NULLIF(a.den, 0), 4) AS value) x
    """  # noqa: S608 (SQL from evaluation.kpis constants; values are parameters)
    return sql, [f"k{n}_" for n in range(len(parts))]


def _period_params(period: Period, *, now: datetime) -> dict:
    """The parameters every snapshot statement reads: the period (kpis module docstring) and the stamps."""
    return {
        "period_kind": period.kind, "period_start": period.start, "period_end": period.end,
        "start_at": period.starts_at, "end_at": period.ends_at, "start_day": period.start,
        "end_day": period.next_start, "data_as_of": now, "computed_at": timezone.now(),
    }


def _lock_period(period: Period) -> None:
    """Serialise recomputations of one period (two workers would otherwise race on delete + insert)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"evaluation.kpi:{period.kind}:{period.start}"])


@transaction.atomic
def kpi_snapshots_compute(*, period: Period, kpi_codes: list[str] | None = None,
                          now: datetime | None = None, branch_id: int | None = None) -> int:
    """Recompute one period's snapshots (bank, every branch, every RM; or one branch); return rows written.

    Replaces the period's rows (of the KPIs asked for, default all) in this one transaction, so
    readers see the old figures or the new, never a mix. The KPIs of one row source
    (``kpis.SharedPart``) are one INSERT ... SELECT over one scan of it; every other KPI (and a
    KPI broken down by tier) is one INSERT ... SELECT of its own. With ``branch_id``, only that
    branch's scope is recomputed from its own rows (one branch's report on demand); the bank's,
    the other branches' and the RMs' rows stay as they were, each stamped with its own data time.
    """
    now = now or timezone.now()
    _lock_period(period)
    definitions = KpiDefinition.objects.filter(is_active=True)
    if kpi_codes is not None:
        definitions = definitions.filter(code__in=kpi_codes)
    branch_only = branch_id is not None
    params_common = {**_period_params(period, now=now), "only_branch_id": branch_id}
    computed = [(definition, kpis.computation_for(definition.code)) for definition in definitions]
    computed = [(definition, computation) for definition, computation in computed if computation is not None]
    replaced = KpiSnapshot.objects.filter(kpi__in=[definition for definition, _ in computed],
                                          period_kind=period.kind, period_start=period.start)
    if branch_only:
        replaced = replaced.filter(scope=ScopeKind.BRANCH, branch_id=branch_id)
    replaced.delete()
    shared: dict[kpis.RowSource, list[tuple[KpiDefinition, kpis.KpiComputation, KpiTarget | None]]] = {}
    written = 0
    with connection.cursor() as cursor:
        for definition, computation in computed:
            target = kpi_target_in_force(kpi=definition, period=period)
            if computation.part is not None and not definition.by_tier:
                shared.setdefault(computation.part.source, []).append((definition, computation, target))
                continue
            cursor.execute(_snapshot_insert_sql(computation=computation, by_tier=definition.by_tier,
                                                branch_only=branch_only), {
                **params_common, **_target_params(target), "kpi_id": definition.pk, "scale": computation.scale,
            })
            written += cursor.rowcount
        for source, members in shared.items():
            sql, prefixes = _shared_pass_insert_sql(source=source, parts=[c.part for _, c, _ in members],
                                                    branch_only=branch_only)
            params = dict(params_common)
            for prefix, (definition, computation, target) in zip(prefixes, members, strict=True):
                params.update({f"{prefix}{key}": value for key, value in {
                    **_target_params(target), "kpi_id": definition.pk, "scale": computation.scale}.items()})
            cursor.execute(sql, params)
            written += cursor.rowcount
    return written


# Sources whose late rows make earlier periods stale: (table, the column that dates the row).
# Ids only grow, so "rows with an id above the watermark" are exactly the rows new since the
# last refresh, whatever their date says.
LATE_DATA_SOURCES = {
    "transaction": ("customers_transaction", "occurred_at"),
    "interaction": ("customers_interaction", "occurred_at"),
    "complaint_event": ("complaints_complaintevent", "occurred_at"),
    "survey_response": ("service_surveyresponse", "submitted_at"),
    "segment_history": ("segmentation_segmenthistory", "changed_at"),
    "holding": ("customers_holding", "opened_on"),
    "churn_warning": ("lifecycle_retentiontask", "created_at"),
}
# How many months back a first refresh (no watermarks yet) fills in: 13 for the charts, plus
# the same months a year earlier for the year-on-year trend.
FIRST_REFRESH_MONTHS = 25


def _months_with_new_rows(cursor, *, table: str, column: str, after_id: int) -> set[date]:
    zone = timezone.get_default_timezone_name()
    column_sql = f"{column}::timestamp" if column.endswith("_on") else f"({column} AT TIME ZONE %s)"
    params = [] if column.endswith("_on") else [zone]
    cursor.execute(
        f"SELECT DISTINCT date_trunc('month', {column_sql})::date FROM {table} WHERE id > %s",  # noqa: S608
        [*params, after_id],
    )
    return {row[0] for row in cursor.fetchall() if row[0] is not None}


def _months_of_changed_customers(cursor, *, since: datetime | None) -> set[date]:
    if since is None:
        return set()
    cursor.execute(
        "SELECT DISTINCT date_trunc('month', d)::date FROM customers_customer c, "
        "LATERAL (VALUES (c.customer_since::timestamp), (c.closed_on::timestamp)) v(d) "
        "WHERE c.updated_at > %s AND d IS NOT NULL", [since])
    return {row[0] for row in cursor.fetchall()}


def kpi_periods_stale(*, now: datetime | None = None) -> tuple[list[Period], dict, datetime | None]:
    """The periods to recompute now, the new watermarks, and the previous refresh time.

    Always the current month, quarter and year and the month just ended; plus every period
    holding a row that arrived since the last refresh (late data); on the first refresh, the
    last FIRST_REFRESH_MONTHS months.
    """
    now = now or timezone.now()
    state = KpiRefreshState.objects.filter(key="default").first()
    watermarks = dict(state.watermarks) if state else {}
    months: set[date] = set()
    current_month = period_containing(PeriodKind.MONTH, now)
    months.update({current_month.start, current_month.previous().start})
    new_watermarks = {}
    with connection.cursor() as cursor:
        for key, (table, column) in LATE_DATA_SOURCES.items():
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608
            new_watermarks[key] = cursor.fetchone()[0]
            if key in watermarks:
                months |= _months_with_new_rows(cursor, table=table, column=column, after_id=watermarks[key])
        if state is not None and state.refreshed_at is not None:
            months |= _months_of_changed_customers(cursor, since=state.refreshed_at)
    if state is None or not watermarks:
        months |= {current_month.shifted(-step).start for step in range(FIRST_REFRESH_MONTHS)}
    months = {month for month in months if month <= current_month.start}
    periods: set[Period] = set()
    for month in months:
        periods.update(periods_around(Period(PeriodKind.MONTH, month)))
    ordered = sorted(periods, key=lambda period: (period.start, -len(period.kind)))
    return ordered, new_watermarks, state.refreshed_at if state else None


def kpi_snapshots_refresh(*, now: datetime | None = None) -> list[str]:
    """Recompute every stale period (one transaction each), then move the watermarks; return their labels.

    Call outside a transaction (beat, a command). The watermarks move only after every period
    committed, so a crash part way leaves them where they were and the next run redoes it all.
    """
    now = now or timezone.now()
    periods, new_watermarks, _previous = kpi_periods_stale(now=now)
    for period in periods:
        kpi_snapshots_compute(period=period, now=now)
    KpiRefreshState.objects.update_or_create(key="default", defaults={"watermarks": new_watermarks,
                                                                      "refreshed_at": now})
    return [f"{period.kind}:{period.label}" for period in periods]


# --- Reports ------------------------------------------------------------------------------------


def report_period_for(*, kind: str, period: Period) -> Period:
    expected = REPORT_PERIOD_KIND[ReportKind(kind)]
    if period.kind != expected:
        raise ApplicationError(ErrorCode.INVALID, f"a {kind} report covers a {expected}, not a {period.kind}")
    return period


def report_period_due(*, kind: str, now: datetime | None = None) -> Period:
    """The period beat reports on: the month or quarter just ended; for the annual report run in
    December (MANUAL Ch. 6, for the board), the year then ending, otherwise the last full year."""


    now = now or timezone.now()
    period_kind = REPORT_PERIOD_KIND[ReportKind(kind)]
    if kind == ReportKind.ANNUAL and timezone.localtime(now).month == 12:
        return period_containing(period_kind, now)
    return last_complete_period(period_kind, now=now)


REPORT_GENERATE_TASK = "evaluation.report_generate_task"


def report_claim(*, kind: str, period: Period, branch_id: int | None, revision: int = 1,
                 requested_by=None, queue: bool = False) -> Report | None:
    """Insert the (kind, period, scope, revision) report row; None when it already exists (insert-or-skip).

    The unique constraint decides: of two beats (or a beat and a command) only one insert
    succeeds, and only its caller goes on to generate the report.
    """
    report_period_for(kind=kind, period=period)
    try:
        with transaction.atomic():
            report = Report.objects.create(
                kind=kind, period_start=period.start, period_end=period.end, branch_id=branch_id,
                revision=revision, requested_by=requested_by if getattr(requested_by, "pk", None) else None,
            )
            if queue:  # the generation is queued with the claim, or neither happens
                outbox_enqueue(task_name=REPORT_GENERATE_TASK, kwargs={"report_id": report.pk}, queue="reports")
            return report
    except IntegrityError:
        return None


def report_scopes() -> list[int | None]:
    """The bank (None) and every branch, head office excluded: who gets a report."""
    return [None, *Branch.objects.filter(is_head_office=False).order_by("code").values_list("id", flat=True)]


def report_schedule(*, kind: str, period: Period) -> list[int]:
    """Claim the bank's and every branch's report of the period and queue their generation.

    What beat and ``manage.py generate_reports`` run. Scopes already claimed are skipped, so a
    second run (or a second beat) queues nothing.
    """
    from accounts.models import Branch

    report_ids = []
    scopes = [None, *Branch.objects.filter(is_head_office=False).order_by("code").values_list("id", flat=True)]
    for branch_id in scopes:
        report = report_claim(kind=kind, period=period, branch_id=branch_id, queue=True)
        if report is not None:
            report_ids.append(report.pk)
    return report_ids


@transaction.atomic
def report_regenerate(*, report: Report, by) -> Report:
    """Queue a new revision of a report (the earlier revisions stay as they were)."""
    latest = (Report.objects.select_for_update()
              .filter(kind=report.kind, period_start=report.period_start, branch_id=report.branch_id)
              .order_by("-revision").first())
    if latest is not None and not latest.is_finished:
        raise ApplicationError(ErrorCode.CONFLICT, "this report is being generated already")
    period = Period(REPORT_PERIOD_KIND[ReportKind(report.kind)], report.period_start)
    new = report_claim(kind=report.kind, period=period, branch_id=report.branch_id,
                       revision=(latest.revision if latest else 0) + 1, requested_by=by, queue=True)
    if new is None:
        raise ApplicationError(ErrorCode.CONFLICT, "this report is being generated already")
    audit_record(actor=by, action="evaluation.report_regenerate", target=new,
                 detail={"kind": new.kind, "period": new.period_label, "branch_id": new.branch_id,
                         "revision": new.revision})
    return new


def _period_snapshots_fresh_since(*, period: Period, since: datetime, branch_id: int | None = None) -> datetime | None:
    """The data time of the period's snapshots (of one branch's scope, with ``branch_id``) when all
    were computed after ``since``, else None."""
    snapshots = KpiSnapshot.objects.filter(period_kind=period.kind, period_start=period.start)
    if branch_id is not None:
        snapshots = snapshots.filter(scope=ScopeKind.BRANCH, branch_id=branch_id)
    stamps = snapshots.aggregate(oldest_computed=Min("computed_at"), data_as_of=Min("data_as_of"))
    if stamps["oldest_computed"] is None or stamps["oldest_computed"] < since:
        return None
    return stamps["data_as_of"]


def _report_progress(report: Report, *, pct: int, step: str) -> None:
    Report.objects.filter(pk=report.pk).update(progress_pct=pct, step=step)


def report_generate(*, report_id: int) -> Report:
    """Build a claimed report: recompute its period's snapshots, write content, PDF and XLSX, once.

    Idempotent: a report already done (or taken by another worker) is returned untouched.
    Progress is committed step by step so the page can show it.
    """
    from evaluation import reporting

    with transaction.atomic():
        report = (Report.objects.select_for_update(skip_locked=True, of=("self",)).filter(pk=report_id)
                  .order_by("pk").first())
        if report is None:
            return Report.objects.get(pk=report_id)
        if report.status != ReportStatus.QUEUED:
            return report
        Report.objects.filter(pk=report.pk).update(status=ReportStatus.RUNNING, progress_pct=5,
                                                   step="snapshots")
    report.refresh_from_db()
    try:
        period = Period(REPORT_PERIOD_KIND[ReportKind(report.kind)], report.period_start)
        # Snapshots (of the report's scope) computed after the report was claimed are reused: a
        # batch's reports after the first. Otherwise the bank's report recomputes every scope, a
        # branch's report that branch's scope alone: the only snapshots of the period it reads.
        data_as_of = _period_snapshots_fresh_since(period=period, since=report.created_at, branch_id=report.branch_id)
        if data_as_of is None:
            data_as_of = timezone.now()
            kpi_snapshots_compute(period=period, now=data_as_of, branch_id=report.branch_id)
        _report_progress(report, pct=40, step="content")
        content = reporting.report_content(report=report, period=period)
        _report_progress(report, pct=60, step="pdf")
        pdf_bytes = reporting.report_pdf(report=report, content=content)
        _report_progress(report, pct=85, step="xlsx")
        xlsx_bytes = reporting.report_xlsx(report=report, content=content)
    except Exception as error:
        logger.exception("report %s failed", report.pk)
        Report.objects.filter(pk=report.pk).update(status=ReportStatus.FAILED, error=str(error)[:500],
                                                   finished_at=timezone.now(), step="")
        raise
    Report.objects.filter(pk=report.pk, status=ReportStatus.RUNNING).update(
        status=ReportStatus.DONE, progress_pct=100, step="", content=content, pdf=pdf_bytes, xlsx=xlsx_bytes,
        data_as_of=data_as_of, finished_at=timezone.now(),
    )
    report.refresh_from_db()
    if report.status == ReportStatus.DONE:
        _notify_report_ready(report)
    return report


def _notify_report_ready(report: Report) -> None:
    """Tell the people the report is for that it is ready (the in-app inbox); once per report."""
    scope = report.branch.code if report.branch_id else "bank"
    notifications.notification_send_many(
        recipients=selectors.report_recipients(report=report), kind="evaluation.report_ready",
        params={"report_id": report.pk, "kind": report.kind, "period": report.period_label, "scope": scope},
        url=f"/evaluation/reports/{report.pk}/", dedupe_key=f"evaluation.report_ready:{report.pk}",
    )


def report_download_record(*, report: Report, file_format: str, by) -> None:
    """Audit a report download (reports hold branch figures, not PII, but who took what is kept)."""
    audit_record(actor=by, action="evaluation.report_download", target=report,
                 detail={"format": file_format, "kind": report.kind, "period": report.period_label,
                         "branch_id": report.branch_id, "revision": report.revision})
