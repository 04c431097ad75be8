"""Benchmark for churn scoring and training (issue #12). Run by hand, never in CI.

On an already seeded PostgreSQL database with an active churn model (``seed_demo`` trains one):
  * training time: ``churn_model_train`` (three algorithms, calibrated) on the same history;
  * scoring every open customer end to end through Celery: ``scoring_run_queue`` with N real
    workers (separate processes, ``-P solo``, queues default + scoring) until the run is done,
    with each worker's peak RSS;
  * the limit, measured in the same run: one SQL statement computing the whole feature matrix
    (lifecycle.features.feature_select_sql), COPY out, ``predict_proba`` (and the contributions
    the real run also computes), COPY the scores into a temporary table.

    DJANGO_SETTINGS_MODULE=crm_project.settings.local MODEL_DIR=/tmp/lc_bench/models \
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_lifecycle_bench CELERY_BROKER_URL=redis://127.0.0.1:6379/6 \
    .venv/bin/python bench/lifecycle_bench.py [--workers 2] [--skip-training]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings.local")

import django

django.setup()

import numpy as np  # noqa: E402
import psutil  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.suite import Figure, Run, benchmark  # noqa: E402
from lifecycle import features, modelling, services  # noqa: E402
from lifecycle.models import ChurnScore, RunStatus, ScoringRun  # noqa: E402


def _workers(count: int) -> list[subprocess.Popen]:
    env = {**os.environ, "MODEL_DIR": str(settings.MODEL_DIR)}
    return [
        subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "crm_project", "worker", "-P", "solo", "-Q", "default,scoring",
             "-n", f"bench{i}@%h", "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "WARNING"],
            env=env, cwd=settings.BASE_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for i in range(count)
    ]


def score_through_celery(*, worker_count: int, as_of=None) -> dict:
    from crm_project.celery import app

    app.control.purge()
    workers = _workers(worker_count)
    peaks = {w.pid: 0 for w in workers}
    time.sleep(5)  # let the workers connect before the clock starts
    try:
        started = time.monotonic()
        run = services.scoring_run_queue(as_of=as_of or timezone.localdate())
        while True:
            for w in workers:
                with contextlib.suppress(psutil.NoSuchProcess):
                    peaks[w.pid] = max(peaks[w.pid], psutil.Process(w.pid).memory_info().rss)
            run = ScoringRun.objects.get(pk=run.pk)
            if run.status != RunStatus.RUNNING:
                break
            time.sleep(0.5)
        seconds = time.monotonic() - started
    finally:
        for w in workers:
            os.killpg(w.pid, signal.SIGTERM)
        for w in workers:
            w.wait(timeout=60)
    return {"run_id": run.pk, "status": run.status, "customers": run.customers_scored, "chunks": run.chunks_total,
            "seconds": seconds, "peak_rss_mib": max(peaks.values()) / 2**20}


def score_at_the_limit(as_of=None) -> dict:
    """One statement for the feature matrix, COPY out, predict (+ contributions), COPY in."""
    model = services.churn_model_active()
    fitted = services.churn_model_load(model=model)
    policy = services.lifecycle_policy_latest()
    cutoff = as_of or timezone.localdate()
    params = {"cutoff": cutoff, "cutoff_at": features.cutoff_moment(cutoff),
              "inactive_days": policy.churn_inactive_days}
    timings = {}
    started = time.monotonic()
    with connection.cursor() as cursor:
        sql = cursor.mogrify(features.feature_select_sql(scoped=False), params).decode()
        buffer = io.StringIO()
        cursor.copy_expert(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", buffer)
    timings["sql_and_copy_out"] = time.monotonic() - started
    mark = time.monotonic()
    buffer.seek(0)
    rows = list(csv.reader(buffer))
    ids = np.array([int(r[0]) for r in rows], dtype=np.int64)
    X = np.array([[float(v) if v != "" else np.nan for v in r[3:]] for r in rows], dtype=np.float64)
    timings["parse"] = time.monotonic() - mark
    mark = time.monotonic()
    p = modelling.probabilities(fitted, X)
    timings["predict_proba"] = time.monotonic() - mark
    mark = time.monotonic()
    modelling.path_contributions(modelling.base_estimator(fitted), X)
    timings["contributions"] = time.monotonic() - mark
    mark = time.monotonic()
    out = io.StringIO()
    out.writelines(f"{i},{q:.6f}\n" for i, q in zip(ids, p, strict=True))
    out.seek(0)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE bench_scores (customer_id bigint, probability float8)")
        cursor.copy_expert("COPY bench_scores FROM STDIN WITH (FORMAT csv)", out)
        cursor.execute("DROP TABLE bench_scores")
    timings["copy_in"] = time.monotonic() - mark
    total = time.monotonic() - started
    return {"customers": len(ids), "seconds": total, "scores": dict(zip(ids.tolist(), p.tolist(), strict=True)),
            "seconds_without_contributions": total - timings["contributions"],
            **{f"t_{k}": round(v, 1) for k, v in timings.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-training", action="store_true")
    args = parser.parse_args()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM customers_customer")
        customers = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM customers_transaction")
        transactions = cursor.fetchone()[0]
    print(f"Data: {customers:,} customers, {transactions:,} transactions.")
    if not args.skip_training:
        started = time.monotonic()
        outcome = services.churn_model_train(horizon_days=services.DEFAULT_HORIZON_DAYS)
        m = outcome.model
        print(f"Training: {time.monotonic() - started:.0f} s wall for v{m.version} "
              f"({m.train_customers:,} training / {m.validation_customers:,} validation customers, "
              f"{m.validation_method}); ROC AUC "
              + ", ".join(f"{name} {metrics['roc_auc']}" for name, metrics in outcome.table))
    if services.churn_model_active() is None:
        raise SystemExit("no active churn model: run seed_demo or train_churn_model first")
    limit = score_at_the_limit()
    print(f"Limit (one SQL + COPY out + predict_proba + contributions + COPY in): {limit['customers']:,} customers "
          f"in {limit['seconds']:.1f} s ({limit['seconds_without_contributions']:.1f} s without contributions); "
          + ", ".join(f"{k} {v}" for k, v in limit.items() if k.startswith("t_")))
    celery = score_through_celery(worker_count=args.workers)
    print(f"Celery, {args.workers} workers: run #{celery['run_id']} {celery['status']}, {celery['customers']:,} "
          f"customers in {celery['chunks']} chunks, {celery['seconds']:.1f} s; worker peak RSS "
          f"{celery['peak_rss_mib']:.0f} MiB")
    print(f"Ratio Celery / limit: {celery['seconds'] / limit['seconds']:.2f}x")


@benchmark("lifecycle", scales=("100k", "1m"))
def run_benchmark(run: Run) -> list[Figure]:
    """Scoring every open customer through Celery (2 real workers) against the one-statement limit; the run's
    probabilities must equal the limit's for every customer."""
    as_of = run.as_of.date()
    if services.churn_model_active() is None:
        raise AssertionError("no active churn model (seed_demo trains one)")
    limit = score_at_the_limit(as_of)
    celery = score_through_celery(worker_count=run.options.get("workers", 2), as_of=as_of)
    scored = dict(ChurnScore.objects.filter(run_id=celery["run_id"]).values_list("customer_id", "probability"))
    expected = limit["scores"]
    if scored.keys() != expected.keys():
        raise AssertionError(f"the run scored {len(scored):,} customers, the limit {len(expected):,}")
    worst = max((abs(scored[pk] - expected[pk]) for pk in expected), default=0.0)
    if worst > 1e-6:
        raise AssertionError(f"probabilities differ from the limit's by up to {worst}")
    return [
        Figure(job=f"churn scoring, {celery['customers']:,} customers, 2 workers", figure=celery["seconds"], unit="s",
               baseline=limit["seconds"], baseline_label="one SQL + COPY + predict", target=("ratio<=", 2)),
        Figure(job="churn scoring, worker peak RSS", figure=celery["peak_rss_mib"], unit="MiB", target=("<=", 2048)),
    ]


if __name__ == "__main__":
    main()
