"""Schedule the RM scorecards at 06:00 on the 2nd of each month Asia/Shanghai (django-celery-beat).

Stored as rows, not in code, so an administrator can change the time or pause it in admin.
Re-running is harmless: the task and its crontab are looked up before they are created.
"""

from django.db import migrations
from django.utils import timezone

TASK_NAME = "improvement.scorecards_monthly_task"
PERIODIC_TASK_NAME = "improvement: monthly RM scorecards"
CRONTAB = {
    "minute": "0",
    "hour": "6",
    "day_of_week": "*",
    "day_of_month": "2",
    "month_of_year": "*",
    "timezone": "Asia/Shanghai",
}


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    crontab = CrontabSchedule.objects.filter(**CRONTAB).order_by("id").first()
    if crontab is None:
        crontab = CrontabSchedule.objects.create(**CRONTAB)
    PeriodicTask.objects.get_or_create(
        name=PERIODIC_TASK_NAME,
        defaults={
            "task": TASK_NAME,
            "crontab": crontab,
            "kwargs": "{}",
            "enabled": True,
            "description": "MANUAL 7: RM scorecards for the month just ended (and the quarter, in its first month).",
        },
    )
    # Historical models send no signals, so bump beat's change marker by hand: a running
    # beat then reloads its schedule instead of waiting for a restart.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def delete_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    PeriodicTask.objects.filter(name=PERIODIC_TASK_NAME).delete()
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


class Migration(migrations.Migration):
    dependencies = [
        ("improvement", "0002_scorecard_policy_v1"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
