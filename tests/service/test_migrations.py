"""Data migrations of the service app."""

import importlib

import pytest
from django.apps import apps
from django.db import connection

from service.models import OutboundMessage
from tests.customers.factories import CustomerFactory

redact = importlib.import_module("service.migrations.0004_redact_survey_links")

TOKEN = "Fc1MFH8-IK_C5XoYVoBTfB9CDncssvA4E9ga0bUmbPI"


@pytest.mark.parametrize(("status", "kept_link"), [("queued", True), ("sent", False), ("failed", False)])
def test_messages_written_before_0003_lose_the_token_from_their_text(branch, status, kept_link):
    """Given an old message with the link in its body, the body shows [link]; only a queued one keeps the link."""
    link = f"https://crm.example.cn/public/surveys/{TOKEN}/"
    message = OutboundMessage.objects.create(
        customer=CustomerFactory(branch=branch), body=f"请用2分钟告诉我们{link}有效期至2026-12-13", status=status,
        sent_at="2026-11-28T10:00:00Z" if status == "sent" else None,
    )

    redact.redact_links(apps, None)

    message.refresh_from_db()
    assert message.body == "请用2分钟告诉我们[link]有效期至2026-12-13"
    assert message.link == (link if kept_link else "")
    with connection.cursor() as cursor:
        cursor.execute("SELECT body, link FROM service_outboundmessage WHERE id = %s", [message.pk])
        assert TOKEN not in repr(cursor.fetchall())
