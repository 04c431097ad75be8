"""Schedule the RM scorecards at 06:00 on the 2nd of each month Asia/Shanghai (django-celery-beat rows)."""

from django.db import migrations

from core.beat_schedules import BeatSchedule, beat_schedules_operation


class Migration(migrations.Migration):
    dependencies = [
        ("improvement", "0002_scorecard_policy_v1"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [beat_schedules_operation(BeatSchedule(
        name="improvement: monthly RM scorecards", task="improvement.scorecards_monthly_task",
        minute="0", hour="6", day_of_month="2",
        description="MANUAL 7: RM scorecards for the month just ended (and the quarter, in its first month)."))]
