"""Celery entry points of the core app."""

from celery import shared_task

from core import audit, idempotency, outbox, security_events


# Beat runs this every OUTBOX_RELAY_INTERVAL_SECONDS (crm_project/celery.py). It is idempotent
# by nature: a message is marked sent once, and rows locked by an overlapping run are skipped.
@shared_task(name="core.outbox_relay_task", ignore_result=True, soft_time_limit=120, time_limit=150)
def outbox_relay_task() -> int:
    """Publish outbox messages left pending, e.g. while the broker was down."""
    return outbox.outbox_relay()


# Beat runs this hourly (crm_project/celery.py). Deleting records older than their 24 h lifetime
# is idempotent; an overlapping run finds nothing left to delete.
@shared_task(name="core.idempotency_records_purge_task", ignore_result=True, soft_time_limit=300, time_limit=360)
def idempotency_records_purge_task() -> int:
    """Delete idempotency records past their lifetime (core.idempotency.RECORD_TTL)."""
    return idempotency.idempotency_records_purge()


# Beat runs this every minute (crm_project/celery.py) as the backstop of the seal that follows
# every audited commit; one sealer at a time, so an overlapping run returns at once.
@shared_task(name="core.audit_seal_task", ignore_result=True, soft_time_limit=120, time_limit=150)
def audit_seal_task() -> int:
    """Chain audit rows committed but not sealed yet (core.audit.audit_seal)."""
    return audit.audit_seal()
# Beat runs this daily (crm_project/celery.py); deleting rows past retention is idempotent.
@shared_task(name="core.security_events_purge_task", ignore_result=True, soft_time_limit=300, time_limit=360)
def security_events_purge_task() -> int:
    """Delete anonymous-denial counts older than SECURITY_EVENT_RETENTION_DAYS."""
    return security_events.security_events_purge()
