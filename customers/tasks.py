"""Celery entry points of the customers app (STYLE.md §9: thin, idempotent, time-limited)."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from celery import shared_task
from django.db import OperationalError

from customers import services


# Beat runs this nightly at 02:30 Asia/Shanghai (customers migration 0004; editable in admin).
# The soft limit stays under Redis's default visibility timeout (1 h): with acks_late, a task
# still running after that would be delivered to a second worker. The run is one transaction,
# so a retry after an OperationalError starts from a clean slate; re-running is harmless.
@shared_task(
    name="customers.data_quality_run_task",
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=60,
    retry_backoff_max=600,
    max_retries=3,
    soft_time_limit=50 * 60,
    time_limit=55 * 60,
)
def data_quality_run_task(*, as_of: str | None = None, customer_ids: list[int] | None = None) -> dict:
    """Run the data-quality pass as of ``as_of`` (ISO datetime; default now), optionally for some ids."""
    result = services.data_quality_run(
        as_of=datetime.fromisoformat(as_of) if as_of else None, customer_ids=customer_ids
    )
    return dataclasses.asdict(result)
