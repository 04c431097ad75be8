"""The completeness score becomes a column PostgreSQL computes (customers.completeness): always current,
and the data-quality pass no longer rewrites every customer row to store it. PostgreSQL cannot turn a
column into a generated one: the column is dropped and added again (a rewrite of the table, which also
applies the fillfactor of 0017 to a table loaded before it); the CHECK constraint goes and comes back.
"""

import django.db.models.expressions
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("customers", "0017_customer_fillfactor"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="customer", name="customer_completeness_le_100"),
        migrations.RemoveField(model_name="customer", name="completeness_score"),
        migrations.AddField(
            model_name="customer",
            name="completeness_score",
            field=models.GeneratedField(db_persist=True, expression=django.db.models.expressions.RawSQL("(((CASE WHEN btrim(name) <> '' THEN 1 ELSE 0 END) + (CASE WHEN gender <> 'unknown' THEN 1 ELSE 0 END) + (CASE WHEN birth_date IS NOT NULL THEN 1 ELSE 0 END) + (CASE WHEN btrim(occupation) <> '' THEN 1 ELSE 0 END) + (CASE WHEN coalesce(phone, '') <> '' THEN 1 ELSE 0 END) + (CASE WHEN coalesce(id_number, '') <> '' THEN 1 ELSE 0 END) + (CASE WHEN total_assets IS NOT NULL THEN 1 ELSE 0 END) + (CASE WHEN liabilities IS NOT NULL THEN 1 ELSE 0 END) + (CASE WHEN annual_income IS NOT NULL THEN 1 ELSE 0 END) + (CASE WHEN preferred_channel <> '' THEN 1 ELSE 0 END) + (CASE WHEN credit_rating <> '' THEN 1 ELSE 0 END) + (CASE WHEN risk_tolerance <> '' THEN 1 ELSE 0 END)) * 100 / 12)", []), output_field=models.PositiveSmallIntegerField(), verbose_name='completeness score'),
        ),
        migrations.AddConstraint(
            model_name="customer",
            constraint=models.CheckConstraint(condition=models.Q(("completeness_score__lte", 100)),
                                              name="customer_completeness_le_100"),
        ),
    ]
