"""Benchmark for the complaints issue (#6). Run by hand, never in CI.

Generates 1,000,000 complaints (100,000 open) in its own database with INSERT ... SELECT
generate_series, then measures:
  * the breach scan (complaints.services.complaint_breach_scan): one run per simulated minute
    in steady state (each flags what fell due in that minute), and a catch-up run after six
    hours of scheduler downtime; all inside a transaction rolled back at the end (by hand, main);
    in `make bench` (run_benchmark) each scan commits and the outbox relay publishes after it;
  * the desk queue page's server time (median, p95 over repeated in-process requests through
    Django's full middleware stack) and its query count, for a branch desk and for head office.

    psql -h 127.0.0.1 -U postgres -c "create database crm_bench_cmp"
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench_cmp CELERY_BROKER_URL=redis://127.0.0.1:6379/6
    export DJANGO_SETTINGS_MODULE=crm_project.settings.local ALLOWED_HOSTS=testserver
    .venv/bin/python manage.py migrate && .venv/bin/python manage.py seed_demo --customers 5000 --seed 1 \
        --months 1 --transactions-per-month 1 --skip-data-quality
    .venv/bin/python bench/complaints_bench.py --generate --requests 50
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings.local")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import User  # noqa: E402
from bench.suite import Figure, Run, benchmark  # noqa: E402
from complaints import services  # noqa: E402
from complaints.models import Complaint, ComplaintCategory, SlaPolicy  # noqa: E402

TOTAL = 1_000_000
OPEN = 100_000

GENERATE_SQL = """
WITH cust AS (SELECT array_agg(id ORDER BY id) AS ids, count(*) AS n FROM customers_customer),
     cats AS (SELECT array_agg(id ORDER BY id) AS ids, count(*) AS n FROM complaints_complaintcategory
              WHERE id NOT IN (SELECT parent_id FROM complaints_complaintcategory WHERE parent_id IS NOT NULL)),
     prods AS (SELECT array_agg(id ORDER BY id) AS ids, count(*) AS n FROM customers_product),
     raw AS (
        SELECT g, g > %(closed)s AS is_open, random() AS r1, random() AS r2, random() AS r3, random() AS r4,
               random() AS r5
          FROM generate_series(1, %(total)s) AS g
     ),
     timed AS (
        SELECT raw.*,
               CASE WHEN is_open THEN
                    -- 90 %% received within the last 47 h (clocks running), 10 %% 48-96 h ago (overdue)
                    %(now)s::timestamptz - make_interval(secs => CASE WHEN r1 < 0.9 THEN r1 / 0.9 * 47 * 3600
                                                                     ELSE (48 + (r1 - 0.9) * 480) * 3600 END)
               ELSE %(now)s::timestamptz - interval '4 days' - make_interval(secs => r1 * 730 * 86400) END
                   AS received_at
          FROM raw
     ),
     shaped AS (
        SELECT t.*,
               t.received_at + make_interval(mins => %(fr)s) AS fr_due,
               t.received_at + make_interval(mins => %(res)s) AS res_due,
               CASE WHEN NOT t.is_open OR t.r2 < 0.7 THEN t.received_at + make_interval(secs => 600 + t.r2 * 30 * 3600)
                    END AS fr_at_raw
          FROM timed t
     ),
     final AS (
        SELECT s.*,
               CASE WHEN s.fr_at_raw <= %(now)s THEN s.fr_at_raw END AS fr_at,
               CASE WHEN NOT s.is_open
                    THEN greatest(s.fr_at_raw, s.received_at + make_interval(secs => s.r3 * 70 * 3600))
                    END AS resolved_at
          FROM shaped s
     )
INSERT INTO complaints_complaint (
    reference, customer_id, contact_name, contact_phone, branch_id, channel, category_id, severity, product_id,
    description, status, version, received_at, first_response_at, resolved_at, closed_at,
    resolution_clock_started_at, sla_policy_id, sla_rule_id, first_response_due_at, resolution_due_at,
    first_response_breached_at, resolution_breached_at, escalated_at, resolution, root_cause, reopen_count,
    created_by_id, created_by_label, created_at)
