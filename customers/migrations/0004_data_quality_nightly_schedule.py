"""Schedule the data-quality pass nightly at 02:30 Asia/Shanghai (django-celery-beat rows)."""

from django.db import migrations

from core.beat_schedules import BeatSchedule, beat_schedules_operation


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0003_customer_search_trgm"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [beat_schedules_operation(BeatSchedule(
        name="customers: nightly data-quality run", task="customers.data_quality_run_task",
        minute="30", hour="2",
        description="MANUAL 2.2: completeness, timeliness and accuracy of customer information."))]
