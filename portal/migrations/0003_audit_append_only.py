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


class Migration(migrations.Migration):
    dependencies = [("portal", "0002_partner_client")]
    operations = [migrations.RunSQL(POSTGRES_UP, POSTGRES_DOWN)]