SELECT 'TS' || to_char(f.received_at, 'YYYYMMDD') || '-' || lpad(f.g::text, 7, '0'),
       cu.id, '', NULL, cu.branch_id,
       (ARRAY['branch','phone','online','app','regulator'])[1 + floor(f.r4 * 5)::int],
       ca.ids[1 + floor(f.r5 * ca.n)::int],
       (ARRAY['low','medium','medium','high','critical'])[1 + floor(f.r3 * 5)::int],
       CASE WHEN f.r4 < 0.6 THEN pr.ids[1 + floor(f.r4 / 0.6 * pr.n)::int] END,
       'benchmark complaint',
       CASE WHEN NOT f.is_open AND f.r2 < 0.8 THEN 'closed'
            WHEN NOT f.is_open THEN 'resolved'
            WHEN (f.fr_at IS NULL AND f.fr_due <= %(now)s) OR f.res_due <= %(now)s THEN 'escalated'
            WHEN f.fr_at IS NULL THEN 'received'
            WHEN f.r3 < 0.5 THEN 'acknowledged' ELSE 'investigating' END,
       1, f.received_at, f.fr_at, f.resolved_at,
       CASE WHEN NOT f.is_open AND f.r2 < 0.8 THEN f.resolved_at + interval '3 days' END,
       f.received_at, %(policy)s, NULL, f.fr_due, f.res_due,
       CASE WHEN f.fr_due <= %(now)s AND (f.fr_at IS NULL OR f.fr_at >= f.fr_due) THEN f.fr_due END,
       CASE WHEN f.res_due <= %(now)s AND (f.resolved_at IS NULL OR f.resolved_at >= f.res_due) THEN f.res_due END,
       CASE WHEN f.fr_due <= %(now)s AND (f.fr_at IS NULL OR f.fr_at >= f.fr_due) THEN f.fr_due
            WHEN f.res_due <= %(now)s AND (f.resolved_at IS NULL OR f.resolved_at >= f.res_due) THEN f.res_due END,
       CASE WHEN f.is_open THEN '' ELSE 'resolved' END,
       CASE WHEN f.is_open THEN '' ELSE (ARRAY['C01','C02','C03','C04','C05','C99'])[1 + floor(f.r5 * 6)::int] END,
       0, NULL, 'bench', f.received_at
  FROM final f
  CROSS JOIN cust c CROSS JOIN cats ca CROSS JOIN prods pr
  JOIN customers_customer cu ON cu.id = c.ids[1 + floor(f.r1 * c.n)::int]
