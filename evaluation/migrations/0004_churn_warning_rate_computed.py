"""The churn warning rate is computed now (lifecycle's retention tasks): say what it counts.

Updates the texts seeded by 0002 (shown through gettext; both are in the catalog). Reversible.
"""

from django.db import migrations
from django.utils.translation import gettext_noop

OLD = {
    "numerator": "customers with a churn warning raised during the period (lifecycle)",
    "exclusions": "computed once the lifecycle chapter provides churn warnings",
}
NEW = {
    "numerator": gettext_noop("customers of the denominator for whom lifecycle opened a retention task (a churn "
                              "warning: churn probability at or above the policy's high-risk level) during the "
                              "period"),
    "exclusions": gettext_noop("customers closed by the period end; counted under the customer's branch and RM "
                               "at computation time"),
}


def forwards(apps, schema_editor):
    apps.get_model("evaluation", "KpiDefinition").objects.filter(code="churn_warning_rate").update(**NEW)


def backwards(apps, schema_editor):
    apps.get_model("evaluation", "KpiDefinition").objects.filter(code="churn_warning_rate").update(**OLD)


class Migration(migrations.Migration):
    dependencies = [("evaluation", "0003_report_and_kpi_schedules")]

    operations = [migrations.RunPython(forwards, backwards)]
