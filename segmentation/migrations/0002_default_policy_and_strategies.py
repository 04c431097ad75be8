"""Policy version 1 and the three tier strategies with the documented defaults (segmentation/services.py).

Stored as rows, so an administrator changes them in admin (a policy change adds a version).
Re-running is harmless: existing rows are kept.
"""

from django.db import migrations

CATEGORIES = ["deposit", "wealth", "loan", "card", "insurance"]
STRATEGIES = {
    "vip": {
        "service_level": "Priority service: dedicated wealth advisor, customised products, priority lane",
        "dedicated_advisor": True,
        "review_every_days": 90,
        "eligible_categories": CATEGORIES,
        "risk_controls": "Suitability check before every wealth product; large movements reviewed by the branch",
    },
    "important": {
        "service_level": "Enhanced service: named relationship manager, yearly financial review",
        "dedicated_advisor": False,
        "review_every_days": 180,
        "eligible_categories": CATEGORIES,
        "risk_controls": "Suitability check before every wealth product",
    },
    "general": {
        "service_level": "Standard service: standard deposit, wealth and insurance products",
        "dedicated_advisor": False,
        "review_every_days": 365,
        "eligible_categories": ["deposit", "wealth", "insurance", "card"],
        "risk_controls": "Standard suitability assessment",
    },
}


def create_defaults(apps, schema_editor):
    SegmentationPolicy = apps.get_model("segmentation", "SegmentationPolicy")
    ServiceStrategy = apps.get_model("segmentation", "ServiceStrategy")
    if not SegmentationPolicy.objects.exists():
        SegmentationPolicy.objects.create(version=1, weak_credit_ratings=["B", "C"], fair_credit_ratings=["BB"])
    for tier, defaults in STRATEGIES.items():
        ServiceStrategy.objects.get_or_create(tier=tier, defaults=defaults)


class Migration(migrations.Migration):
    dependencies = [("segmentation", "0001_initial")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
