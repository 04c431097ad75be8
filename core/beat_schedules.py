"""Periodic tasks stored as django-celery-beat rows, created by each chapter's data migration.

Rows, not code, so an administrator can change a time or pause a task in admin. Each chapter's
migration lists its schedules and calls :func:`beat_schedules_operation`; creating is idempotent
(the crontab and the task are looked up before they are created) and beat's change marker is
bumped, because historical models send no signals and a running beat would otherwise keep its
old schedule until restarted. Times are the bank's (Asia/Shanghai).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.db import migrations
from django.utils import timezone

BANK_TIME_ZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class BeatSchedule:
    name: str
    task: str
    description: str
    minute: str = "0"
    hour: str = "*"
    day_of_month: str = "*"
    month_of_year: str = "*"
    day_of_week: str = "*"
    kwargs: dict = field(default_factory=dict)

    @property
    def crontab(self) -> dict[str, str]:
        return {"minute": self.minute, "hour": self.hour, "day_of_month": self.day_of_month,
                "month_of_year": self.month_of_year, "day_of_week": self.day_of_week,
                "timezone": BANK_TIME_ZONE}


def _beat_changed(apps) -> None:
    apps.get_model("django_celery_beat", "PeriodicTasks").objects.update_or_create(
        ident=1, defaults={"last_update": timezone.now()})


def beat_schedules_operation(*schedules: BeatSchedule) -> migrations.RunPython:
    """A reversible migration operation that creates ``schedules`` (and deletes them backwards)."""

    def create(apps, schema_editor) -> None:
        CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
        for schedule in schedules:
            crontab = CrontabSchedule.objects.filter(**schedule.crontab).order_by("id").first()
            if crontab is None:
                crontab = CrontabSchedule.objects.create(**schedule.crontab)
            PeriodicTask.objects.get_or_create(name=schedule.name, defaults={
                "task": schedule.task, "crontab": crontab, "kwargs": json.dumps(schedule.kwargs),
                "enabled": True, "description": schedule.description})
        _beat_changed(apps)

    def delete(apps, schema_editor) -> None:
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
        PeriodicTask.objects.filter(name__in=[schedule.name for schedule in schedules]).delete()
        _beat_changed(apps)

    return migrations.RunPython(create, delete)
