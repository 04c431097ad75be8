"""Seed the five touchpoints of MANUAL 3.1 with their service standards, and the feedback topics
of MANUAL 2.3-2.4. Both stay editable in admin; re-running changes nothing that exists.

Names and steps are stored in English and shown through gettext (marked here so makemessages
collects them); a name an administrator changes is shown as typed.
"""

from django.db import migrations
from django.utils.translation import gettext_noop as N_

TOUCHPOINTS = [
    {
        "code": "account_opening", "name": N_("account opening"), "target_minutes": 25,
        "owner_role": "relationship_manager", "position": 1,
        "sop_steps": [
            N_("Verify identity (ID card reader and online check)"),
            N_("Risk assessment questionnaire"),
            N_("Review documents"),
            N_("Open the account in core banking"),
            N_("Explain products, fees and channels"),
            N_("Customer signs; hand over documents"),
        ],
    },
    {
        "code": "consultation", "name": N_("consultation"), "target_minutes": 15,
        "owner_role": "relationship_manager", "position": 2,
        "sop_steps": [
            N_("Greet and identify the need"),
            N_("Check the customer profile"),
            N_("Answer, or refer to the right desk"),
            N_("Record the outcome"),
        ],
    },
    {
        "code": "wealth_management", "name": N_("wealth management"), "target_minutes": 40,
        "owner_role": "relationship_manager", "position": 3,
        "sop_steps": [
            N_("Confirm the risk tolerance is current"),
            N_("Suitability check of the product"),
            N_("Explain risks, fees and redemption terms"),
            N_("Audio and video recording of the sale"),
            N_("Customer confirms and signs"),
        ],
    },
    {
        "code": "transfer", "name": N_("transfer"), "target_minutes": 10,
        "owner_role": "branch_manager", "position": 4,
        "sop_steps": [
            N_("Verify identity"),
            N_("Check payee and amount (fraud warning)"),
            N_("Customer confirms"),
            N_("Execute and hand over the receipt"),
        ],
    },
    {
        "code": "complaint", "name": N_("complaint"), "target_minutes": 30,
        "owner_role": "complaint_desk", "position": 5,
        "sop_steps": [
            N_("Register the complaint and give the reference number"),
            N_("Acknowledge and apologise"),
            N_("Investigate the facts"),
            N_("Propose a resolution"),
            N_("Confirm the customer's satisfaction"),
        ],
    },
]

FEEDBACK_TOPICS = [
    {"code": "service_attitude", "name": N_("service attitude"),
     "keywords": ["态度", "不耐烦", "冷淡", "不礼貌", "attitude", "rude", "impolite", "unfriendly"]},
    {"code": "slow_response", "name": N_("slow response"),
     "keywords": ["慢", "等待", "等了", "排队", "效率", "slow", "wait", "queue"]},
    {"code": "product_too_complex", "name": N_("product too complex"),
     "keywords": ["复杂", "看不懂", "不明白", "听不懂", "complex", "complicated", "confusing"]},
    {"code": "ease_of_operation", "name": N_("ease of operation"),
     "keywords": ["操作", "麻烦", "手机银行", "流程", "繁琐", "difficult", "hard to use", "app"]},
    {"code": "fees", "name": N_("fees"), "keywords": ["手续费", "费用", "收费", "fee", "charge"]},
]


def seed(apps, schema_editor):
    Touchpoint = apps.get_model("service", "Touchpoint")
    FeedbackTopic = apps.get_model("service", "FeedbackTopic")
    for touchpoint in TOUCHPOINTS:
        Touchpoint.objects.get_or_create(code=touchpoint["code"], defaults=touchpoint)
    for topic in FEEDBACK_TOPICS:
        FeedbackTopic.objects.get_or_create(code=topic["code"], defaults=topic)


def unseed(apps, schema_editor):
    apps.get_model("service", "FeedbackTopic").objects.filter(
        code__in=[topic["code"] for topic in FEEDBACK_TOPICS], responses__isnull=True
    ).delete()
    apps.get_model("service", "Touchpoint").objects.filter(
        code__in=[touchpoint["code"] for touchpoint in TOUCHPOINTS], service_records__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("service", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
