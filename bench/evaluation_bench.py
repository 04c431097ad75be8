"""Benchmark of the evaluation app (issue 13): KPI snapshots, dashboards, a monthly report.

Against a seeded database (see README.md "Seeding"), e.g.

    DATABASE_URL=postgres://.../crm_bench manage.py seed_demo --customers 100000 --seed 1 \\
        --transactions-per-month 0.4167 --months 24 --as-of 2026-11-30 --skip-data-quality
    DATABASE_URL=... python bench/evaluation_bench.py --period 2026-11

Measures, each repeated and reported as the median:
1. a month's snapshots of the customer and survey KPIs for every scope (bank, every branch,
   every RM) through evaluation.services, against one hand-written GROUP BY GROUPING SETS ...
   FILTER statement computing the same figures in the same run (and checks they agree);
2. the same month's snapshots of every KPI;
3. the home dashboard (head office, branch manager, RM) and the KPI page, through Django's
   test client: median time and the queries of one request;
4. one branch's monthly report, PDF and XLSX included.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings.local")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402

from accounts.models import Branch, Role, User  # noqa: E402
from bench.suite import Figure, Run, benchmark  # noqa: E402
from evaluation import selectors, services  # noqa: E402
from evaluation.models import PeriodKind, Report  # noqa: E402
from evaluation.periods import period_containing, period_parse  # noqa: E402

COMPARED_KPIS = ["retention_rate", "churn_rate", "active_rate", "contacts_per_customer", "acquisition_rate",
                 "product_usage_rate", "satisfaction_rate", "csat_average", "nps"]

HAND_WRITTEN = """
WITH act AS (
    SELECT DISTINCT customer_id FROM customers_transaction
    WHERE occurred_at >= %(start_at)s AND occurred_at < %(end_at)s
), inter AS (
    SELECT customer_id, COUNT(*) AS n FROM customers_interaction
    WHERE occurred_at >= %(start_at)s AND occurred_at < %(end_at)s GROUP BY customer_id
), hold AS (
    SELECT customer_id, COUNT(DISTINCT product_id) AS n FROM customers_holding
    WHERE opened_on < %(end_day)s AND (closed_on IS NULL OR closed_on >= %(end_day)s) GROUP BY customer_id
), surv AS (
    SELECT customer_id, COUNT(*) AS n, COUNT(*) FILTER (WHERE csat >= 4) AS satisfied, SUM(csat) AS csat,
           SUM(CASE WHEN nps >= 9 THEN 1 WHEN nps <= 6 THEN -1 ELSE 0 END) AS nps
    FROM service_surveyresponse WHERE submitted_at >= %(start_at)s AND submitted_at < %(end_at)s
    GROUP BY customer_id
), c AS (
    SELECT c.branch_id, c.relationship_manager_id AS rm_id, c.closed_on, c.customer_since,
           (c.customer_since IS NULL OR c.customer_since < %(start_day)s)
               AND (c.closed_on IS NULL OR c.closed_on >= %(start_day)s) AS at_start,
           (c.customer_since IS NULL OR c.customer_since < %(end_day)s)
               AND (c.closed_on IS NULL OR c.closed_on >= %(end_day)s) AS at_end,
           act.customer_id IS NOT NULL AS active, COALESCE(inter.n, 0) AS contacts, COALESCE(hold.n, 0) AS products,
           COALESCE(surv.n, 0) AS answers, COALESCE(surv.satisfied, 0) AS satisfied, COALESCE(surv.csat, 0) AS csat,
           COALESCE(surv.nps, 0) AS nps
    FROM customers_customer c
    LEFT JOIN act ON act.customer_id = c.id LEFT JOIN inter ON inter.customer_id = c.id
    LEFT JOIN hold ON hold.customer_id = c.id LEFT JOIN surv ON surv.customer_id = c.id
)
SELECT GROUPING(branch_id) AS g_branch, GROUPING(rm_id) AS g_rm, branch_id, rm_id,
       COUNT(*) FILTER (WHERE at_start) AS at_start,
       COUNT(*) FILTER (WHERE at_start AND (closed_on IS NULL OR closed_on >= %(end_day)s)) AS retained,
       COUNT(*) FILTER (WHERE at_start AND closed_on >= %(start_day)s AND closed_on < %(end_day)s) AS churned,
       COUNT(*) FILTER (WHERE at_end) AS at_end,
       COUNT(*) FILTER (WHERE at_end AND active) AS active,
       SUM(contacts) AS contacts,
       COUNT(*) FILTER (WHERE customer_since >= %(start_day)s AND customer_since < %(end_day)s) AS joined,
       COUNT(*) FILTER (WHERE at_end AND products >= 2) AS multi_product,
       SUM(answers) AS answers, SUM(satisfied) AS satisfied, SUM(csat) AS csat, SUM(nps) AS nps
