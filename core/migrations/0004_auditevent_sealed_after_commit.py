"""Audit rows are sealed after commit instead of under one lock held by every audited transaction.

A row is inserted with ``chain_seq`` NULL and no hashes; the sealer (core.audit.audit_seal) sets
the three once. The UPDATE trigger now allows exactly that and nothing else: a sealed row, or
any other column, still cannot change. Rows written before this migration were chained in id
order under the old lock, so their chain position is their id.
"""

from django.db import migrations, models

SEAL_ONLY_SQL = """
CREATE FUNCTION core_auditevent_seal_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.chain_seq IS NULL AND NEW.chain_seq IS NOT NULL
       AND NEW.id = OLD.id
       AND NEW.occurred_at IS NOT DISTINCT FROM OLD.occurred_at
       AND NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id
       AND NEW.actor_label IS NOT DISTINCT FROM OLD.actor_label
       AND NEW.action IS NOT DISTINCT FROM OLD.action
       AND NEW.target_type IS NOT DISTINCT FROM OLD.target_type
       AND NEW.target_id IS NOT DISTINCT FROM OLD.target_id
       AND NEW.detail IS NOT DISTINCT FROM OLD.detail
       AND NEW.ip_address IS NOT DISTINCT FROM OLD.ip_address
       AND NEW.request_id IS NOT DISTINCT FROM OLD.request_id THEN
        RETURN NEW;  -- the one allowed change: sealing an unsealed row
    END IF;
    RAISE EXCEPTION 'core_auditevent is append-only: % is not allowed', TG_OP
        USING HINT = 'Audit events are never changed or removed; only the sealer sets chain_seq and the hashes once.';
END;
$$;

DROP TRIGGER core_auditevent_append_only ON core_auditevent;
CREATE TRIGGER core_auditevent_append_only
    BEFORE DELETE ON core_auditevent
    FOR EACH ROW EXECUTE FUNCTION core_auditevent_refuse_change();
CREATE TRIGGER core_auditevent_seal_once
    BEFORE UPDATE ON core_auditevent
    FOR EACH ROW EXECUTE FUNCTION core_auditevent_seal_only();

UPDATE core_auditevent SET chain_seq = id WHERE chain_seq IS NULL;
"""

REVERSE_SQL = """
DROP TRIGGER core_auditevent_seal_once ON core_auditevent;
DROP TRIGGER core_auditevent_append_only ON core_auditevent;
DROP FUNCTION core_auditevent_seal_only();
CREATE TRIGGER core_auditevent_append_only
    BEFORE UPDATE OR DELETE ON core_auditevent
    FOR EACH ROW EXECUTE FUNCTION core_auditevent_refuse_change();
"""


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0003_idempotencyrecord'),
    ]

    operations = [
        migrations.AddField(
            model_name='auditevent',
            name='chain_seq',
            field=models.BigIntegerField(blank=True, editable=False, null=True, unique=True, verbose_name='chain position'),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='hash',
            field=models.CharField(blank=True, default='', max_length=64, verbose_name='hash'),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='prev_hash',
            field=models.CharField(blank=True, default='', max_length=64, verbose_name='previous hash'),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(condition=models.Q(('chain_seq__isnull', True)), fields=['id'], name='core_audit_unsealed_idx'),
        ),
        migrations.RunSQL(SEAL_ONLY_SQL, reverse_sql=REVERSE_SQL),
    ]
