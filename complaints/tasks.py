"""Celery entry points of the complaints app (STYLE.md §9: thin, idempotent, time-limited)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from complaints import services


# Beat runs this every minute (crm_project/celery.py). Each breach is claimed by one UPDATE ...
# WHERE breached_at IS NULL, so overlapping runs (two beats, a slow run) never flag twice; the
# expiry drops a run that waited in the queue longer than the next one's start.
@shared_task(
    name="complaints.complaint_breach_scan_task",
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=5,
    max_retries=3,
    soft_time_limit=50,
    time_limit=55,
)
def complaint_breach_scan_task() -> dict:
    """Flag, escalate and notify every overdue complaint clock not yet flagged."""
    return services.complaint_breach_scan()
