"""Lifecycle policy version 1 and the stage strategies with the documented defaults (lifecycle/services.py)."""

from django.db import migrations

STRATEGIES = (
    ("new", "", "introduce_products"),
    ("growth", "", "deepen_relationship"),
    ("mature", "", "customised_service"),
    ("decline", "", "care_call"),
    ("decline", "vip", "priority_visit"),
    ("decline", "important", "priority_visit"),
    ("churned", "", "win_back"),
)


def create_defaults(apps, schema_editor):
    LifecyclePolicy = apps.get_model("lifecycle", "LifecyclePolicy")
    StageStrategy = apps.get_model("lifecycle", "StageStrategy")
    if not LifecyclePolicy.objects.exists():
        LifecyclePolicy.objects.create(version=1)
    for stage, tier, action in STRATEGIES:
        StageStrategy.objects.get_or_create(stage=stage, tier=tier, defaults={"action": action})


class Migration(migrations.Migration):
    dependencies = [("lifecycle", "0001_initial")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
