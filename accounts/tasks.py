"""Celery entry points for accounts: thin, idempotent, time-limited (STYLE.md §9)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from accounts import services


# Beat runs this daily at 00:30 Asia/Shanghai (accounts/migrations/0012).
@shared_task(
    name="accounts.record_share_permissions_expired_purge_task",
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=5,
    max_retries=3,
    soft_time_limit=300,
    time_limit=330,
)
def record_share_permissions_expired_purge_task() -> int:
    """Delete the guardian rows of shares that ended yesterday or before."""
    return services.record_share_permissions_expired_purge()
