"""The Celery app and the code-defined beat schedule.

Two kinds of periodic task, on purpose: infrastructure that must always run (the outbox relay)
is defined here and re-synced into django-celery-beat's tables at every beat start; business
schedules an admin may change (the nightly data-quality pass, later reports) are created once
by their app's data migration and then edited only in Django admin.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings.local")

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
