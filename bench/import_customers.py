"""Benchmark the customers CSV import against PostgreSQL COPY of the same rows. Run by hand, never in CI.

In one run:
  1. generate N valid rows in the sample's format (GBK, bench/../customers/import_mappings/
     core_banking_customers.json), streamed to disk;
  2. import them with the real engine (services.import_run: validation, Fernet encryption of
     ID number and phone, blind indexes, batches of 2,000) and time it: rows/s and peak RSS
     of this process (resource.getrusage, so it includes generation, which is streamed);
  3. optionally re-import the same file (every row "unchanged": fetch + decrypt + compare);
  4. COPY the same file into a scratch table with the same column types and a unique index
     on the customer number: the physical limit of loading these rows; and COPY the imported
     rows (encrypted) into a clone of customers_customer with all its indexes: the limit of
     loading them into this schema;
  5. time Fernet encryption of the two PII values of a row on a sample (the unavoidable cost).

    DJANGO_SETTINGS_MODULE=crm_project.settings.local \
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench_import CELERY_BROKER_URL=redis://127.0.0.1:6379/12 \
    .venv/bin/python bench/import_customers.py --rows 1000000 [--reimport] [--keep-file]

The database must be migrated. Customers whose number starts with "8" are deleted first (the
bench's range), and the scratch table is dropped at the end.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings.local")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection  # noqa: E402

from accounts.models import Branch, Role, User  # noqa: E402
from bench.suite import Figure, Run, benchmark  # noqa: E402
from core import crypto  # noqa: E402
from customers import importing, services  # noqa: E402
from customers.models import Customer  # noqa: E402

HEADER = ["CUST_NO", "CUST_NAME", "SEX_CD", "BIRTH_DT", "CERT_TYPE", "CERT_NO", "MOBILE", "OPEN_DT", "ORG_NO",
          "MGR_NO", "AUM_BAL", "ANNUAL_INCOME", "RISK_LVL", "CUST_STAT", "CLOSE_DT"]
BRANCHES = {"0101": ("E1001",), "0102": ("E1002",), "0205": ("E2001",)}
FAMILY = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "建国", "子涵", "海燕", "丽娟"]
REGIONS = ["110108", "320506", "440106", "510104"]
COPY_TABLE = "bench_import_customers_copy"
REPEATS = 3  # runs per figure in the suite at up to 20,000 rows (median)


def generate(path: Path, rows: int, seed: int) -> None:
    """Write N valid rows, GBK, streamed (one row in memory at a time)."""
    rng = random.Random(seed)
    with path.open("w", encoding="gbk", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(HEADER)
        for n in range(rows):
            birth = date(1950, 1, 1) + timedelta(days=rng.randrange(20000))
            first_17 = f"{rng.choice(REGIONS)}{birth:%Y%m%d}{rng.randrange(1000):03d}"
            org = rng.choice(list(BRANCHES))
            closed = rng.random() < 0.1
            writer.writerow([
                f"8{n:011d}", rng.choice(FAMILY) + rng.choice(GIVEN), rng.choice("12"), f"{birth:%Y%m%d}", "10",
                first_17 + services.resident_id_check_character(first_17),
                f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}",
                f"{date(2005, 1, 1) + timedelta(days=rng.randrange(7000)):%Y%m%d}", org, BRANCHES[org][0],
                f"{rng.randrange(10**8) / 100:.2f}", f"{rng.randrange(10**8) / 100:.2f}", f"R{rng.randrange(1, 6)}",
                "C" if closed else "A", "20240601" if closed else "",
            ])


def ensure_org() -> None:
    for code, staff_numbers in BRANCHES.items():
        branch, _ = Branch.objects.get_or_create(code=code, defaults={"name": f"Bench {code}"})
        for staff_number in staff_numbers:
            user, _ = User.objects.get_or_create(staff_number=staff_number,
                                                 defaults={"username": f"bench_{staff_number}", "branch": branch})
            # customers.rules: an RM is an active user holding the RM role, in the customer's branch.
            user.groups.add(Group.objects.get_or_create(name=Role.RELATIONSHIP_MANAGER)[0])


def run_import(path: Path, *, dry_run: bool = False) -> tuple[importing.ImportResult, float]:
    started = time.perf_counter()
    with path.open("rb") as source:
        result = services.import_run(
            source=source, file_name=path.name, mapping=importing.mapping_load(name_or_path="core_banking_customers"),
            bytes_total=path.stat().st_size, by=None, report_stream=io.StringIO(), dry_run=dry_run,
        )
    return result, time.perf_counter() - started


def run_copy(path: Path) -> float:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {COPY_TABLE}")
        cursor.execute(f"""
            CREATE TABLE {COPY_TABLE} (
                cust_no varchar(32) NOT NULL UNIQUE, cust_name varchar(100), sex_cd varchar(10), birth_dt date,
                cert_type varchar(4), cert_no text, mobile text, open_dt date, org_no varchar(20),
                mgr_no varchar(20), aum_bal numeric(18, 2), annual_income numeric(18, 2), risk_lvl varchar(2),
                cust_stat varchar(10), close_dt date)
        """)
    connection.commit() if not connection.get_autocommit() else None
    started = time.perf_counter()
    with connection.cursor() as cursor, path.open("rb") as source:
        cursor.cursor.copy_expert(
            f"COPY {COPY_TABLE} FROM STDIN WITH (FORMAT csv, HEADER true, ENCODING 'GBK')", source)
    elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {COPY_TABLE}")
    return elapsed


def run_copy_into_schema() -> tuple[int, float]:
    """COPY the imported rows (already encrypted) into a clone of customers_customer with all its indexes.

    The physical limit of loading exactly these rows into this schema: the same columns,
    ciphertexts, blind indexes and the same seven indexes (trigram included) to maintain.
    """
    clone = "bench_import_customers_clone"
    dump = io.StringIO()
    # Generated columns (the completeness score) are computed by the clone, as by the real table.
    columns = ", ".join(f.column for f in Customer._meta.concrete_fields if not f.generated)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {clone}")
        cursor.execute(f"CREATE TABLE {clone} (LIKE customers_customer INCLUDING ALL)")
        cursor.cursor.copy_expert(
            f"COPY (SELECT {columns} FROM customers_customer WHERE external_id LIKE '8%') TO STDOUT", dump)
    rows = dump.getvalue().count("\n")
    dump.seek(0)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(f"COPY {clone} ({columns}) FROM STDIN", dump)
    elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {clone}")
    return rows, elapsed


def encryption_rate(sample_rows: int = 20_000) -> float:
    """Rows/s of encrypting a row's two PII values and computing their blind indexes, one core."""
    started = time.perf_counter()
    for n in range(sample_rows):
        crypto.encrypt(plaintext=f"11010819800101{n:04d}")
        crypto.encrypt(plaintext=f"139{n:08d}")
        crypto.blind_index(kind="id_number", value=f"11010819800101{n:04d}")
        crypto.blind_index(kind="phone", value=f"139{n:08d}")
    return sample_rows / (time.perf_counter() - started)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@benchmark("import")
