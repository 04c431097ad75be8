"""Benchmark for the RM scorecards (issue #14). Run by hand, never in CI.

Compares the scorecards' figures (improvement.services.scorecard_figures: one ORM GROUP BY per
source table - customers, survey answers, segments, complaints, enrolments - merged per RM)
and the whole computation (figures, component scores, ranks, upsert of every card) with one
hand-written SQL statement that computes the same figures with GROUP BY over each table. The
issue's target: the computation within 2x the hand-written statement.

Data: the RMs' books are rebuilt from the seeded customers: --rms RMs spread over the demo
branches, every customer assigned to one, 2 % new in the period and 3 % leaving in it; survey
answers (30 % of customers, half in the period), complaints (5 % of customers, in the period,
60 % resolved, 10 % of those breached), one segment (CLV) per customer, three courses per RM.

    psql -h 127.0.0.1 -U postgres -c "create database crm_bench_training"
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench_training CELERY_BROKER_URL=redis://127.0.0.1:6379/8
    export DJANGO_SETTINGS_MODULE=crm_project.settings.local ALLOWED_HOSTS=testserver
    .venv/bin/python manage.py migrate && .venv/bin/python manage.py seed_demo --customers 100000 --seed 1 \
        --months 1 --transactions-per-month 0.1 --customers-only --skip-data-quality --as-of 2026-10-31
    .venv/bin/python bench/scorecards_bench.py --generate --rms 200 --repeat 5

In ``make bench`` (100k and 1m) it runs on a copy of the seeded database (``CREATE DATABASE ...
TEMPLATE crm_bench_<scale> STRATEGY FILE_COPY``), since generating reassigns every customer, with one
RM per 500 customers (2,000 RMs at 1m), and drops the copy afterwards. The run fails when any RM's
figures differ between the hand-written statement and the ORM.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings.local")

import django

django.setup()

from urllib.parse import urlsplit, urlunsplit  # noqa: E402

from django.conf import settings  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402

from bench.suite import Figure, Run, benchmark  # noqa: E402
from improvement import services  # noqa: E402

PERIOD_START, PERIOD_END = date(2026, 10, 1), date(2026, 11, 1)
PREVIOUS = date(2026, 9, 1)
TZ = ZoneInfo(settings.TIME_ZONE)

GENERATE_SQL = [
    # RMs: bench_rm_001.. spread over the branches (round robin), in the RM group.
    """
    INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name, email, is_staff,
                               is_active, date_joined, staff_number, branch_id)
    SELECT '!', false, format('bench_rm_%%s', lpad(g::text, 4, '0')), '', '', '', false, true, now(),
           format('BR%%s', lpad(g::text, 5, '0')),
           (SELECT array_agg(id ORDER BY id) FROM accounts_branch)[1 + g %% (SELECT count(*) FROM accounts_branch)]
      FROM generate_series(1, %(rms)s) AS g
    """,
    """
    INSERT INTO accounts_user_groups (user_id, group_id)
    SELECT u.id, g.id FROM accounts_user u, auth_group g
     WHERE u.username LIKE 'bench_rm_%%' AND g.name = 'relationship_manager'
    """,
    # Every customer to one bench RM (and that RM's branch); 2 % new in October, 3 % leaving in it.
    """
    WITH rm AS (SELECT array_agg(id ORDER BY id) AS ids, array_agg(branch_id ORDER BY id) AS branches, count(*) AS n
                  FROM accounts_user WHERE username LIKE 'bench_rm_%%')
    UPDATE customers_customer c
       SET relationship_manager_id = rm.ids[1 + c.id %% rm.n], branch_id = rm.branches[1 + c.id %% rm.n],
           customer_since = CASE WHEN c.id %% 50 = 0 THEN DATE '2026-10-10' ELSE DATE '2015-01-01' END,
           closed_on = CASE WHEN c.id %% 33 = 1 THEN DATE '2026-10-15' END,
           status = CASE WHEN c.id %% 33 = 1 THEN 'closed' ELSE 'active' END
      FROM rm
    """,
    """
    INSERT INTO service_surveyinvitation (trigger, reference, token_hash, expires_at, created_at, customer_id)
    SELECT 'service', '', md5('bench' || c.id), now() + interval '14 days', now(), c.id
      FROM customers_customer c WHERE c.id %% 10 < 3
    """,
    """
    INSERT INTO service_surveyresponse (csat, nps, comment, submitted_at, customer_id, invitation_id)
    SELECT 1 + (i.id %% 5), i.id %% 11, '',
           TIMESTAMPTZ '2026-09-01 10:00+08' + make_interval(secs => (i.id * 7919 %% 61) * 86400), i.customer_id, i.id
      FROM service_surveyinvitation i WHERE i.token_hash = md5('bench' || i.customer_id)
    """,
    """
    INSERT INTO complaints_complaint (reference, contact_name, channel, severity, description, status, version,
        received_at, resolution_clock_started_at, first_response_due_at, resolution_due_at, resolution, root_cause,
        reopen_count, created_by_label, created_at, branch_id, category_id, sla_policy_id, customer_id,
        first_response_at, resolved_at, first_resolved_at, first_response_breached_at, resolution_breached_at)
    SELECT format('BENCH-%%s', c.id), '', 'branch', 'medium', 'bench', CASE WHEN c.id %% 10 < 6 THEN 'resolved'
           ELSE 'in_progress' END, 1, r.at, r.at, r.at + interval '24 hours', r.at + interval '48 hours', '', '',
           0, 'bench', now(), c.branch_id,
           (SELECT max(id) FROM complaints_complaintcategory), (SELECT max(id) FROM complaints_slapolicy), c.id,
           r.at + interval '1 hour',
           CASE WHEN c.id %% 10 < 6 THEN r.at + interval '30 hours' END,
           CASE WHEN c.id %% 10 < 6 THEN r.at + interval '30 hours' END,
           NULL,
           CASE WHEN c.id %% 100 < 6 THEN r.at + interval '48 hours' END
      FROM customers_customer c
      CROSS JOIN LATERAL (SELECT TIMESTAMPTZ '2026-10-01 09:00+08'
                                 + make_interval(secs => (c.id * 104729 %% 28) * 86400) AS at) r
     WHERE c.id %% 20 = 3
    """,
    """
    INSERT INTO segmentation_customersegment (customer_id, branch_id, value_class, behaviour_class, risk_class,
        computed_tier, tier, value_rule, behaviour_rule, amount_cny, transaction_count, service_count,
        last_transaction_at, assets_cny, large_movements, monthly_outflow_cny, account_changes, credit_rating,
        risk_points, annual_margin_cny, retention_pct, clv_cny, fingerprint, policy_id, run_id, as_of)
    SELECT c.id, c.branch_id, 'low', 'active', 'low', 'general', 'general', '-', '-', 0, 0, 0, NULL, 0, 0, 0, 0,
           '', 0, 0, 80, 1000 + (c.id * 31 %% 9000), 0, 1, 1, now()
      FROM customers_customer c
    ON CONFLICT (customer_id) DO UPDATE SET clv_cny = EXCLUDED.clv_cny
    """,
    """
    INSERT INTO training_enrolment (course_id, user_id, branch_id, source, due_on, enrolled_at, completed_at)
    SELECT k.id, u.id, u.branch_id, 'role', DATE '2026-10-01' + (k.id %% 28)::int, now(),
           CASE WHEN (u.id + k.id) %% 3 <> 0 THEN TIMESTAMPTZ '2026-10-20 10:00+08' END
      FROM accounts_user u CROSS JOIN (SELECT id FROM training_course ORDER BY id LIMIT 3) k
     WHERE u.username LIKE 'bench_rm_%%'
    ON CONFLICT DO NOTHING
    """,
]

# Active RMs only, as the ORM query: retire the seeded demo RMs (their customers moved to bench RMs).
RETIRE_SQL = """
UPDATE accounts_user SET is_active = false
 WHERE id IN (SELECT ug.user_id FROM accounts_user_groups ug JOIN auth_group g ON g.id = ug.group_id
               WHERE g.name = 'relationship_manager') AND username NOT LIKE 'bench_rm_%%'
