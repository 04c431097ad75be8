"""Celery entry points of the lifecycle app (STYLE.md §9: thin, idempotent, time-limited).

Scoring chunks run on the ``scoring`` queue; a chunk is scored in one transaction that also marks
it done, so a redelivered or re-queued chunk task does nothing the second time.
"""

from __future__ import annotations

import logging
from datetime import date

from celery import shared_task
from django.db import OperationalError

from core.errors import ApplicationError, ErrorCode
from lifecycle import services

logger = logging.getLogger(__name__)

TASK_OPTIONS = {
    "ignore_result": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": 30,
    "max_retries": 3,
    "soft_time_limit": 50 * 60,
    "time_limit": 55 * 60,
}
CHUNK_OPTIONS = {**TASK_OPTIONS, "soft_time_limit": 240, "time_limit": 300, "acks_late": True}


@shared_task(name="lifecycle.scoring_run_plan_task", **TASK_OPTIONS)
def scoring_run_plan_task(*, run_id: int) -> None:
    """Fix a scoring run's customers in chunks and queue them on the scoring queue."""
    services.scoring_run_plan(run_id=run_id)


@shared_task(name="lifecycle.scoring_chunk_task", **CHUNK_OPTIONS)
def scoring_chunk_task(*, chunk_id: int) -> None:
    """Score one chunk of a run (at most once, however often it is delivered)."""
    services.scoring_chunk_score(chunk_id=chunk_id)


@shared_task(name="lifecycle.scoring_chunks_sweep_task", **TASK_OPTIONS)
def scoring_chunks_sweep_task() -> None:
    """Beat, every 5 minutes: re-queue chunks a lost worker left unfinished."""
    services.scoring_chunks_sweep()


@shared_task(name="lifecycle.retention_tasks_create_task", **TASK_OPTIONS)
def retention_tasks_create_task(*, run_id: int) -> None:
    """After a run: retention tasks for its high-risk customers."""
    services.retention_tasks_create(run_id=run_id)


@shared_task(name="lifecycle.lifecycle_nightly_task", **TASK_OPTIONS)
def lifecycle_nightly_task(*, as_of: str | None = None) -> None:
    """Beat, nightly after the classification pass: stages, outcome matching, a scoring run."""
    try:
        services.lifecycle_nightly(as_of=date.fromisoformat(as_of) if as_of else None)
    except ApplicationError as error:
        if error.code != ErrorCode.CONFLICT:
            raise
        logger.info("lifecycle nightly: %s; skipped", error.message)


# Training compares three algorithms, each calibrated by cross-validation: 175 s at 100,000 customers,
# 415 s at 200,000 and 3,126 s at 1,000,000 on one core of the benchmark machine (bench/README.md), past
# the 50 minutes every other task gets. A bank of several million customers needs more still.
RETRAIN_OPTIONS = {**TASK_OPTIONS, "soft_time_limit": 4 * 60 * 60, "time_limit": 4 * 60 * 60 + 300}


@shared_task(name="lifecycle.churn_model_retrain_task", **RETRAIN_OPTIONS)
def churn_model_retrain_task() -> None:
    """Beat, monthly: train a new churn model version (active only if better)."""
    try:
        services.lifecycle_monthly_retrain()
    except ApplicationError as error:
        logger.warning("churn model retraining: %s", error.message)
