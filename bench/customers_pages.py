"""Benchmark for the customer-information issue (#3). Run by hand, never in CI.

Measures, on an already seeded PostgreSQL database (see bench/README.md):
  * server time of "My customers" and the customer 360 page for an RM (median and p95 over
    repeated in-process requests through Django's full middleware stack, no network) and the
    number of queries per page;
  * the row-scoping filter of customer_list_visible_to() against a plain
    ``WHERE relationship_manager_id = ...`` (PostgreSQL execution time, EXPLAIN ANALYZE);
  * the data-quality pass over all customers against its physical limit measured in the same
    run: one hand-written SQL statement computing the same SQL-side defects, plus decrypting
    the phone and ID numbers the encrypted-field rules must read.

    ALLOWED_HOSTS=testserver DJANGO_SETTINGS_MODULE=crm_project.settings.local \
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench_1m CELERY_BROKER_URL=redis://127.0.0.1:6379/9 \
    .venv/bin/python bench/customers_pages.py --requests 100 [--skip-data-quality]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings.local")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts.models import User  # noqa: E402
from bench.suite import Figure, Run, benchmark  # noqa: E402
from core import crypto  # noqa: E402
from customers import selectors, services  # noqa: E402
from customers.models import Customer  # noqa: E402


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def time_requests(client: Client, url: str, repeats: int) -> dict:
    for _ in range(5):  # warm caches and connections
        client.get(url)
    samples_ms = []
    for _ in range(repeats):
        started = time.perf_counter()
        response = client.get(url)
        samples_ms.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return {"url": url, "median_ms": round(statistics.median(samples_ms), 1),
            "p95_ms": round(percentile(samples_ms, 0.95), 1), "queries": len(queries)}


def explain_ms(sql: str, params, repeats: int) -> float:
    samples = []
    with connection.cursor() as cursor:
        for _ in range(repeats):
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
            samples.append(cursor.fetchone()[0][0]["Execution Time"])
    return statistics.median(samples)


def bench_scoping(rm: User, repeats: int) -> dict:
    """The selector's first page against the same query scoped by a plain equality.

    Both select the same columns and joins in the same order, so the ratio isolates the scoping
    filter (``relationship_manager_id IN (own id + active delegators)`` after one lookup of
    delegations) from everything else. Measured twice: PostgreSQL execution time of the page
    query (EXPLAIN ANALYZE), and end-to-end Python time including the delegation lookup and
    building the 50 model instances.
    """
    def scoped():
        return selectors.customer_list_visible_to(user=rm).for_listing().order_by("name", "id")[:50]

    def plain():
        return (Customer.objects.select_related("branch", "relationship_manager").for_listing()
                .filter(relationship_manager_id=rm.pk).order_by("name", "id")[:50])

    scoped_sql, scoped_params = scoped().query.sql_with_params()
    plain_sql, plain_params = plain().query.sql_with_params()
    for _ in range(3):
        explain_ms(scoped_sql, scoped_params, 1)
        explain_ms(plain_sql, plain_params, 1)
    scoped_db_ms = explain_ms(scoped_sql, scoped_params, repeats)
    plain_db_ms = explain_ms(plain_sql, plain_params, repeats)

    def python_ms(make) -> float:
        for _ in range(3):
            list(make())
        samples = []
        for _ in range(repeats):
            started = time.perf_counter()
            list(make())
            samples.append((time.perf_counter() - started) * 1000)
        return statistics.median(samples)

    scoped_py_ms, plain_py_ms = python_ms(scoped), python_ms(plain)
    return {"db_selector_ms": round(scoped_db_ms, 3), "db_plain_where_ms": round(plain_db_ms, 3),
            "db_ratio": round(scoped_db_ms / plain_db_ms, 2),
            "python_selector_ms": round(scoped_py_ms, 2), "python_plain_where_ms": round(plain_py_ms, 2),
            "python_ratio": round(scoped_py_ms / plain_py_ms, 2)}


BASELINE_SQL = """
SELECT
  count(*) FILTER (WHERE c.name = '' OR c.gender = 'unknown' OR c.birth_date IS NULL OR c.occupation = ''
                   OR c.phone IS NULL OR c.phone = '' OR c.id_number IS NULL OR c.id_number = ''),
  count(*) FILTER (WHERE c.total_assets IS NULL OR c.liabilities IS NULL OR c.annual_income IS NULL),
  count(*) FILTER (WHERE c.preferred_channel = ''),
  count(*) FILTER (WHERE c.credit_rating = '' OR c.risk_tolerance = ''),
  count(*) FILTER (WHERE c.info_updated_at IS NULL OR c.info_updated_at < now() - make_interval(days => %(days)s)),
  count(*) FILTER (WHERE c.total_assets IS NOT NULL
                   AND abs(c.total_assets - coalesce(h.assets, 0)) * 100 > %(pct)s * abs(coalesce(h.assets, 0)))
FROM customers_customer c
LEFT JOIN (SELECT h.customer_id, sum(h.balance) AS assets FROM customers_holding h
           JOIN customers_product p ON p.id = h.product_id
           WHERE p.category IN ('deposit', 'wealth', 'insurance') AND h.closed_on IS NULL
           GROUP BY h.customer_id) h ON h.customer_id = c.id
