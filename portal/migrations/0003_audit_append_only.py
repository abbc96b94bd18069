"""Make the audit table append-only in the database itself, so not even raw SQL or a
queryset bypassing the model can rewrite history."""

from django.db import migrations

POSTGRES_UP = """
CREATE OR REPLACE FUNCTION portal_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'portal_auditevent is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER portal_auditevent_no_update BEFORE UPDATE OR DELETE ON portal_auditevent
    FOR EACH ROW EXECUTE FUNCTION portal_auditevent_append_only();
CREATE TRIGGER portal_auditevent_no_truncate BEFORE TRUNCATE ON portal_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION portal_auditevent_append_only();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS portal_auditevent_no_update ON portal_auditevent;
DROP TRIGGER IF EXISTS portal_auditevent_no_truncate ON portal_auditevent;
DROP FUNCTION IF EXISTS portal_auditevent_append_only();
"""
SQLITE_UP = [
    """CREATE TRIGGER portal_auditevent_no_update BEFORE UPDATE ON portal_auditevent
       BEGIN SELECT RAISE(ABORT, 'portal_auditevent is append-only (UPDATE refused)'); END;""",
    """CREATE TRIGGER portal_auditevent_no_delete BEFORE DELETE ON portal_auditevent
       BEGIN SELECT RAISE(ABORT, 'portal_auditevent is append-only (DELETE refused)'); END;""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS portal_auditevent_no_update;",
    "DROP TRIGGER IF EXISTS portal_auditevent_no_delete;",
]


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_UP, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_UP:
            schema_editor.execute(statement)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_DOWN, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_DOWN:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("portal", "0002_partner_client")]
    operations = [migrations.RunPython(forwards, backwards)]
