"""Take survey links (each carries a raw token) out of the text of messages written before 0003.

A queued message keeps its link in the encrypted ``link`` column for the send; a sent or failed
one loses it. Either way ``body`` shows [link] instead, as new messages do.
"""

import re

from django.db import migrations

LINK_PLACEHOLDER = "[link]"
SURVEY_LINK = re.compile(r"(?:https?://\S*?)?/public/surveys/[A-Za-z0-9_-]+/")


def redact_links(apps, schema_editor):
    OutboundMessage = apps.get_model("service", "OutboundMessage")
    for message in OutboundMessage.objects.filter(body__contains="/public/surveys/").iterator(chunk_size=500):
        match = SURVEY_LINK.search(message.body)
        if match is None:
            continue
        message.link = match.group(0) if message.status == "queued" else ""
        message.body = SURVEY_LINK.sub(LINK_PLACEHOLDER, message.body)
        message.save(update_fields=["body", "link"])


class Migration(migrations.Migration):

    dependencies = [
        ("service", "0003_outboundmessage_link"),
    ]

    operations = [
        migrations.RunPython(redact_links, migrations.RunPython.noop, elidable=True),
    ]
