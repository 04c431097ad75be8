"""Seed the KPIs of MANUAL Ch. 6 (and 2.4, 3.3a) with their documented formulas and default targets.

The texts are English msgids (shown through gettext, so zh-hans reads them from the catalog);
an administrator may add target versions in admin. Re-running is harmless (get_or_create).
"""

from datetime import date
from decimal import Decimal

from django.db import migrations
from django.utils.translation import gettext_noop

AT_START = gettext_noop("customers on the books on the period's first day (joined before it or join date unknown, "
              "not closed before it)")
AT_END = gettext_noop("customers on the books at the end of the period's last day")
PERIOD_LOCAL = gettext_noop("calendar month, quarter or year, Asia/Shanghai time")
BY_CURRENT_OWNER = gettext_noop("counted under the customer's branch and RM at computation time")

# code, name, unit, direction, numerator, denominator, period, exclusions, by_tier
KPIS = [
    ("retention_rate", gettext_noop("customer retention rate"), "percent", "higher",
     gettext_noop("customers of the denominator still open at the period end"), AT_START, PERIOD_LOCAL, BY_CURRENT_OWNER,
     False),
    ("churn_rate", gettext_noop("churn rate"), "percent", "lower",
     gettext_noop("customers of the denominator closed during the period"), AT_START, PERIOD_LOCAL, BY_CURRENT_OWNER, False),
    ("churn_warning_rate", gettext_noop("churn warning rate"), "percent", "lower",
     gettext_noop("customers with a churn warning raised during the period (lifecycle)"), AT_END, PERIOD_LOCAL,
     gettext_noop("computed once the lifecycle chapter provides churn warnings"), False),
    ("clv_average", gettext_noop("customer lifetime value"), "cny", "higher",
     gettext_noop("sum of the customers' current CLV (segmentation)"), gettext_noop("classified customers on the books at the period end"),
     PERIOD_LOCAL, gettext_noop("customers not yet classified; CLV is as of computation, by current tier"), True),
    ("active_rate", gettext_noop("active rate"), "percent", "higher",
     gettext_noop("customers of the denominator with at least one transaction in the period"), AT_END, PERIOD_LOCAL,
     BY_CURRENT_OWNER, False),
    ("contacts_per_customer", gettext_noop("contacts per customer"), "per_customer", "higher",
     gettext_noop("interactions (visits, calls, online contacts, events) in the period"), AT_END, PERIOD_LOCAL,
     BY_CURRENT_OWNER, False),
    ("acquisition_rate", gettext_noop("new-customer acquisition rate"), "percent", "higher",
     gettext_noop("customers who joined during the period"), AT_START, PERIOD_LOCAL, BY_CURRENT_OWNER, False),
    ("tier_conversion_rate", gettext_noop("tier conversion rate"), "percent", "higher",
     gettext_noop("customers of the denominator who moved up a tier during the period"),
     gettext_noop("customers on the books on the period's first day whose tier then was below VIP"), PERIOD_LOCAL,
     gettext_noop("customers never classified before the period"), False),
    ("product_usage_rate", gettext_noop("product usage rate"), "percent", "higher",
     gettext_noop("customers of the denominator holding two or more products at the period end"), AT_END, PERIOD_LOCAL,
     BY_CURRENT_OWNER, False),
    ("complaint_rate", gettext_noop("complaint rate"), "percent", "lower",
     gettext_noop("complaints received in the period"), AT_END, PERIOD_LOCAL,
     gettext_noop("by the complaint's branch; for an RM, only complaints linked to their customers"), False),
    ("complaints_per_10m_customers", gettext_noop("complaints per 10 million customers"), "count", "lower",
     gettext_noop("complaints received in the period, times 10,000,000"), AT_END, PERIOD_LOCAL,
     gettext_noop("the regulator's normalised rate (MANUAL 3.3a)"), False),
    ("complaints_per_1000_branches", gettext_noop("complaints per 1,000 branches"), "count", "lower",
     gettext_noop("complaints received in the period, times 1,000"), gettext_noop("branches (head office excluded)"), PERIOD_LOCAL,
     gettext_noop("the regulator's normalised rate (MANUAL 3.3a); bank and branch only"), False),
    ("response_time_hours", gettext_noop("service response time"), "hours", "lower",
     gettext_noop("hours from receipt to first response, summed over complaints first answered in the period"),
     gettext_noop("complaints first answered in the period"), PERIOD_LOCAL, gettext_noop("complaints not answered yet"), False),
    ("sla_compliance_rate", gettext_noop("SLA compliance"), "percent", "higher",
     gettext_noop("complaints resolved in the period within their resolution deadline (the original one too)"),
     gettext_noop("complaints resolved in the period"), PERIOD_LOCAL, gettext_noop("complaints still open"), False),
    ("satisfaction_rate", gettext_noop("satisfaction"), "percent", "higher",
     gettext_noop("survey answers with satisfaction 4 or 5 (of 5)"), gettext_noop("survey answers given in the period"), PERIOD_LOCAL,
     gettext_noop("by the answering customer's branch and RM"), False),
    ("csat_average", gettext_noop("CSAT"), "score", "higher",
     gettext_noop("sum of the satisfaction scores (1-5)"), gettext_noop("survey answers given in the period"), PERIOD_LOCAL,
     gettext_noop("by the answering customer's branch and RM"), False),
    ("nps", gettext_noop("NPS"), "score", "higher",
     gettext_noop("promoters (9-10) minus detractors (0-6), times 100"), gettext_noop("survey answers given in the period"),
     PERIOD_LOCAL, gettext_noop("by the answering customer's branch and RM"), False),
    ("satisfaction_index", gettext_noop("satisfaction index (0-100)"), "score", "higher",
     gettext_noop("sum over answers of the mean of their 0-100 dimension scores"),
     gettext_noop("survey answers given in the period with at least one dimension score"), PERIOD_LOCAL,
     gettext_noop("answers without dimension scores"), False),
]

# MANUAL Ch. 6 defaults: code -> (comparison, value).
TARGETS = {
    "retention_rate": ("gte", Decimal("80")),
    "tier_conversion_rate": ("gte", Decimal("30")),
    "complaint_rate": ("lt", Decimal("1")),
    "response_time_hours": ("lte", Decimal("24")),
    "satisfaction_rate": ("gte", Decimal("85")),
}


def seed(apps, schema_editor):
    KpiDefinition = apps.get_model("evaluation", "KpiDefinition")
    KpiTarget = apps.get_model("evaluation", "KpiTarget")
    for position, (code, name, unit, direction, numerator, denominator, period, exclusions, by_tier) in enumerate(
        KPIS, start=1
    ):
        definition, _created = KpiDefinition.objects.get_or_create(code=code, defaults={
            "name": name, "unit": unit, "direction": direction, "numerator": numerator,
            "denominator": denominator, "period_rule": period, "exclusions": exclusions, "by_tier": by_tier,
            "position": position * 10,
        })
        if code in TARGETS:
            comparison, value = TARGETS[code]
            KpiTarget.objects.get_or_create(kpi=definition, version=1, defaults={
                "comparison": comparison, "value": value, "effective_from": date(2000, 1, 1),
                "note": "MANUAL Ch. 6 default",
            })


def unseed(apps, schema_editor):
    apps.get_model("evaluation", "KpiTarget").objects.filter(version=1, note="MANUAL Ch. 6 default").delete()
    apps.get_model("evaluation", "KpiDefinition").objects.filter(code__in=[row[0] for row in KPIS]).delete()


class Migration(migrations.Migration):
    dependencies = [("evaluation", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
