"""Celery entry points of the service app (STYLE.md §9: thin, idempotent, time-limited)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from service import services


# Queued through the outbox by services.survey_send. Idempotent: a message already sent is left alone.
@shared_task(
    name="service.outbound_message_send_task",
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=30,
    max_retries=5,
    soft_time_limit=60,
    time_limit=90,
)
def outbound_message_send_task(*, message_id: int) -> None:
    """Deliver one outbound message (the SMS stub)."""
    services.outbound_message_send(message_id=message_id)