FROM c
GROUP BY GROUPING SETS ((), (branch_id), (rm_id))
"""


def median_seconds(work, repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def hand_written(period) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(HAND_WRITTEN, {"start_at": period.starts_at, "end_at": period.ends_at,
                                      "start_day": period.start, "end_day": period.next_start})
        return cursor.fetchall()


def check_agreement(period, rows: list[tuple]) -> list[str]:
    """Print each compared KPI of the bank, snapshot against the hand-written statement; return those that differ."""
    bank = next(row for row in rows if row[0] == 1 and row[1] == 1)
    (_gb, _gr, _b, _r, at_start, retained, churned, at_end, active, contacts, joined, multi, answers, satisfied,
     csat, nps) = bank

    def pct(part, whole):
        return round(Decimal(part) * 100 / whole, 4) if whole else None

    expected = {
        "retention_rate": pct(retained, at_start), "churn_rate": pct(churned, at_start),
        "active_rate": pct(active, at_end), "contacts_per_customer": round(Decimal(contacts) / at_end, 4),
        "acquisition_rate": pct(joined, at_start), "product_usage_rate": pct(multi, at_end),
        "satisfaction_rate": pct(satisfied, answers),
        "csat_average": round(Decimal(csat) / answers, 4) if answers else None, "nps": pct(nps, answers),
    }
    differing = []
    for code, value in expected.items():
        got = selectors.kpi_snapshot_value(kpi_code=code, period_kind=period.kind, period_start=period.start)
        status = "ok" if got == value else "DIFFERS"
        if got != value:
            differing.append(code)
        print(f"  bank {code:24} snapshot {got!s:>12}  hand-written {value!s:>12}  {status}")
    return differing


def count_queries(client: Client, url: str) -> int:
    """Queries of one request (execute_wrapper: counts with DEBUG off too)."""
    executed: list[str] = []

    def record(execute, sql, params, many, context):
        executed.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        client.get(url)
    return len(executed)


def time_page(client: Client, url: str, repeats: int) -> float:
    client.get(url)  # warm
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        response = client.get(url)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(timings) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--period", default="2026-11")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--page-requests", type=int, default=20)
    parser.add_argument("--pages-only", action="store_true",
                        help="only the dashboards (3.), on the snapshots already computed")
    args = parser.parse_args()
    period = period_parse(args.period)
    with connection.cursor() as cursor:
        cursor.execute("SELECT (SELECT COUNT(*) FROM customers_customer), (SELECT COUNT(*) FROM customers_transaction),"
                       " (SELECT COUNT(*) FROM complaints_complaint), (SELECT COUNT(*) FROM service_surveyresponse),"
                       " (SELECT COUNT(*) FROM accounts_branch), (SELECT COUNT(*) FROM customers_interaction)")
        customers, transactions, complaints, answers, branches, interactions = cursor.fetchone()
    print(f"data: {customers:,} customers, {transactions:,} transactions, {interactions:,} interactions, "
          f"{complaints:,} complaints, {answers:,} survey answers, {branches} branches; period {period}")

    if not args.pages_only:
        snapshots(period, args)
    pages(period, args)
    if not args.pages_only:
        one_branch_report(period, args)


def snapshots(period, args) -> None:
    snapshot_s = median_seconds(lambda: services.kpi_snapshots_compute(period=period, kpi_codes=COMPARED_KPIS),
                                args.repeats)
    rows_holder: list = []
    hand_s = median_seconds(lambda: rows_holder.append(hand_written(period)), args.repeats)
    print(f"1. {len(COMPARED_KPIS)} KPIs, every scope: snapshots {snapshot_s:.2f} s, hand-written GROUP BY "
          f"FILTER {hand_s:.2f} s, ratio {snapshot_s / hand_s:.2f}x ({len(rows_holder[-1])} scope rows)")
    check_agreement(period, rows_holder[-1])
    all_s = median_seconds(lambda: services.kpi_snapshots_compute(period=period), args.repeats)
    print(f"2. every KPI ({selectors.kpi_definition_list().count()}), every scope: {all_s:.2f} s")


def pages(period, args) -> None:
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.MFA_REQUIRED_ROLES = []  # the pages are measured, not the second factor (else managers get a 302)
    for role, url in ((Role.ADMIN, "/"), (Role.BRANCH_MANAGER, "/"), (Role.RELATIONSHIP_MANAGER, "/"),
                      (Role.BRANCH_MANAGER, "/evaluation/")):
        user = User.objects.filter(groups__name=role, is_active=True).order_by("pk").first()
        if user is None:
            print(f"3. no {role} user; skipped")
            continue
        client = Client()
        client.force_login(user)
        page = url + "?period=" + period.label
        print(f"3. {url} as {role}: median {time_page(client, page, args.page_requests):.1f}"
              f" ms over {args.page_requests} requests, {count_queries(client, page)} queries")


def one_branch_report(period, args) -> None:
    branch = Branch.objects.filter(is_head_office=False).order_by("code").first()

    def one_report() -> None:
        with transaction.atomic():
            report = services.report_claim(kind="monthly", period=period, branch_id=branch.pk, revision=999)
        services.report_generate(report_id=report.pk)
        Report.objects.filter(pk=report.pk).delete()

    report_s = median_seconds(one_report, args.repeats)
    print(f"4. monthly report of branch {branch.code} (snapshots of the month, content, PDF, XLSX): "
          f"{report_s:.2f} s")


SURVEY_TOP_UP_SQL = """
WITH new AS (
    SELECT g, 1 + (g::bigint * 7919) %% (SELECT max(id) FROM customers_customer) AS customer_id,
           %(end_at)s - make_interval(secs => ((g::bigint * 104729) %% (395 * 86400))::double precision) AS at
      FROM generate_series(1, %(missing)s) AS g
), invitations AS (
    INSERT INTO service_surveyinvitation (trigger, reference, token_hash, expires_at, created_at, customer_id)
    SELECT 'service', 'bench-evaluation', md5('evb' || %(stamp)s || g), at + interval '14 days', at - interval '1 day',
           c.id
      FROM new JOIN customers_customer c ON c.id = new.customer_id
    RETURNING id, customer_id, created_at
)
INSERT INTO service_surveyresponse (csat, nps, comment, submitted_at, customer_id, invitation_id)
SELECT 1 + (i.id %% 5), (i.id * 31) %% 11, '', i.created_at + interval '1 day', i.customer_id, i.id FROM invitations i
"""


def survey_answers_top_up(*, answers: int, end_at) -> int:
    """Top the survey answers up to ``answers`` (the issue's 1M at 1m), spread over the 13 months before
    ``end_at``; idempotent (a later run adds nothing). Returns how many were added."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM service_surveyresponse")
        missing = answers - cursor.fetchone()[0]
        if missing <= 0:
            return 0
        started = time.perf_counter()
        cursor.execute(SURVEY_TOP_UP_SQL, {"missing": missing, "end_at": end_at, "stamp": f"{time.time():.0f}"})
        cursor.execute("ANALYZE service_surveyinvitation")
        cursor.execute("ANALYZE service_surveyresponse")
    print(f"[evaluation] added {missing:,} survey answers in {time.perf_counter() - started:.0f} s", flush=True)
    return missing


