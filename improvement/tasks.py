"""Celery entry points of the improvement app (STYLE §9: thin, idempotent, time-limited)."""

from __future__ import annotations

from datetime import date

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from improvement import services
from improvement.models import PeriodKind, period_before, period_start_of


# Beat runs this at 06:00 on the 2nd of each month (improvement/migrations/0003), after the
# nightly segmentation pass has refreshed CLV. Recomputing a period replaces its cards (upsert).
@shared_task(
    name="improvement.scorecards_monthly_task",
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=30,
    max_retries=3,
    soft_time_limit=1800,
    time_limit=1900,
)
def scorecards_monthly_task() -> int:
    """Score the month just ended, and the quarter just ended when this month starts a quarter."""
    today = timezone.localdate()
    month = period_before(PeriodKind.MONTH, period_start_of(PeriodKind.MONTH, today))
    count = services.scorecards_compute(period_kind=PeriodKind.MONTH, period_start=month)
    if today.month in (1, 4, 7, 10):
        quarter = period_before(PeriodKind.QUARTER, period_start_of(PeriodKind.QUARTER, today))
        count += services.scorecards_compute(period_kind=PeriodKind.QUARTER, period_start=quarter)
    return count


@shared_task(name="improvement.scorecards_compute_task", ignore_result=True, soft_time_limit=1800,
             time_limit=1900)
def scorecards_compute_task(*, period_kind: str, period_start: str) -> int:
    """Compute one period's cards on demand (the scorecards page's button for administrators)."""
    return services.scorecards_compute(period_kind=period_kind, period_start=date.fromisoformat(period_start))
