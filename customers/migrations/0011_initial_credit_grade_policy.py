"""Version 1 of the credit grade policy: the score bands core banking's 300-850 scale uses."""

from django.db import migrations

BANDS_V1 = [
    [300, 579, "C"], [580, 619, "B"], [620, 659, "BB"], [660, 699, "BBB"],
    [700, 749, "A"], [750, 799, "AA"], [800, 850, "AAA"],
]


def seed(apps, schema_editor):
    policy = apps.get_model("customers", "CreditGradePolicy")
    policy.objects.get_or_create(version=1, defaults={"bands": BANDS_V1})


class Migration(migrations.Migration):
    dependencies = [("customers", "0010_credit_score_region_custom_attributes")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
