"""Seed the business-type category tree (axis B of the central bank's complaint classification,
MANUAL 3.3a), SLA policy version 1 (first response 24 h, resolution 48 h, warnings at 75 % and
90 %, reopen within 30 days) and the sequence behind reference numbers.

Categories are edited in admin afterwards; re-running leaves existing rows alone.
"""

from datetime import UTC, datetime

from django.db import migrations

# (code, English name, Chinese name, children)
CATEGORY_TREE = [
    ("B01", "RMB savings", "人民币储蓄", [
        ("B0101", "Deposits and withdrawals", "存取款"),
        ("B0102", "Account opening and closing", "开销户"),
    ]),
    ("B02", "Loans", "贷款", [
        ("B0201", "Personal consumer loans", "个人消费贷款"),
        ("B0202", "Mortgages", "个人住房贷款"),
        ("B0203", "Business loans", "经营性贷款"),
    ]),
    ("B03", "Bank cards", "银行卡", [
        ("B0301", "Debit cards", "借记卡"),
        ("B0302", "Credit cards", "信用卡"),
    ]),
    ("B04", "Payment and settlement", "支付结算", [
        ("B0401", "Transfers and remittances", "转账汇款"),
        ("B0402", "Online and mobile payments", "网络支付"),
    ]),
    ("B05", "RMB cash management", "人民币管理", []),
    ("B06", "Personal financial information", "个人金融信息", []),
    ("B07", "Wealth and agency products", "理财及代理业务", [
        ("B0701", "Wealth management products", "理财产品"),
        ("B0702", "Funds", "基金"),
        ("B0703", "Insurance (agency)", "代理保险"),
    ]),
    ("B08", "Foreign exchange", "外汇", []),
    ("B09", "Precious metals", "贵金属", []),
    ("B99", "Other", "其他", []),
]

SEQUENCE = "complaints_reference_seq"


def seed(apps, schema_editor):
    Category = apps.get_model("complaints", "ComplaintCategory")
    SlaPolicy = apps.get_model("complaints", "SlaPolicy")
    for order, (code, name, name_zh, children) in enumerate(CATEGORY_TREE, start=1):
        parent, _created = Category.objects.get_or_create(
            code=code, defaults={"name": name, "name_zh": name_zh, "sort_order": order * 10})
        for child_order, (child_code, child_name, child_zh) in enumerate(children, start=1):
            Category.objects.get_or_create(
                code=child_code,
                defaults={"name": child_name, "name_zh": child_zh, "parent": parent, "sort_order": child_order},
            )
    SlaPolicy.objects.get_or_create(version=1, defaults={
        "effective_from": datetime(2000, 1, 1, tzinfo=UTC),
        "first_response_minutes": 24 * 60,
        "resolution_minutes": 48 * 60,
        "warning_pct": 75,
        "critical_pct": 90,
        "reopen_window_days": 30,
    })


def unseed(apps, schema_editor):
    apps.get_model("complaints", "SlaPolicy").objects.filter(version=1, complaints__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("complaints", "0001_initial")]

    operations = [
        migrations.RunSQL(f"CREATE SEQUENCE IF NOT EXISTS {SEQUENCE}", f"DROP SEQUENCE IF EXISTS {SEQUENCE}"),
        migrations.RunPython(seed, unseed),
    ]