"""

HAND_SQL = """
WITH rms AS (
    SELECT u.id, u.branch_id FROM accounts_user u
      JOIN accounts_user_groups ug ON ug.user_id = u.id JOIN auth_group g ON g.id = ug.group_id
     WHERE u.is_active AND g.name = 'relationship_manager'
), book AS (
    SELECT relationship_manager_id AS rm_id,
           count(*) FILTER (WHERE (closed_on IS NULL OR closed_on >= %(start)s)) AS customers,
           count(*) FILTER (WHERE (closed_on IS NULL OR closed_on >= %(end)s)) AS retained
      FROM customers_customer
     WHERE relationship_manager_id IS NOT NULL AND (customer_since IS NULL OR customer_since < %(start)s)
     GROUP BY 1
), answers AS (
    SELECT c.relationship_manager_id AS rm_id, count(*) AS answered, count(*) FILTER (WHERE r.csat >= 4) AS satisfied
      FROM service_surveyresponse r JOIN customers_customer c ON c.id = r.customer_id
     WHERE r.submitted_at >= %(start_at)s AND r.submitted_at < %(end_at)s AND r.csat IS NOT NULL
     GROUP BY 1
), clv AS (
    SELECT c.relationship_manager_id AS rm_id, sum(s.clv_cny) AS clv_total
      FROM segmentation_customersegment s JOIN customers_customer c ON c.id = s.customer_id
     WHERE c.closed_on IS NULL
     GROUP BY 1
), complaints AS (
    SELECT c.relationship_manager_id AS rm_id,
           count(*) FILTER (WHERE k.received_at >= %(start_at)s AND k.received_at < %(end_at)s) AS received,
           count(*) FILTER (WHERE k.first_resolved_at >= %(start_at)s AND k.first_resolved_at < %(end_at)s)
               AS resolved,
           count(*) FILTER (WHERE k.first_resolved_at >= %(start_at)s AND k.first_resolved_at < %(end_at)s
                              AND k.first_response_breached_at IS NULL AND k.resolution_breached_at IS NULL)
               AS resolved_in_sla
      FROM complaints_complaint k JOIN customers_customer c ON c.id = k.customer_id
     GROUP BY 1
), training AS (
    SELECT user_id AS rm_id, count(*) AS due, count(*) FILTER (WHERE completed_at < %(end_at)s) AS done
      FROM training_enrolment WHERE due_on < %(end)s
     GROUP BY 1
)
SELECT rms.id, rms.branch_id, coalesce(book.customers, 0), coalesce(book.retained, 0),
       coalesce(answers.answered, 0), coalesce(answers.satisfied, 0), coalesce(clv.clv_total, 0),
       coalesce(complaints.received, 0), coalesce(complaints.resolved, 0), coalesce(complaints.resolved_in_sla, 0),
       coalesce(training.due, 0), coalesce(training.done, 0)
  FROM rms
  LEFT JOIN book ON book.rm_id = rms.id
  LEFT JOIN answers ON answers.rm_id = rms.id
  LEFT JOIN clv ON clv.rm_id = rms.id
  LEFT JOIN complaints ON complaints.rm_id = rms.id
  LEFT JOIN training ON training.rm_id = rms.id
