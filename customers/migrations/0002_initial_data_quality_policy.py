"""Version 1 of the data-quality policy: stale after 365 days, assets tolerance 10 %."""

from decimal import Decimal

from django.db import migrations


def create_policy(apps, schema_editor):
    DataQualityPolicy = apps.get_model("customers", "DataQualityPolicy")
    DataQualityPolicy.objects.get_or_create(
        version=1, defaults={"stale_after_days": 365, "assets_tolerance_pct": Decimal("10.00")}
    )


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]
    operations = [migrations.RunPython(create_policy, migrations.RunPython.noop)]