"""


def generate(total: int = TOTAL, open_count: int = OPEN) -> None:
    policy = SlaPolicy.objects.order_by("-version").first()
    now = timezone.now()
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_notification WHERE kind LIKE 'complaints.%%'")
        cursor.execute("TRUNCATE complaints_complaintevent, complaints_complaintattachment, "
                       "complaints_complaintuserobjectpermission, complaints_complaintgroupobjectpermission, "
                       "complaints_complaint")
        cursor.execute("SELECT setseed(0.42)")
        cursor.execute(GENERATE_SQL, {"total": total, "closed": total - open_count, "now": now, "policy": policy.pk,
                                      "fr": policy.first_response_minutes, "res": policy.resolution_minutes})
        cursor.execute("SELECT setval(%s, %s)", [services.REFERENCE_SEQUENCE, total + 1])
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE complaints_complaint")
    print(f"generated {Complaint.objects.count():,} complaints ({Complaint.objects.open().count():,} open) "
          f"in {time.perf_counter() - started:.1f} s")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def bench_scan(minutes: int) -> None:
    """Steady state: a run per simulated minute; then a catch-up after 6 h of downtime. Rolled back."""
    now = timezone.now()
    with transaction.atomic():
        started = time.perf_counter()
        first = services.complaint_breach_scan(now=now)
        print(f"scan catch-up to the present: {first} in {(time.perf_counter() - started) * 1000:.0f} ms")
        samples, flagged = [], []
        for minute in range(1, minutes + 1):
            started = time.perf_counter()
            counts = services.complaint_breach_scan(now=now + timedelta(minutes=minute))
            samples.append((time.perf_counter() - started) * 1000)
            flagged.append(counts["first_response"] + counts["resolution"])
        print(f"scan steady state, {minutes} runs one simulated minute apart: "
              f"median {statistics.median(samples):.1f} ms, "
              f"p95 {percentile(samples, 0.95):.1f} ms, max {max(samples):.1f} ms; "
              f"rows flagged per run median {statistics.median(flagged):.0f}, max {max(flagged)}")
        started = time.perf_counter()
        counts = services.complaint_breach_scan(now=now + timedelta(minutes=minutes, hours=6))
        print(f"scan after 6 h of downtime: {counts} in {(time.perf_counter() - started) * 1000:.0f} ms")
        started = time.perf_counter()
        counts = services.complaint_breach_scan(now=now + timedelta(minutes=minutes, hours=6))
        print(f"scan again, nothing due: {counts} in {(time.perf_counter() - started) * 1000:.1f} ms")
        transaction.set_rollback(True)


def bench_scan_committed(minutes: int) -> dict:
    """As beat runs it: each scan commits, then the outbox relay publishes what it queued to the broker.

    Simulated minutes one after another (the scan's ``now``); the changes stay (the benchmark
    regenerates its complaints each run). Returns timings in ms.
    """
    from celery import current_app

    from core import outbox

    now = timezone.now()
    samples, relayed = [], 0
    catch_up_started = time.perf_counter()
    services.complaint_breach_scan(now=now)
    relayed += outbox.outbox_relay()
    catch_up_ms = (time.perf_counter() - catch_up_started) * 1000
    for minute in range(1, minutes + 1):
        started = time.perf_counter()
        services.complaint_breach_scan(now=now + timedelta(minutes=minute))
        relayed += outbox.outbox_relay()
        samples.append((time.perf_counter() - started) * 1000)
    with contextlib.suppress(Exception):  # no worker consumes the benchmark's broker: drop what it published
        current_app.control.purge()
    return {"median_ms": statistics.median(samples), "p95_ms": percentile(samples, 0.95),
            "catch_up_ms": catch_up_ms, "relayed": relayed}


@benchmark("complaints")
def run_benchmark(run: Run) -> list[Figure]:
    """Breach scan with real commits and the outbox relay; the desk queue page. Complaints = customers, 10 % open."""
    generate(total=run.customers, open_count=run.customers // 10)
    scan = bench_scan_committed(run.options.get("scan_minutes", 30))
    desk = User.objects.get(username="desk1")
    client = Client()
    client.force_login(desk)
    for _ in range(5):
        client.get("/complaints/")
    samples = []
    for _ in range(run.options.get("requests", 50)):
        started = time.perf_counter()
        assert client.get("/complaints/").status_code == 200
        samples.append((time.perf_counter() - started) * 1000)
    return [
        Figure(job="breach scan + commit + outbox relay, per minute, p95", figure=scan["p95_ms"], unit="ms",
               target=("<=", 1000), note=f"catch-up {scan['catch_up_ms']:.0f} ms, {scan['relayed']} tasks relayed"),
        Figure(job="complaint queue (desk, default), median", figure=statistics.median(samples), unit="ms",
               target=("<=", 80)),
    ]


def time_page(client: Client, url: str, repeats: int) -> str:
    for _ in range(5):
        client.get(url)
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return (f"median {statistics.median(samples):.1f} ms, p95 {percentile(samples, 0.95):.1f} ms, "
            f"{len(queries)} queries")


def bench_queue(repeats: int) -> None:
    b03 = ComplaintCategory.objects.get(code="B03").pk
    for username in ("desk1", "admin"):
        user = User.objects.get(username=username)
        client = Client()
        client.force_login(user)
        scope = f"branch {user.branch.code}" if username == "desk1" else "all branches"
        open_in_scope = Complaint.objects.open().filter(
            **({"branch_id": user.branch_id} if username == "desk1" else {})).count()
        print(f"queue as {username} ({scope}, {open_in_scope:,} open):")
        for label, url in (("default (open, due soonest)", "/complaints/"),
                           ("overdue, most severe first", "/complaints/?breached=yes&order=severity"),
                           ("category B03, page 5", f"/complaints/?category={b03}&page=5"),
                           ("all statuses, newest first", "/complaints/?status=&order=-received")):
            print(f"  {label}: {time_page(client, url, repeats)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--generate", action="store_true")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--scan-minutes", type=int, default=30)
    args = parser.parse_args()
    if args.generate:
        generate()
    print(f"dataset: {Complaint.objects.count():,} complaints, {Complaint.objects.open().count():,} open")
    bench_scan(args.scan_minutes)
    bench_queue(args.requests)


if __name__ == "__main__":
    main()
