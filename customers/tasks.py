"""Celery entry points of the customers app (STYLE.md §9: thin, idempotent, time-limited)."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from celery import shared_task
from django.db import OperationalError

from core.outbox import task_run_once
from customers import import_files, services


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


# The run is many transactions (one per batch), not one: task_run_once guards only the claim
# (queued -> running), so a redelivered message neither starts the import twice nor holds one
# transaction open for the whole file. A worker lost mid-run leaves the job "running" with the
# batches committed so far; uploading the file again finishes it (the import is idempotent).
@shared_task(
    bind=True,
    name="customers.import_job_run_task",
    ignore_result=True,
    soft_time_limit=50 * 60,
    time_limit=55 * 60,
)
def import_job_run_task(self, *, job_id: int) -> None:
    """Claim the import job once per task id and run it."""
    task_id = self.request.id or f"{self.name}:{job_id}"
    claimed = []
    task_run_once(task_id=task_id, task_name=self.name,
                  work=lambda: claimed.append(services.import_job_start(job_id=job_id)))
    if claimed and claimed[0]:
        try:
            services.import_job_run(job_id=job_id)
        finally:
            # The upload holds PII in plaintext: it goes when the job ends, done or failed.
            import_files.import_job_source_discard(job_id=job_id)


# Beat runs this daily (crm_project/celery.py): uploads left by a lost worker, orphan files.
@shared_task(name="customers.import_files_purge_task", ignore_result=True, soft_time_limit=300, time_limit=360)
def import_files_purge_task() -> int:
    """Delete uploaded import files of finished or stale jobs (idempotent)."""
    return import_files.import_files_purge()
