"""Celery entry points of the training app (STYLE §9: thin, idempotent, time-limited)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from training import services


# Beat runs this daily at 09:00 Asia/Shanghai (training/migrations/0003). The dedupe key per
# enrolment and day makes a re-run or a retry send nothing twice.
@shared_task(
    name="training.overdue_reminders_task",
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=5,
    max_retries=3,
    soft_time_limit=300,
    time_limit=330,
)
def overdue_reminders_task() -> int:
    """Remind every learner with an overdue course, once a day."""
    return services.overdue_reminders_send()
