"""Benchmark for the REST API (issue #4). Run by hand, never in CI.

Measures, in one run, on a seeded PostgreSQL database (see bench/README.md):
  * bulk transaction ingest through POST /api/v1/transactions/bulk/ (Django's full middleware
    and DRF stack, in-process through django.test.Client, no network): N rows in requests of
    10,000, as rows/s, and PostgreSQL COPY of the same rows into the same (emptied) table
    measured in the same run, as a ratio;
  * the customers list endpoint (50 rows a page, masked PII, cursor pagination at random
    positions across all customers) as an API key that sees every customer: median and p95
    server time, and queries per page.

Run by hand (main), it never writes to the seeded tables. Everything it writes goes to a schema of its own,
``api_bench``, put first on the connection's search_path: an empty copy of the transactions
table (same columns, indexes, constraints and the foreign key to the real customers), of the
audit log and of the API-key table (the bench's key lives there). The customers, branches and
users it reads are the seeded ones. The schema is dropped at the end (also on failure).

    ALLOWED_HOSTS=testserver DJANGO_SETTINGS_MODULE=crm_project.settings.local API_THROTTLE_RATE=1000000/min \
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench_1m CELERY_BROKER_URL=redis://127.0.0.1:6379/9 \
    .venv/bin/python bench/api_bench.py --rows 1000000 --list-requests 300

In `make bench` (run_benchmark) the ingest goes into the real transactions table, with its indexes
and the seeded rows, against COPY of the same rows into the same table; both sets are deleted after.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings.local")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.db.backends.signals import connection_created  # noqa: E402
from django.test import Client  # noqa: E402

from accounts import services as account_services  # noqa: E402
from bench.suite import Figure, Run, benchmark  # noqa: E402
from core.api.pagination import cursor_encode  # noqa: E402

SCHEMA = "api_bench"
BATCH_ROWS = 10_000
CHANNELS = ("branch", "phone", "online", "mobile", "atm", "pos")
TYPES = ("deposit", "withdrawal", "transfer", "payment", "purchase", "redemption", "repayment")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _search_path(sender, connection, **kwargs) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"SET search_path TO {SCHEMA}, public")


def schema_create() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        cursor.execute(f"CREATE SCHEMA {SCHEMA}")
        for table in ("customers_transaction", "core_auditevent", "accounts_apikey"):
            cursor.execute(f"CREATE TABLE {SCHEMA}.{table} (LIKE public.{table} INCLUDING ALL)")
        cursor.execute(
            f"ALTER TABLE {SCHEMA}.customers_transaction ADD CONSTRAINT bench_txn_customer_fk "
            "FOREIGN KEY (customer_id) REFERENCES public.customers_customer (id) DEFERRABLE INITIALLY DEFERRED"
        )
    connection_created.connect(_search_path)
    _search_path(None, connection)


def schema_drop() -> None:
    connection_created.disconnect(_search_path)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


def dataset_sizes() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM public.customers_customer")
        customers = cursor.fetchone()[0]
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = 'public.customers_transaction'::regclass")
        transactions = cursor.fetchone()[0]
    return {"customers": customers, "seeded_transactions_estimate": transactions}


def sample_customers(count: int, seed: int) -> list[tuple[int, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [seed / 1000])
        cursor.execute(
            "SELECT id, external_id FROM public.customers_customer TABLESAMPLE SYSTEM (2) REPEATABLE (%s) LIMIT %s",
            [seed, count],
        )
        return cursor.fetchall()


def make_rows(total: int, customers: list[tuple[int, str]], seed: int, prefix: str = "APIBENCH") -> list[dict]:
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for number in range(total):
        _customer_id, external_id = customers[rng.randrange(len(customers))]
        occurred_at = start + timedelta(seconds=rng.randrange(300 * 86400))
        rows.append({
            "external_ref": f"{prefix}{number:012d}",
            "customer_external_id": external_id,
            "occurred_at": occurred_at.isoformat(),
            "amount": f"{rng.randrange(1, 5_000_000) / 100:.2f}",
            "direction": "in" if rng.random() < 0.5 else "out",
            "channel": CHANNELS[rng.randrange(len(CHANNELS))],
            "type": TYPES[rng.randrange(len(TYPES))],
        })
    return rows


def bench_ingest(client: Client, rows: list[dict]) -> dict:
    bodies = [json.dumps({"rows": rows[start:start + BATCH_ROWS]}).encode()
              for start in range(0, len(rows), BATCH_ROWS)]
    samples_ms, inserted = [], 0
    started = time.perf_counter()
    for body in bodies:
        request_started = time.perf_counter()
        response = client.post("/api/v1/transactions/bulk/", body, content_type="application/json")
        samples_ms.append((time.perf_counter() - request_started) * 1000)
        assert response.status_code == 200, (response.status_code, response.content[:500])
        inserted += response.json()["inserted"]
    seconds = time.perf_counter() - started
    assert inserted == len(rows), inserted
    # A retry of the first batch: every row already present, nothing written.
    retry_started = time.perf_counter()
    retry = client.post("/api/v1/transactions/bulk/", bodies[0], content_type="application/json").json()
    retry_ms = (time.perf_counter() - retry_started) * 1000
    assert retry["already_present"] == min(BATCH_ROWS, len(rows)), retry
    return {"seconds": seconds, "rows_per_s": len(rows) / seconds, "request_ms_median": statistics.median(samples_ms),
            "request_ms_p95": percentile(samples_ms, 0.95), "bytes_per_request": len(bodies[0]),
            "retry_ms": retry_ms}


def bench_copy_into_real_table(rows: list[dict], prefix: str) -> dict:
    """COPY the same rows (other references) into the real transactions table with all its indexes."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT external_id, id FROM public.customers_customer WHERE external_id = ANY(%s)",
                       [sorted({row["customer_external_id"] for row in rows})])
        customer_ids = dict(cursor.fetchall())
    buffer = io.StringIO()
    for number, row in enumerate(rows):
        buffer.write(f"{prefix}{number:012d}\t{customer_ids[row['customer_external_id']]}\t{row['occurred_at']}\t"
                     f"{row['amount']}\t{row['direction']}\t{row['channel']}\t{row['type']}\n")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.copy_expert(
            "COPY public.customers_transaction (external_ref, customer_id, occurred_at, amount, direction, "
            "channel, type) FROM STDIN", io.StringIO(buffer.getvalue()),
        )
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows_per_s": len(rows) / seconds}


