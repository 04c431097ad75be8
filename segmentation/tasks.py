"""Celery entry points of the segmentation app (STYLE.md §9: thin, idempotent, time-limited).

Every task is safe to run twice: the classification pass upserts each customer's current row
and writes history only for a change; the recommendation job replaces a customer's
recommendations. A run already in progress makes the second one give up (CONFLICT), not wait.
"""

from __future__ import annotations

import logging
from datetime import datetime

from celery import shared_task
from django.db import OperationalError

from core.errors import ApplicationError, ErrorCode
from segmentation import services

logger = logging.getLogger(__name__)

TASK_OPTIONS = {
    "ignore_result": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": 60,
    "max_retries": 3,
    "soft_time_limit": 50 * 60,
    "time_limit": 55 * 60,
}


def _skip_if_running(work) -> None:
    try:
        work()
    except ApplicationError as error:
        if error.code != ErrorCode.CONFLICT:
            raise
        logger.info("segmentation: %s; skipped", error.message)


@shared_task(name="segmentation.segmentation_run_task", **TASK_OPTIONS)
def segmentation_run_task(*, as_of: str | None = None, customer_ids: list[int] | None = None) -> None:
    """Classify everyone (or ``customer_ids``) as of ``as_of`` (ISO datetime; default now)."""
    _skip_if_running(lambda: services.segmentation_run(
        as_of=datetime.fromisoformat(as_of) if as_of else None, customer_ids=customer_ids
    ))


@shared_task(name="segmentation.segmentation_nightly_task", **TASK_OPTIONS)
def segmentation_nightly_task() -> None:
    """Beat, nightly: the full pass, then queue the recommendation job."""
    _skip_if_running(lambda: services.segmentation_nightly())


@shared_task(name="segmentation.segmentation_touched_run_task", **TASK_OPTIONS)
def segmentation_touched_run_task() -> None:
    """Beat, every 15 minutes: reclassify customers with new transactions since the last run."""
    _skip_if_running(lambda: services.segmentation_run_touched())


@shared_task(name="segmentation.recommendation_run_task", **TASK_OPTIONS)
def recommendation_run_task(*, customer_ids: list[int] | None = None) -> None:
    """Recompute product recommendations for everyone (or ``customer_ids``)."""
    _skip_if_running(lambda: services.recommendation_run(customer_ids=customer_ids))