WHERE c.status = 'active'
"""


def bench_data_quality() -> dict:
    policy = selectors.data_quality_policy_latest()
    # Physical limit, part 1: one statement computing the same SQL-side defects.
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(BASELINE_SQL, {"days": policy.stale_after_days, "pct": policy.assets_tolerance_pct})
        cursor.fetchone()
    sql_seconds = time.perf_counter() - started
    # Part 2: the encrypted-field rules must decrypt every phone and ID number at least once.
    started = time.perf_counter()
    decrypted = 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone, id_number FROM customers_customer WHERE status = 'active'")
        while rows := cursor.fetchmany(5000):
            for phone, id_number in rows:
                for stored in (phone, id_number):
                    if stored:
                        crypto.decrypt(stored=stored)
                        decrypted += 1
    decrypt_seconds = time.perf_counter() - started
    # Ours: the whole pass, opening / resolving issues (completeness scores are a generated column).
    started = time.perf_counter()
    result = services.data_quality_run()
    first_seconds = time.perf_counter() - started
    started = time.perf_counter()
    services.data_quality_run()
    rerun_seconds = time.perf_counter() - started
    baseline = sql_seconds + decrypt_seconds
    return {
        "customers": Customer.objects.count(), "values_decrypted": decrypted,
        "baseline_sql_s": round(sql_seconds, 2), "baseline_decrypt_s": round(decrypt_seconds, 2),
        "pass_first_run_s": round(first_seconds, 2), "pass_rerun_s": round(rerun_seconds, 2),
        "ratio_first_run": round(first_seconds / baseline, 2), "ratio_rerun": round(rerun_seconds / baseline, 2),
        "opened": result.opened,
    }


def _rm_and_detail(username: str) -> tuple[User, int]:
    rm = User.objects.get(username=username)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.id FROM customers_customer c JOIN customers_transaction t ON t.customer_id = c.id "
            "WHERE c.relationship_manager_id = %s GROUP BY c.id ORDER BY count(*) DESC LIMIT 1", [rm.pk])
        row = cursor.fetchone()
    return rm, row[0] if row else selectors.customer_list_visible_to(user=rm).first().pk


@benchmark("customers")
def run_benchmark(run: Run) -> list[Figure]:
    """The RM's pages, the row scope against a plain WHERE, and the data-quality pass (first run opens issues)."""
    requests = run.options.get("requests", 60)
    rm, detail_id = _rm_and_detail("rm1")
    client = Client()
    client.force_login(rm)
    listing = time_requests(client, "/customers/", requests)
    detail = time_requests(client, f"/customers/{detail_id}/", requests)
    scoping = bench_scoping(rm, max(20, requests // 2))
    figures = [
        Figure(job="My customers, median", figure=listing["median_ms"], unit="ms", target=("<=", 25)),
        Figure(job="My customers, p95", figure=listing["p95_ms"], unit="ms", target=("<=", 50)),
        Figure(job="customer 360, median", figure=detail["median_ms"], unit="ms", target=("<=", 60)),
        Figure(job="customer 360, p95", figure=detail["p95_ms"], unit="ms", target=("<=", 120)),
        Figure(job="RM scope in the database", figure=scoping["db_selector_ms"], unit="ms",
               baseline=scoping["db_plain_where_ms"], baseline_label="plain WHERE", target=("ratio<=", 2)),
        Figure(job="RM scope end to end", figure=scoping["python_selector_ms"], unit="ms",
               baseline=scoping["python_plain_where_ms"], baseline_label="plain WHERE", target=("ratio<=", 2)),
    ]
    # A first pass over a book with no issues yet (a first import, a new rule): delete the issues.
    from customers.models import DataQualityIssue

    DataQualityIssue.objects.all().delete()
    quality = bench_data_quality()
    limit = quality["baseline_sql_s"] + quality["baseline_decrypt_s"]
    figures += [
        Figure(job="data-quality pass, first run (opens issues)", figure=quality["pass_first_run_s"], unit="s",
               baseline=limit, baseline_label="SQL + decryption", target=("ratio<=", 3),
               note=f"{quality['opened']:,} issues opened"),
        Figure(job="data-quality pass, re-run", figure=quality["pass_rerun_s"], unit="s",
               baseline=limit, baseline_label="SQL + decryption", target=("ratio<=", 3)),
    ]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--rm", default="rm1")
    parser.add_argument("--skip-data-quality", action="store_true")
    args = parser.parse_args()

    rm = User.objects.get(username=args.rm)
    rm_customers = selectors.customer_list_visible_to(user=rm).count()
    total = Customer.objects.count()
    print(f"dataset: {total:,} customers; {args.rm} manages {rm_customers:,}", flush=True)
    client = Client()
    client.force_login(rm)
    # The 360 page of the RM's customer with the most transactions (the heaviest page).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.id FROM customers_customer c JOIN customers_transaction t ON t.customer_id = c.id "
            "WHERE c.relationship_manager_id = %s GROUP BY c.id ORDER BY count(*) DESC LIMIT 1", [rm.pk])
        row = cursor.fetchone()
    detail_id = row[0] if row else selectors.customer_list_visible_to(user=rm).first().pk
    report = {
        "customers_total": total, "rm_customers": rm_customers, "requests": args.requests,
        "list": time_requests(client, "/customers/", args.requests),
        "list_search": time_requests(client, "/customers/?q=%E7%8E%8B", args.requests),
        "detail": time_requests(client, f"/customers/{detail_id}/", args.requests),
        "scoping": bench_scoping(rm, max(20, args.requests // 2)),
    }
    if not args.skip_data_quality:
        report["data_quality"] = bench_data_quality()
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
