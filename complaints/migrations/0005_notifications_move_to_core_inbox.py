"""Complaint notices move into the shared inbox (core.Notification), then their own table goes.

Each notice becomes a message of kind ``complaints.<event kind>`` with the complaint's reference,
its link, and the dedupe key ``complaint-event:<event id>`` (one per event and recipient, as the
old unique constraint had it); read times are kept.
"""

from django.db import migrations

BATCH = 5000


def move_notices(apps, schema_editor):
    ComplaintNotification = apps.get_model("complaints", "ComplaintNotification")
    Notification = apps.get_model("core", "Notification")
    notices = (ComplaintNotification.objects.select_related("complaint", "event").order_by("pk")
               .only("pk", "recipient_id", "created_at", "read_at", "complaint__reference", "event__kind"))
    last_pk = 0
    while True:
        batch = list(notices.filter(pk__gt=last_pk)[:BATCH])
        if not batch:
            return
        Notification.objects.bulk_create([
            Notification(recipient_id=notice.recipient_id, kind=f"complaints.{notice.event.kind}",
                         params={"reference": notice.complaint.reference},
                         url=f"/complaints/{notice.complaint.reference}/",
                         dedupe_key=f"complaint-event:{notice.event_id}",
                         created_at=notice.created_at, read_at=notice.read_at)
            for notice in batch
        ], ignore_conflicts=True)
        last_pk = batch[-1].pk


class Migration(migrations.Migration):
    dependencies = [
        ("complaints", "0004_complaint_contact_id_number_bidx"),
        ("core", "0008_merge_chapters_2"),
    ]

    operations = [
        migrations.RunPython(move_notices, migrations.RunPython.noop),
        migrations.DeleteModel(name="ComplaintNotification"),
    ]
