"""Benchmark of the /segments/ overview (issue 19). Run by hand, never in CI.

The page reads SegmentCount / SegmentMoveCount, the few hundred rows each classification run
writes, so its time should not grow with the number of customers. Measures server time through
Django's full middleware stack (in-process client, no network): median and p95 over repeated
requests, for an admin (every branch) and a branch manager (one branch), plus the query count
and the size of the count tables. Prints the scale (customers, segments) it ran at.

    ALLOWED_HOSTS=testserver DJANGO_SETTINGS_MODULE=crm_project.settings.local \
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench_100k CELERY_BROKER_URL=redis://127.0.0.1:6379/9 \
    .venv/bin/python bench/segments_overview_bench.py --requests 100

The database must be seeded (seed_demo) and classified (run_segmentation) first.
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
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

from accounts.models import Role, User  # noqa: E402
from bench.suite import Figure, Run, benchmark  # noqa: E402
from customers.models import Customer  # noqa: E402
from segmentation import selectors  # noqa: E402
from segmentation.models import CustomerSegment, SegmentCount, SegmentMoveCount  # noqa: E402


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(user: User, repeats: int) -> dict:
    client = Client()
    client.force_login(user)
    url = reverse("segmentation:segment-overview")
    for _ in range(5):
        client.get(url)
    samples_ms = []
    for _ in range(repeats):
        started = time.perf_counter()
        response = client.get(url)
        samples_ms.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return {"median_ms": round(statistics.median(samples_ms), 1), "p95_ms": round(percentile(samples_ms, 0.95), 1),
            "queries": len(queries)}


def time_call(fn, repeats: int) -> float:
    for _ in range(3):
        fn()
    samples_ms = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples_ms.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples_ms), 2)


def counts_per_tier_by_group_by() -> dict[str, int]:
    """The baseline: customers per tier counted over every segment row (what the page did before)."""
    return {f"tier:{tier}": count for tier, count in
            CustomerSegment.objects.order_by().values_list("tier").annotate(count=Count("pk"))}


@benchmark("segments")
def run_benchmark(run: Run) -> list[Figure]:
    """/segments/ for head office, read from the run's count tables; its tier counts must equal a GROUP BY
    over every segment (the run's counts are what the page shows)."""
    requests = run.options.get("requests", 60)
    admin = User.objects.filter(groups__name=Role.ADMIN, is_active=True).first()
    overview = selectors.segment_overview(user=admin)
    from_page = {key: value for key, value in overview["totals"].items() if key.startswith("tier:") and value}
    reference = {key: value for key, value in counts_per_tier_by_group_by().items() if value}
    if from_page != reference:
        raise AssertionError(f"/segments/ tier counts differ from the GROUP BY: {from_page} vs {reference}")
    page = measure(admin, requests)
    counting = time_call(lambda: selectors.segment_overview(user=admin), requests)
    group_by = time_call(counts_per_tier_by_group_by, max(10, requests // 5))
    return [
        Figure(job=f"/segments/ (head office), median ({page['queries']} queries)", figure=page["median_ms"],
               unit="ms", target=("<=", 80)),
        Figure(job="/segments/ counts: count tables vs GROUP BY over every segment", figure=counting, unit="ms",
               baseline=group_by, baseline_label="GROUP BY over the segments", target=("ratio<=", 1)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    admin = User.objects.filter(groups__name=Role.ADMIN, is_active=True).first()
    manager = User.objects.filter(groups__name=Role.BRANCH_MANAGER, is_active=True).first()
    result = {
        "scale": {"customers": Customer.objects.count(), "segments": CustomerSegment.objects.count(),
                  "segment_count_rows": SegmentCount.objects.count(),
                  "segment_move_count_rows": SegmentMoveCount.objects.count()},
        "admin_all_branches": measure(admin, args.requests),
        "branch_manager_one_branch": measure(manager, args.requests) if manager else None,
        # The counting alone, same run and load: the selector now vs the GROUP BY over every segment
        # it replaced (what the page did before issue 19).
        "counts_median_ms": {
            "segment_overview_selector": time_call(lambda: selectors.segment_overview(user=admin), args.requests),
            "previous_group_by_over_segments": time_call(lambda: list(
                CustomerSegment.objects.order_by()
                .values_list("branch_id", "tier", "value_class", "behaviour_class", "risk_class")
                .annotate(count=Count("pk"))), max(10, args.requests // 5)),
        },
        "load_average_1min": round(os.getloadavg()[0], 1),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