"""

FIELDS = ("id", "branch_id", "customers", "retained", "answered", "satisfied", "clv_total", "complaints",
          "resolved", "resolved_in_sla", "training_due", "training_done")


def _params() -> dict:
    return {"start": PERIOD_START, "end": PERIOD_END,
            "start_at": datetime(2026, 10, 1, tzinfo=TZ), "end_at": datetime(2026, 11, 1, tzinfo=TZ)}


def generate(rms: int) -> None:
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM accounts_user WHERE username LIKE 'bench_rm_%%' LIMIT 1")
        if cursor.fetchone():
            sys.exit("already generated: use a fresh database")
        for statement in GENERATE_SQL:
            cursor.execute(statement, {"rms": rms})
        cursor.execute(RETIRE_SQL)
    with connection.cursor() as cursor:
        for table in ("customers_customer", "service_surveyresponse", "complaints_complaint",
                      "segmentation_customersegment", "training_enrolment"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"generated in {time.perf_counter() - started:.1f} s")


def counts() -> dict:
    with connection.cursor() as cursor:
        result = {}
        for label, sql in (
            ("RMs", "SELECT count(*) FROM accounts_user WHERE username LIKE 'bench_rm_%%' AND is_active"),
            ("customers", "SELECT count(*) FROM customers_customer"),
            ("survey answers", "SELECT count(*) FROM service_surveyresponse"),
            ("complaints", "SELECT count(*) FROM complaints_complaint"),
            ("segments", "SELECT count(*) FROM segmentation_customersegment"),
            ("enrolments", "SELECT count(*) FROM training_enrolment"),
        ):
            cursor.execute(sql)
            result[label] = cursor.fetchone()[0]
    return result


def timed_alternating(functions: dict, repeat: int) -> dict[str, tuple[float, object]]:
    """Median seconds and last result of each function, run in alternating rounds after one warm-up
    each, so a change in the shared machine's load hits every contender alike."""
    results = {name: fn() for name, fn in functions.items()}
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeat):
        for name, fn in functions.items():
            started = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - started)
    return {name: (statistics.median(times[name]), results[name]) for name in functions}


