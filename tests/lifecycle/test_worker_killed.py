"""A real Celery worker killed by SIGKILL in the middle of a chunk: the sweeper re-queues the chunk
and a second worker finishes the run; no customer is left unscored or scored twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from lifecycle import services
from lifecycle.models import ChunkStatus, ChurnScore, RunStatus, ScoringChunk, ScoringRun
from tests.lifecycle.factories import build_book

TODAY = date(2026, 12, 4)
pytestmark = pytest.mark.django_db(transaction=True)


def _worker(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "crm_project", "worker", "-P", "solo", "-Q", "default,scoring",
         "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "WARNING"],
        env=env, cwd=settings.BASE_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )


def _wait(predicate, timeout: float, step: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("timed out")


@pytest.mark.skipif(not os.environ.get("CELERY_BROKER_URL"), reason="needs a Redis broker (CELERY_BROKER_URL)")
def test_worker_killed_mid_chunk_loses_and_duplicates_nothing(branch, make_user, model_dir):
    build_book(customers=2600, branch=branch, today=timezone.localdate(), history_days=540)
    services.lifecycle_defaults_ensure()
    services.churn_model_train(horizon_days=180)
    from crm_project.celery import app

    app.control.purge()
    db = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "crm_project.settings.test", "MODEL_DIR": str(model_dir),
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    worker = _worker(env)
    try:
        run = services.scoring_run_queue()
        # Kill the worker while it holds a chunk's transaction open (the chunk is marked running).
        _wait(lambda: ScoringChunk.objects.filter(run=run, status=ChunkStatus.RUNNING).exists(), timeout=240)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
        killed = ScoringChunk.objects.filter(run=run).exclude(status=ChunkStatus.DONE)
        assert killed.exists(), "the worker died with work unfinished"
        assert ScoringRun.objects.get(pk=run.pk).status == RunStatus.RUNNING

        # The sweeper (beat runs it every 5 minutes) re-queues what the dead worker left.
        assert services.scoring_chunks_sweep(stale_after_seconds=0) >= 1
        worker = _worker(env)
        _wait(lambda: ScoringRun.objects.get(pk=run.pk).status == RunStatus.DONE, timeout=300, step=0.5)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)

    run.refresh_from_db()
    population = {pk for ids in ScoringChunk.objects.filter(run=run).values_list("customer_ids", flat=True)
                  for pk in ids}
    scored = list(ChurnScore.objects.filter(run=run).values_list("customer_id", flat=True))
    assert len(scored) == len(set(scored)) == len(population) == run.customers_total >= 2000
    assert set(scored) == population
    assert ScoringChunk.objects.filter(run=run, attempts__gte=2).exists()
    assert run.chunks_done == run.chunks_total >= 3
