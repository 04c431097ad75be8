"""Leave 15 % of each customer page free, so updates that change no indexed column stay on the page.

The data-quality pass writes every changed customer's completeness score; with full pages each new
row version went to another page and into all ten indexes (the trigram index too). With room on the
page PostgreSQL makes it a heap-only update: at 100,000 customers the first pass's score write went
from 5.1 s to 3.3 s (bench/README.md). Applies to pages written from now on (imports, new customers);
``VACUUM FULL customers_customer`` (or pg_repack) applies it to a table loaded before.
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("customers", "0016_interaction_customer_next_step_index"),
    ]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE customers_customer SET (fillfactor = 85)",
            reverse_sql="ALTER TABLE customers_customer RESET (fillfactor)",
        ),
    ]
