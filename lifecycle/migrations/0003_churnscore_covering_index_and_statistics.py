"""The high-risk count of a run reads the churn score index alone (customer_id included), and the
planner sees how few scores pass the high-risk threshold: with the default 100 histogram buckets the
top 0.3 % of a million probabilities falls inside the last bucket and was estimated 2.7x too many,
enough to pick a hash join over the branch's every customer (50 ms) instead of probing
customers.customer_scope_idx per score (9 ms at 1M)."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0012_record_share_purge_schedule'),
        ('customers', '0019_customer_customer_scope_idx'),
        ('lifecycle', '0002_default_policy_and_strategies'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='churnscore',
            name='churnscore_run_prob_idx',
        ),
        migrations.AddIndex(
            model_name='churnscore',
            index=models.Index(fields=['run', '-probability'], include=('customer',), name='churnscore_run_prob_idx'),
        ),
        migrations.RunSQL(
            # ANALYZE now, not at autovacuum's next visit (a few seconds at a million scores).
            "ALTER TABLE lifecycle_churnscore ALTER COLUMN probability SET STATISTICS 1000; ANALYZE lifecycle_churnscore",
            "ALTER TABLE lifecycle_churnscore ALTER COLUMN probability SET STATISTICS -1",
        ),
    ]