def run_benchmark(run: Run) -> list[Figure]:
    """Insert path, then the update path (the same customer numbers, changed values), against COPY + encryption.

    Rows: a tenth of the book, at least 10,000 and at most 200,000. Each figure and the bound are
    the median of ``REPEATS`` runs (a single run at 10,000 rows, about a second, varied from 4.4x
    to 5.9x on one idle host). The bench's customers (numbers starting with "8") are deleted
    (and the table vacuumed) before each insert run, and deleted afterwards, so the book keeps its size.
    """
    rows = max(10_000, min(200_000, run.customers // 10))
    repeats = REPEATS if rows <= 20_000 else 1
    settings.DEBUG = False
    ensure_org()
    workdir = Path(tempfile.mkdtemp(prefix="bench-import-"))
    inserts, updates = workdir / "customers.csv", workdir / "customers-changed.csv"
    try:
        generate(inserts, rows, 1)
        generate(updates, rows, 2)  # same customer numbers, other values
        insert_runs, update_runs, bound_runs = [], [], []
        for _ in range(repeats):
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM customers_customer WHERE external_id LIKE '8%%'")
                # The previous run's 20,000 dead rows: vacuumed now, as the suite does between benchmarks,
                # not by an autovacuum that starts in the middle of the next run (its update path measured
                # 1.19 s and 1.46 s in one suite run).
                cursor.execute("VACUUM (ANALYZE) customers_customer")
            created, insert_seconds = run_import(inserts)
            changed, update_seconds = run_import(updates)
            insert_runs.append(insert_seconds)
            update_runs.append(update_seconds)
            bound_runs.append(run_copy(inserts) + rows / encryption_rate())
        print("[import] seconds per run: " + "; ".join(
            f"{name} " + " / ".join(f"{seconds:.2f}" for seconds in runs)
            for name, runs in (("insert", insert_runs), ("update", update_runs), ("bound", bound_runs))), flush=True)
        insert_seconds, update_seconds, bound_seconds = (
            statistics.median(runs) for runs in (insert_runs, update_runs, bound_runs))
    finally:
        for path in (inserts, updates):
            path.unlink(missing_ok=True)
        workdir.rmdir()
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM customers_customer WHERE external_id LIKE '8%%'")
    return [
        Figure(job=f"CSV import, new customers ({rows:,} rows)", figure=insert_seconds, unit="s",
               baseline=bound_seconds, baseline_label="COPY + encryption", target=("ratio<=", 5),
               note=f"{created.created:,} created"),
        Figure(job=f"CSV import, update path ({rows:,} rows changed)", figure=update_seconds, unit="s",
               baseline=bound_seconds, baseline_label="COPY + encryption", target=("ratio<=", 5),
               note=f"{changed.updated:,} updated, {changed.unchanged:,} unchanged"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reimport", action="store_true", help="Also time re-importing the same file.")
    parser.add_argument("--keep-file", action="store_true")
    args = parser.parse_args()
    # Local settings run with DEBUG, which keeps the SQL of every query (each bulk INSERT is
    # megabytes): that would measure the query log, not the import.
    settings.DEBUG = False

    ensure_org()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM customers_customer WHERE external_id LIKE '8%%'")
    workdir = Path(tempfile.mkdtemp(prefix="bench-import-"))
    path = workdir / "customers.csv"
    started = time.perf_counter()
    generate(path, args.rows, args.seed)
    print(f"generated {args.rows:,} rows, {path.stat().st_size / 2**20:,.1f} MiB GBK in "
          f"{time.perf_counter() - started:.1f} s; RSS so far {peak_rss_mib():,.0f} MiB")

    dry, dry_seconds = run_import(path, dry_run=True)
    print(f"dry run:  {dry.counts()} in {dry_seconds:,.1f} s = {dry.read / dry_seconds:,.0f} rows/s (nothing written)")
    result, import_seconds = run_import(path)
    import_rate = result.read / import_seconds
    print(f"import:   {result.counts()} in {import_seconds:,.1f} s = {import_rate:,.0f} rows/s; "
          f"peak RSS {peak_rss_mib():,.0f} MiB")
    if args.reimport:
        again, again_seconds = run_import(path)
        print(f"re-import: {again.counts()} in {again_seconds:,.1f} s = {again.read / again_seconds:,.0f} rows/s; "
              f"peak RSS {peak_rss_mib():,.0f} MiB")

    schema_rows, schema_seconds = run_copy_into_schema()
    copy_seconds = run_copy(path)
    copy_rate = args.rows / copy_seconds
    crypto_rate = encryption_rate()
    bound_seconds = copy_seconds + args.rows / crypto_rate
    print(f"COPY:     {args.rows:,} rows in {copy_seconds:,.1f} s = {copy_rate:,.0f} rows/s")
    print(f"encryption (2 PII values + 2 blind indexes a row, one core): {crypto_rate:,.0f} rows/s")
    print(f"COPY of the imported rows into a clone of customers_customer (all indexes): "
          f"{schema_rows:,} rows in {schema_seconds:,.1f} s = {schema_rows / schema_seconds:,.0f} rows/s")
    print(f"ratio import / COPY: {import_seconds / copy_seconds:.1f}x; "
          f"import / (COPY + encryption): {import_seconds / bound_seconds:.1f}x; "
          f"import / (COPY into the schema + encryption): "
          f"{import_seconds / (schema_seconds + args.rows / crypto_rate):.1f}x")
    if not args.keep_file:
        path.unlink()
        workdir.rmdir()
    else:
        print(f"file kept: {path}")


if __name__ == "__main__":
    main()
