"""Index the next steps by due day (the RM dashboard's "next steps from interactions" read scanned the table).

Built CONCURRENTLY: interactions are a large table and writes go on while it builds.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("customers", "0012_merge_chapters"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="interaction",
            index=models.Index(condition=models.Q(("next_step_due_on__isnull", False),
                                                  models.Q(("next_step", ""), _negated=True)),
                               fields=["next_step_due_on"], name="interaction_next_step_due_idx"),
        ),
    ]
