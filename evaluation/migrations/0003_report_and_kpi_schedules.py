"""Schedule the KPI refresh and the periodic reports (django-celery-beat rows, editable in admin).

Nightly 03:30 the KPI snapshots (after classification at 01:30 and data quality at 02:30);
monthly reports on the 1st at 06:00 for the month just ended; quarterly on the 1st of January,
April, July and October at 06:30; annual on 31 December at 18:00 for the year then ending
(MANUAL Ch. 6: "annual, in December, for the board"; a revision in January adds the last
hours). All Asia/Shanghai. Re-running is harmless.
"""

from django.db import migrations

from core.beat_schedules import BeatSchedule, beat_schedules_operation

DESCRIPTION = "MANUAL Ch. 6: effect evaluation."


class Migration(migrations.Migration):
    dependencies = [
        ("evaluation", "0002_seed_kpis_and_targets"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [beat_schedules_operation(
        BeatSchedule(name="evaluation: nightly KPI snapshots", task="evaluation.kpi_snapshots_refresh_task",
                     minute="30", hour="3", description=DESCRIPTION),
        BeatSchedule(name="evaluation: monthly reports", task="evaluation.reports_schedule_task",
                     kwargs={"kind": "monthly"}, minute="0", hour="6", day_of_month="1", description=DESCRIPTION),
        BeatSchedule(name="evaluation: quarterly reports", task="evaluation.reports_schedule_task",
                     kwargs={"kind": "quarterly"}, minute="30", hour="6", day_of_month="1",
                     month_of_year="1,4,7,10", description=DESCRIPTION),
        BeatSchedule(name="evaluation: annual report", task="evaluation.reports_schedule_task",
                     kwargs={"kind": "annual"}, minute="0", hour="18", day_of_month="31", month_of_year="12",
                     description=DESCRIPTION),
    )]
