"""Scorecard policy version 1: the weights the bank starts with, and why (STYLE §5: data, versioned)."""

from datetime import date
from decimal import Decimal

from django.db import migrations

RATIONALE = (
    "MANUAL Ch. 7 ties RM incentives to satisfaction, churn and CLV first: satisfaction 25, retention 20 "
    "and CLV growth 20 make up two thirds of the score. Complaints (15) and the complaint SLA (10) keep "
    "service quality in view; training completion (10) rewards keeping skills current (Ch. 5). "
    "CLV growth of +20 % scores 100 and -20 % scores 0; 5 complaints per 100 customers in a period score 0."
)


def seed(apps, schema_editor):
    ScorecardPolicy = apps.get_model("improvement", "ScorecardPolicy")
    ScorecardPolicy.objects.get_or_create(version=1, defaults={
        "effective_from": date(2000, 1, 1), "weight_satisfaction": 25, "weight_retention": 20,
        "weight_clv_growth": 20, "weight_complaints": 15, "weight_sla": 10, "weight_training": 10,
        "clv_growth_pct_for_full": Decimal("20"), "complaints_per_100_at_zero": Decimal("5"),
        "rationale": RATIONALE,
    })


def unseed(apps, schema_editor):
    apps.get_model("improvement", "ScorecardPolicy").objects.filter(version=1, scorecards__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("improvement", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
