"""Create one Django group per staff role. Permissions stay row-scoped in selectors, not on groups."""

from django.db import migrations

ROLE_GROUPS = ["relationship_manager", "branch_manager", "complaint_desk", "compliance_auditor", "admin"]


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLE_GROUPS:
        Group.objects.get_or_create(name=name)


def delete_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(name__in=ROLE_GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(create_groups, delete_groups)]
