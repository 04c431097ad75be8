"""Purge the guardian rows of ended shares daily at 00:30 Asia/Shanghai (django-celery-beat rows)."""

from django.db import migrations

from core.beat_schedules import BeatSchedule, beat_schedules_operation


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0011_recordshare"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [beat_schedules_operation(BeatSchedule(
        name="accounts: purge ended record shares", task="accounts.record_share_permissions_expired_purge_task",
        minute="30", hour="0",
        description="Issue 10 point 8: delete the guardian rows of shares past their last day (history stays)."))]
