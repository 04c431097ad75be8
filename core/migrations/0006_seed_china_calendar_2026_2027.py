"""Seed the working-day calendar with China's public holidays and 调休 working weekend days.

2026: from the State Council's notice (国务院办公厅关于2026年部分节假日安排的通知).

2027: PROVISIONAL. The State Council publishes the next year's arrangement late in the year;
until it does, 2027 holds only the statutory holiday days (moved onto the following weekdays
where they fall on a weekend) and no 调休 working weekend days. When the notice is out, an
admin imports the year's CSV (admin → working-day calendar → import CSV, or
``manage.py import_working_calendar FILE``): the import replaces the whole year.
"""

from datetime import date, timedelta

from django.db import migrations


def _days(first: str, last: str) -> list[date]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


HOLIDAYS = [
    # 2026 (official)
    ("2026-01-01", "2026-01-03", "元旦"),
    ("2026-02-15", "2026-02-23", "春节"),
    ("2026-04-04", "2026-04-06", "清明节"),
    ("2026-05-01", "2026-05-05", "劳动节"),
    ("2026-06-19", "2026-06-21", "端午节"),
    ("2026-09-25", "2026-09-27", "中秋节"),
    ("2026-10-01", "2026-10-07", "国庆节"),
    # 2027 (provisional until the State Council publishes it)
    ("2027-01-01", "2027-01-01", "元旦（暂定）"),
    ("2027-02-05", "2027-02-10", "春节（暂定）"),
    ("2027-04-05", "2027-04-05", "清明节（暂定）"),
    ("2027-05-01", "2027-05-04", "劳动节（暂定）"),
    ("2027-06-09", "2027-06-09", "端午节（暂定）"),
    ("2027-09-15", "2027-09-15", "中秋节（暂定）"),
    ("2027-10-01", "2027-10-05", "国庆节（暂定）"),
]
WORKDAYS = [
    ("2026-01-04", "元旦调休"),
    ("2026-02-14", "春节调休"),
    ("2026-02-28", "春节调休"),
    ("2026-05-09", "劳动节调休"),
    ("2026-09-20", "国庆节调休"),
    ("2026-10-10", "国庆节调休"),
]


def seed(apps, schema_editor):
    CalendarDay = apps.get_model("core", "CalendarDay")
    rows = [CalendarDay(day=day, kind="holiday", name=name)
            for first, last, name in HOLIDAYS for day in _days(first, last)]
    rows += [CalendarDay(day=date.fromisoformat(day), kind="workday", name=name) for day, name in WORKDAYS]
    CalendarDay.objects.bulk_create(rows, ignore_conflicts=True)


def unseed(apps, schema_editor):
    apps.get_model("core", "CalendarDay").objects.filter(day__year__in=[2026, 2027]).delete()


class Migration(migrations.Migration):
    dependencies = [("core", "0005_working_day_calendar")]

    operations = [migrations.RunPython(seed, unseed)]
