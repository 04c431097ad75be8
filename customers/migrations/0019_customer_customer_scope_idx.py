"""Rows that belong to a customer (churn scores, retention tasks) check their customer's branch and RM
from this index alone: the branch manager's home tile at 1M customers (bench/README)."""

from django.conf import settings
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False  # built CONCURRENTLY: writes to customers go on while it builds

    dependencies = [
        ('accounts', '0012_record_share_purge_schedule'),
        ('customers', '0018_customer_completeness_generated'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='customer',
            index=models.Index(fields=['id'], include=('branch', 'relationship_manager'), name='customer_scope_idx'),
        ),
    ]
