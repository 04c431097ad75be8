"""One RM's next steps by (customer, due day): the RM dashboard read took 428 ms at 1M customers."""

from django.conf import settings
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False  # built CONCURRENTLY: writes to interactions go on while it builds

    dependencies = [
        ('customers', '0015_customer_share_permissions'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='interaction',
            index=models.Index(condition=models.Q(('next_step_due_on__isnull', False), models.Q(('next_step', ''), _negated=True)), fields=['customer', 'next_step_due_on'], name='interaction_customer_next_idx'),
        ),
    ]