INGEST_ROWS = {"10k": 100_000, "100k": 500_000, "1m": 1_000_000}


@benchmark("api")
def run_benchmark(run: Run) -> list[Figure]:
    """Bulk ingest into the real transactions table (its indexes, the seeded rows), and the customers list."""
    from customers.models import Transaction

    stamp = f"{int(time.time()):x}".upper()
    api_prefix, copy_prefix = f"APIB{stamp}", f"COPY{stamp}"
    _api_key, raw_key = account_services.api_key_create(
        name=f"api-bench-{stamp}", scopes=["customers:read", "transactions:write"], by=None)
    client = Client(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    rows = make_rows(INGEST_ROWS[run.scale], sample_customers(20_000, 7), 7, prefix=api_prefix)
    try:
        ingest = bench_ingest(client, rows)
        copy = bench_copy_into_real_table(rows, copy_prefix)
    finally:
        for prefix in (api_prefix, copy_prefix):
            Transaction.objects.filter(external_ref__startswith=prefix).delete()
    listing = bench_list(client, requests=run.options.get("list_requests", 200), seed=7)
    return [
        Figure(job=f"API bulk ingest into the real table ({len(rows):,} rows)", figure=ingest["rows_per_s"],
               unit="rows/s", baseline=copy["rows_per_s"], baseline_label="COPY into the same table",
               target=(">=", 20_000)),
        Figure(job="API customers list page, p95", figure=listing["p95_ms"], unit="ms", target=("<=", 30)),
    ]


def bench_copy(rows: list[dict]) -> dict:
    """COPY the same rows (customer ids resolved beforehand, as any loader must) into the emptied table."""
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {SCHEMA}.customers_transaction")
        cursor.execute("SELECT external_id, id FROM public.customers_customer WHERE external_id = ANY(%s)",
                       [sorted({row["customer_external_id"] for row in rows})])
        customer_ids = dict(cursor.fetchall())
    buffer = io.StringIO()
    for row in rows:
        buffer.write(f"{row['external_ref']}\t{customer_ids[row['customer_external_id']]}\t{row['occurred_at']}\t"
                     f"{row['amount']}\t{row['direction']}\t{row['channel']}\t{row['type']}\n")
    data = buffer.getvalue()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.copy_expert(
            f"COPY {SCHEMA}.customers_transaction (external_ref, customer_id, occurred_at, amount, direction, "
            "channel, type) FROM STDIN", io.StringIO(data),
        )
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows_per_s": len(rows) / seconds}


def bench_list(client: Client, *, requests: int, seed: int) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM public.customers_customer")
        min_id, max_id = cursor.fetchone()
    rng = random.Random(seed)
    urls = ["/api/v1/customers/?page_size=50"] + [
        f"/api/v1/customers/?page_size=50&cursor={cursor_encode([rng.randrange(min_id, max_id - 100)])}"
        for _ in range(requests - 1)
    ]
    for url in urls[:10]:  # warm caches and the connection
        client.get(url)
    samples_ms = []
    for url in urls:
        started = time.perf_counter()
        response = client.get(url)
        samples_ms.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200 and len(response.json()["results"]) == 50, response.content[:300]
    queries = []
    with connection.execute_wrapper(lambda execute, sql, params, many, context: queries.append(sql) or
                                    execute(sql, params, many, context)):
        assert client.get(urls[-1]).status_code == 200
    filtered = []
    for url in ("/api/v1/customers/?page_size=50&status=active&branch=" + _some_branch_code(),
                "/api/v1/customers/?page_size=50&search=" + "王"):
        for _ in range(5):
            client.get(url)
        times = []
        for _ in range(30):
            started = time.perf_counter()
            assert client.get(url).status_code == 200
            times.append((time.perf_counter() - started) * 1000)
        filtered.append((url.split("&", 1)[1], statistics.median(times), percentile(times, 0.95)))
    return {"median_ms": statistics.median(samples_ms), "p95_ms": percentile(samples_ms, 0.95),
            "max_ms": max(samples_ms), "queries": len(queries), "requests": len(urls), "filtered": filtered}


def _some_branch_code() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT code FROM public.accounts_branch WHERE NOT is_head_office ORDER BY code LIMIT 1")
        return cursor.fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--list-requests", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    print(f"database {connection.settings_dict['NAME']}: {dataset_sizes()}")
    schema_create()
    try:
        _api_key, raw_key = account_services.api_key_create(
            name="api-bench", scopes=["customers:read", "transactions:write"], by=None
        )
        client = Client(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
        customers = sample_customers(20_000, args.seed)
        rows = make_rows(args.rows, customers, args.seed)
        print(f"ingest: {args.rows:,} rows over {len(customers):,} customers, {BATCH_ROWS:,} rows a request")

        ingest = bench_ingest(client, rows)
        print(f"  API bulk ingest: {ingest['seconds']:.1f} s, {ingest['rows_per_s']:,.0f} rows/s; per request of "
              f"{BATCH_ROWS:,} rows ({ingest['bytes_per_request'] / 1e6:.1f} MB): median "
              f"{ingest['request_ms_median']:.0f} ms, p95 {ingest['request_ms_p95']:.0f} ms; retry of a stored batch "
              f"{ingest['retry_ms']:.0f} ms")
        copy = bench_copy(rows)
        print(f"  PostgreSQL COPY of the same rows: {copy['seconds']:.1f} s, {copy['rows_per_s']:,.0f} rows/s")
        print(f"  API / COPY throughput: {ingest['rows_per_s'] / copy['rows_per_s']:.2f}")

        listing = bench_list(client, requests=args.list_requests, seed=args.seed)
        print(f"customers list, 50 a page, {listing['requests']} pages at random cursors (API key, all customers, "
              f"masked PII): median {listing['median_ms']:.1f} ms, p95 {listing['p95_ms']:.1f} ms, "
              f"max {listing['max_ms']:.1f} ms, {listing['queries']} queries a page")
        for query, median_ms, p95_ms in listing["filtered"]:
            print(f"  filtered first page ({query}): median {median_ms:.1f} ms, p95 {p95_ms:.1f} ms")
    finally:
        schema_drop()
        print(f"dropped schema {SCHEMA}; the seeded tables were only read")


if __name__ == "__main__":
    main()
