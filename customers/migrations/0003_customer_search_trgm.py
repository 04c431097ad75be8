"""Trigram index for customer search (name contains, customer number starts with).

Django compiles ``icontains``/``istartswith`` to ``UPPER(col::text) LIKE UPPER(%s)``, so the
index is on UPPER(name) and UPPER(external_id) with gin_trgm_ops; a gin_trgm_ops index on the
bare columns would never be used by those queries.

The index is created with SQL: Django renders ``OpClass`` around an expression correctly only
when django.contrib.postgres is in INSTALLED_APPS (its AppConfig registers OpClass as an index
wrapper); this SQL is what it renders then. The state operation records the same index as
customers.models.Customer.Meta.indexes, so makemigrations sees no change. Built CONCURRENTLY so
adding it to a populated customer table does not block writes (hence atomic = False).
"""

import django.contrib.postgres.indexes
import django.db.models.functions.text
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("customers", "0002_initial_data_quality_policy"),
    ]

    operations = [
        TrigramExtension(),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    'CREATE INDEX CONCURRENTLY IF NOT EXISTS "customer_search_trgm_idx" '
                    'ON "customers_customer" USING gin '
                    '((UPPER("name")) gin_trgm_ops, (UPPER("external_id")) gin_trgm_ops)',
                    reverse_sql='DROP INDEX CONCURRENTLY IF EXISTS "customer_search_trgm_idx"',
                ),
            ],
            state_operations=[
                migrations.AddIndex(
                    model_name="customer",
                    index=django.contrib.postgres.indexes.GinIndex(
                        django.contrib.postgres.indexes.OpClass(
                            django.db.models.functions.text.Upper("name"), name="gin_trgm_ops"
                        ),
                        django.contrib.postgres.indexes.OpClass(
                            django.db.models.functions.text.Upper("external_id"), name="gin_trgm_ops"
                        ),
                        name="customer_search_trgm_idx",
                    ),
                ),
            ],
        ),
    ]