def hand_sql():
    with connection.cursor() as cursor:
        cursor.execute(HAND_SQL, _params())
        return cursor.fetchall()


def orm_figures():
    return list(services.scorecard_figures(period_start=PERIOD_START, period_end=PERIOD_END))


def compute():
    return services.scorecards_compute(period_kind="month", period_start=PERIOD_START)


CUSTOMERS_PER_RM = 500


@benchmark("scorecards", scales=("100k", "1m"))
def run_benchmark(run: Run) -> list[Figure]:
    """Scorecards of one RM per 500 customers (2,000 at 1m) against the hand-written statement, on a
    copy of the seeded database (generating reassigns every customer)."""
    import psycopg2

    parts = urlsplit(run.database_url)
    source, copy = parts.path.lstrip("/"), f"{parts.path.lstrip('/')}_scorecards"
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    rms = run.customers // CUSTOMERS_PER_RM
    connections.close_all()  # a template database must have no other connection
    admin = psycopg2.connect(admin_url)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{copy}"')
            started = time.perf_counter()
            cursor.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{source}" STRATEGY FILE_COPY')
            print(f"[scorecards] copied {source} in {time.perf_counter() - started:.0f} s", flush=True)
        out = Path(f"/tmp/{copy}.json")
        env = {**os.environ, "DATABASE_URL": urlunsplit(parts._replace(path=f"/{copy}"))}
        subprocess.run([sys.executable, __file__, "--generate", "--rms", str(rms), "--repeat", "3",
                        "--json", str(out)], env=env, check=True, cwd=Path(__file__).resolve().parent.parent)
        result = json.loads(out.read_text())
        out.unlink()
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{copy}"')
        admin.close()
    if result["figures_differing"]:
        raise AssertionError(f"{result['figures_differing']} RMs' figures differ from the hand-written statement")
    label = f"{result['counts']['RMs']:,} RMs, {result['counts']['customers']:,} customers"
    return [
        Figure(job=f"RM scorecards, figures ({label})", figure=result["orm_ms"], unit="ms",
               baseline=result["hand_ms"], baseline_label="one hand-written statement", target=("ratio<=", 2)),
        Figure(job="RM scorecards, whole computation with upsert", figure=result["compute_ms"], unit="ms",
               baseline=result["hand_ms"], baseline_label="one hand-written statement", target=("ratio<=", 2)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--generate", action="store_true")
    parser.add_argument("--rms", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", default="", help="also write the figures to this file")
    options = parser.parse_args()
    if options.generate:
        generate(options.rms)
    print(", ".join(f"{label} {value:,}" for label, value in counts().items()))
    services.scorecards_compute(period_kind="month", period_start=PREVIOUS)  # September: CLV growth's base

    measured = timed_alternating({"hand": hand_sql, "orm": orm_figures, "compute": compute}, options.repeat)
    (hand_seconds, hand_rows), (orm_seconds, orm_rows), (compute_seconds, cards) = (
        measured["hand"], measured["orm"], measured["compute"])

    by_id = {row[0]: row for row in hand_rows}
    mismatches = [row["id"] for row in orm_rows if tuple(row[f] for f in FIELDS) != tuple(by_id[row["id"]])]
    print(f"rows: hand SQL {len(hand_rows):,}, ORM {len(orm_rows):,}, cards {cards:,}; "
          f"figures differing: {len(mismatches)}")
    print(f"hand-written SQL statement (median of {options.repeat}, alternating): {hand_seconds * 1000:,.0f} ms")
    print(f"ORM figures query:                  {orm_seconds * 1000:,.0f} ms  ({orm_seconds / hand_seconds:.2f}x)")
    print(f"whole computation with upsert:      {compute_seconds * 1000:,.0f} ms  "
          f"({compute_seconds / hand_seconds:.2f}x)")
    if options.json:
        Path(options.json).write_text(json.dumps({
            "counts": counts(), "hand_ms": hand_seconds * 1000, "orm_ms": orm_seconds * 1000,
            "compute_ms": compute_seconds * 1000, "figures_differing": len(mismatches), "cards": cards}))


if __name__ == "__main__":
    main()
