"""Compute the contact phone's blind index for complaints logged before 0007 added the column.

Not atomic: each batch of complaints.backfill commits on its own, so a long run on a large table
holds no lock for long and resumes where it stopped if interrupted.
"""

from django.db import migrations

from complaints.backfill import complaint_contact_phone_bidx_backfill


def forwards(apps, schema_editor):
    complaint_contact_phone_bidx_backfill(complaint_model=apps.get_model("complaints", "Complaint"))


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("complaints", "0007_complaint_contact_phone_bidx"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
