"""Schedule the KPI refresh and the periodic reports (django-celery-beat rows, editable in admin).

Nightly 03:30 the KPI snapshots (after classification at 01:30 and data quality at 02:30);
monthly reports on the 1st at 06:00 for the month just ended; quarterly on the 1st of January,
April, July and October at 06:30; annual on 31 December at 18:00 for the year then ending
(MANUAL Ch. 6: "annual, in December, for the board"; a revision in January adds the last
hours). All Asia/Shanghai. Re-running is harmless.
"""

import json

from django.db import migrations
from django.utils import timezone

SCHEDULES = [
    ("evaluation: nightly KPI snapshots", "evaluation.kpi_snapshots_refresh_task", {},
     {"minute": "30", "hour": "3", "day_of_month": "*", "month_of_year": "*"}),
    ("evaluation: monthly reports", "evaluation.reports_schedule_task", {"kind": "monthly"},
     {"minute": "0", "hour": "6", "day_of_month": "1", "month_of_year": "*"}),
    ("evaluation: quarterly reports", "evaluation.reports_schedule_task", {"kind": "quarterly"},
     {"minute": "30", "hour": "6", "day_of_month": "1", "month_of_year": "1,4,7,10"}),
    ("evaluation: annual report", "evaluation.reports_schedule_task", {"kind": "annual"},
     {"minute": "0", "hour": "18", "day_of_month": "31", "month_of_year": "12"}),
]


def create_schedules(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    for name, task, kwargs, cron in SCHEDULES:
        fields = {**cron, "day_of_week": "*", "timezone": "Asia/Shanghai"}
        crontab = CrontabSchedule.objects.filter(**fields).order_by("id").first()
        if crontab is None:
            crontab = CrontabSchedule.objects.create(**fields)
        PeriodicTask.objects.get_or_create(name=name, defaults={
            "task": task, "crontab": crontab, "kwargs": json.dumps(kwargs), "enabled": True,
            "description": "MANUAL Ch. 6: effect evaluation.",
        })
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def delete_schedules(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[row[0] for row in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("evaluation", "0002_seed_kpis_and_targets"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, delete_schedules)]
