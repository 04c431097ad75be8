"""The Celery app and the code-defined beat schedule.

Two kinds of periodic task, on purpose: infrastructure that must always run (the outbox relay)
is defined here and re-synced into django-celery-beat's tables at every beat start; business
schedules an admin may change (the nightly data-quality pass, later reports) are created once
by their app's data migration and then edited only in Django admin.
"""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings.local")

IDEMPOTENCY_PURGE_INTERVAL_SECONDS = 3600.0
SEGMENTATION_TOUCHED_INTERVAL_SECONDS = 900.0

app = Celery("crm_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def schedule_periodic_tasks(sender: Celery, **kwargs) -> None:
    """The one beat schedule; admins may add or pause entries in Django admin (django-celery-beat)."""
    from django.conf import settings

    interval_seconds = float(settings.OUTBOX_RELAY_INTERVAL_SECONDS)
    sender.add_periodic_task(
        interval_seconds, sender.signature("core.outbox_relay_task"), name="core-outbox-relay",
        expires=interval_seconds,
    )
    # Audit rows are sealed right after their commit; this catches any a busy sealer left pending.
    sender.add_periodic_task(
        60.0, sender.signature("core.audit_seal_task"), name="core-audit-seal", expires=60.0,
    )
    # Idempotency records live 24 h (core.idempotency.RECORD_TTL); an hourly purge keeps the table small.
    sender.add_periodic_task(
        IDEMPOTENCY_PURGE_INTERVAL_SECONDS, sender.signature("core.idempotency_records_purge_task"),
        name="core-idempotency-records-purge", expires=IDEMPOTENCY_PURGE_INTERVAL_SECONDS,
    )
    # Anonymous denials are kept SECURITY_EVENT_RETENTION_DAYS (core.security_events).
    sender.add_periodic_task(
        crontab(minute="15", hour="3"), sender.signature("core.security_events_purge_task"),
        name="core-security-events-purge",
    )
    # Uploaded import files hold PII: the task deletes each when its job ends; this catches leftovers.
    sender.add_periodic_task(
        crontab(minute="45", hour="3"), sender.signature("customers.import_files_purge_task"),
        name="customers-import-files-purge",
    )
    # MANUAL 3.3: flag overdue complaints within a minute or so of their deadline (well inside
    # the 5 minutes promised); every run catches up on everything due and unflagged.
    sender.add_periodic_task(
        60.0, sender.signature("complaints.complaint_breach_scan_task"), name="complaints-breach-scan",
        expires=60.0,
    )
    # MANUAL 2.1: the full classification pass nightly at 01:30 (before the data-quality pass at
    # 02:30), which then queues the recommendation job; every 15 minutes the customers touched by
    # new transactions are reclassified.
    sender.add_periodic_task(
        crontab(minute="30", hour="1"), sender.signature("segmentation.segmentation_nightly_task"),
        name="segmentation-nightly",
    )
    sender.add_periodic_task(
        SEGMENTATION_TOUCHED_INTERVAL_SECONDS, sender.signature("segmentation.segmentation_touched_run_task"),
        name="segmentation-touched", expires=SEGMENTATION_TOUCHED_INTERVAL_SECONDS,
    )
    # Lifecycle (issue #12): stages and the nightly scoring run after the classification pass, the
    # sweeper that re-queues scoring chunks a lost worker left, and monthly retraining.
    sender.add_periodic_task(
        crontab(minute="15", hour="2"), sender.signature("lifecycle.lifecycle_nightly_task"), name="lifecycle-nightly",
    )
    sender.add_periodic_task(
        300.0, sender.signature("lifecycle.scoring_chunks_sweep_task"), name="lifecycle-scoring-sweep", expires=300.0,
    )
    sender.add_periodic_task(
        crontab(minute="0", hour="4", day_of_month="1"), sender.signature("lifecycle.churn_model_retrain_task"),
        name="lifecycle-monthly-retrain",
    )
