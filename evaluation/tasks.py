"""Celery entry points of the evaluation app (STYLE §9: thin, idempotent, time-limited)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from evaluation import services


@shared_task(name="evaluation.kpi_snapshots_refresh_task", ignore_result=True, autoretry_for=(OperationalError,),
             retry_backoff=30, max_retries=3, soft_time_limit=3000, time_limit=3300)
def kpi_snapshots_refresh_task() -> list[str]:
    """Recompute the current periods and every period that late data touched (nightly)."""
    return services.kpi_snapshots_refresh()


@shared_task(name="evaluation.reports_schedule_task", ignore_result=True, autoretry_for=(OperationalError,),
             retry_backoff=30, max_retries=3, soft_time_limit=300, time_limit=360)
def reports_schedule_task(*, kind: str) -> list[int]:
    """Claim and queue the bank's and each branch's report of the last complete period of ``kind``."""
    return services.report_schedule(kind=kind, period=services.report_period_due(kind=kind))


@shared_task(name="evaluation.report_generate_task", ignore_result=True, autoretry_for=(OperationalError,),
             retry_backoff=30, max_retries=3, soft_time_limit=600, time_limit=660)
def report_generate_task(*, report_id: int) -> None:
    """Generate one claimed report (a no-op when it is done or being done)."""
    services.report_generate(report_id=report_id)
