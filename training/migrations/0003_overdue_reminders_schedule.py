"""Remind staff of overdue courses daily at 09:00 Asia/Shanghai (django-celery-beat rows)."""

from django.db import migrations

from core.beat_schedules import BeatSchedule, beat_schedules_operation


class Migration(migrations.Migration):
    dependencies = [
        ("training", "0002_starter_catalogue"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [beat_schedules_operation(BeatSchedule(
        name="training: daily overdue reminders", task="training.overdue_reminders_task",
        minute="0", hour="9", description="MANUAL 5: remind staff of overdue courses in their inbox."))]