@benchmark("evaluation")
def run_benchmark(run: Run) -> list[Figure]:
    """The last complete month before the seed's end: snapshots against one hand-written GROUP BY ... FILTER
    (their figures must agree), the role dashboards from those snapshots, and one branch's monthly report.
    Survey answers are topped up to one per customer (the issue's 1M at 1m; seed_demo plants few)."""
    period = period_containing(PeriodKind.MONTH, run.as_of).previous()
    survey_answers_top_up(answers=run.customers, end_at=run.as_of)
    repeats = run.options.get("repeats", 3)
    snapshot_s = median_seconds(lambda: services.kpi_snapshots_compute(period=period, kpi_codes=COMPARED_KPIS),
                                repeats)
    rows_holder: list = []
    hand_s = median_seconds(lambda: rows_holder.append(hand_written(period)), repeats)
    differing = check_agreement(period, rows_holder[-1])
    if differing:
        raise AssertionError(f"snapshots differ from the hand-written statement for {differing}")
    services.kpi_snapshots_compute(period=period)  # every KPI, so the dashboards read full snapshots
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.MFA_REQUIRED_ROLES = []
    figures = [Figure(job=f"KPI snapshots, {len(COMPARED_KPIS)} KPIs x every scope ({period})", figure=snapshot_s,
                      unit="s", baseline=hand_s, baseline_label="one GROUP BY ... FILTER", target=("ratio<=", 2))]
    for role in (Role.ADMIN, Role.BRANCH_MANAGER, Role.RELATIONSHIP_MANAGER):
        user = User.objects.filter(groups__name=role, is_active=True).order_by("pk").first()
        client = Client()
        client.force_login(user)
        url = f"/?period={period.label}"
        median_ms = time_page(client, url, run.options.get("requests", 30))
        figures.append(Figure(job=f"dashboard / as {role}, median ({count_queries(client, url)} queries)",
                              figure=median_ms, unit="ms", target=("<=", 80)))
    branch = Branch.objects.filter(is_head_office=False).order_by("code").first()

    def one_report() -> None:
        with transaction.atomic():
            report = services.report_claim(kind="monthly", period=period, branch_id=branch.pk, revision=999)
        services.report_generate(report_id=report.pk)
        Report.objects.filter(pk=report.pk).delete()

    figures.append(Figure(job=f"monthly report of one branch (PDF + XLSX), {branch.code}",
                          figure=median_seconds(one_report, 1), unit="s", target=("<=", 10)))
    return figures


if __name__ == "__main__":
    main()
