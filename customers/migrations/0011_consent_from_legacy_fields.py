"""Carry the former single consent fields over to consent per purpose and channel.

A customer whose ``consent_data_processing`` / ``consent_marketing`` said given or withdrawn gets
that state for each channel (SMS, phone, email, app) of the purpose, method "migrated", at the
recorded time (else when the information was last updated). "Not recorded" stays without a row.
A frozen copy of customers.consent.LEGACY_BACKFILL_SQL (migrations never import app code).
"""

from django.db import migrations

BACKFILL_SQL = """
WITH legacy AS (
    SELECT c.id AS customer_id, p.purpose, p.state,
           coalesce(p.at, c.info_updated_at, c.created_at) AS changed_at
    FROM customers_customer c
    CROSS JOIN LATERAL (VALUES ('data_processing', c.consent_data_processing, c.consent_data_processing_at),
                               ('marketing', c.consent_marketing, c.consent_marketing_at)) AS p(purpose, state, at)
    WHERE p.state IN ('given', 'withdrawn') 
      AND NOT EXISTS (SELECT 1 FROM customers_consent x WHERE x.customer_id = c.id AND x.purpose = p.purpose)
), channels AS (
    SELECT legacy.*, ch.channel FROM legacy CROSS JOIN (VALUES ('sms'), ('phone'), ('email'), ('app')) AS ch(channel)
), changes AS (
    INSERT INTO customers_consentchange (customer_id, purpose, channel, from_state, state, method, changed_at)
    SELECT customer_id, purpose, channel, 'unknown', state, 'migrated', changed_at FROM channels
)
INSERT INTO customers_consent (customer_id, purpose, channel, state, method, changed_at)
SELECT customer_id, purpose, channel, state, 'migrated', changed_at FROM channels
"""


class Migration(migrations.Migration):
    dependencies = [("customers", "0010_consent_per_purpose_and_stewardship")]

    operations = [migrations.RunSQL(BACKFILL_SQL, migrations.RunSQL.noop)]
