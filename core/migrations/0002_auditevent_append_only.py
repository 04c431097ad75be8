"""Make core_auditevent append-only in the database itself.

The triggers stop the application (and anyone connected as its role) from changing history.
A table owner or superuser can still disable them; the hash chain, checked by
``manage.py verify_audit_chain``, shows what was done then.

The TRUNCATE trigger also stops ``manage.py flush``, and so the flush Django runs after a
transactional test: a test suite disables that one trigger in its own test database.
"""

from django.db import migrations

APPEND_ONLY_SQL = """
CREATE FUNCTION core_auditevent_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'core_auditevent is append-only: % is not allowed', TG_OP
        USING HINT = 'Audit events are never changed or removed.';
END;
$$;

CREATE TRIGGER core_auditevent_append_only
    BEFORE UPDATE OR DELETE ON core_auditevent
    FOR EACH ROW EXECUTE FUNCTION core_auditevent_refuse_change();

CREATE TRIGGER core_auditevent_no_truncate
    BEFORE TRUNCATE ON core_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION core_auditevent_refuse_change();
"""

REVERSE_SQL = """
DROP TRIGGER IF EXISTS core_auditevent_no_truncate ON core_auditevent;
DROP TRIGGER IF EXISTS core_auditevent_append_only ON core_auditevent;
DROP FUNCTION IF EXISTS core_auditevent_refuse_change();
"""


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(APPEND_ONLY_SQL, reverse_sql=REVERSE_SQL),
    ]
