"""A hash chain over the audit trail, per utility (platform rows form their own chain).

Rows are written as before; a sealing pass (``portal.audit_chain.seal``, run by beat every
minute and before every verification) gives each unsealed row, in id order, the next
``chain_seq`` of its utility, the previous row's hash and its own hash: SHA-256 over the
previous hash and every field of the row. Sealing off the write path keeps audit writes free
of a per-utility lock. The append-only trigger now lets exactly one change through: sealing
an unsealed row, touching nothing but the three chain columns. ``manage.py
verify_audit_chain`` recomputes every hash and link and names the first break per utility.
"""

from django.db import migrations, models

ROW_HASH = """
CREATE OR REPLACE FUNCTION portal_audit_row_hash(prev text, r portal_auditevent) RETURNS text AS $$
    SELECT encode(sha256(convert_to(jsonb_build_array(
        prev, r.id, r.uuid::text, r.utility_id, (r.created_at AT TIME ZONE 'UTC')::text,
        r.actor_user_id, r.actor_client_id, r.actor_label, r.action, r.object_type,
        r.object_id, r.object_repr, r.from_state, r.to_state, r.comment, r.changes,
        r.request_id
    )::text, 'UTF8')), 'hex');
$$ LANGUAGE sql IMMUTABLE;
"""

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION portal_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.row_hash = '' AND NEW.row_hash <> ''
       AND (to_jsonb(NEW) - 'chain_seq' - 'prev_hash' - 'row_hash')
           = (to_jsonb(OLD) - 'chain_seq' - 'prev_hash' - 'row_hash') THEN
        RETURN NEW;  -- sealing: the chain columns of a row that had none
    END IF;
    RAISE EXCEPTION 'portal_auditevent is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""

APPEND_ONLY_BEFORE = """
CREATE OR REPLACE FUNCTION portal_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'portal_auditevent is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""

SEAL = """
CREATE OR REPLACE FUNCTION portal_audit_seal(batch integer) RETURNS integer AS $$
DECLARE
    r portal_auditevent;
    last_seq bigint;
    last_hash text;
    sealed integer := 0;
BEGIN
    -- One sealer at a time; a second caller simply finds nothing to do this round.
    IF NOT pg_try_advisory_xact_lock(hashtext('portal_audit_seal')) THEN
        RETURN 0;
    END IF;
    FOR r IN SELECT * FROM portal_auditevent WHERE row_hash = '' ORDER BY id LIMIT batch LOOP
        SELECT chain_seq, row_hash INTO last_seq, last_hash FROM portal_auditevent
            WHERE COALESCE(utility_id, 0) = COALESCE(r.utility_id, 0) AND row_hash <> ''
            ORDER BY chain_seq DESC LIMIT 1;
        UPDATE portal_auditevent
            SET chain_seq = COALESCE(last_seq, 0) + 1,
                prev_hash = COALESCE(last_hash, ''),
                row_hash = portal_audit_row_hash(COALESCE(last_hash, ''), r)
            WHERE id = r.id;
        sealed := sealed + 1;
    END LOOP;
    RETURN sealed;
END;
$$ LANGUAGE plpgsql;
"""

DROP = """
DROP FUNCTION IF EXISTS portal_audit_seal(integer);
DROP FUNCTION IF EXISTS portal_audit_row_hash(text, portal_auditevent);
"""


class Migration(migrations.Migration):
    dependencies = [("portal", "0004_partner_client_allowed_scopes")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="chain_seq",
            field=models.BigIntegerField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(blank=True, default="", editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="row_hash",
            field=models.CharField(blank=True, default="", editable=False, max_length=64),
        ),
        migrations.RunSQL(
            "CREATE UNIQUE INDEX portal_audit_chain_seq ON portal_auditevent "
            "(COALESCE(utility_id, 0), chain_seq) WHERE chain_seq IS NOT NULL;"
            "CREATE INDEX portal_audit_unsealed ON portal_auditevent (id) WHERE row_hash = '';",
            "DROP INDEX IF EXISTS portal_audit_chain_seq; DROP INDEX IF EXISTS portal_audit_unsealed;",
        ),
        migrations.RunSQL(ROW_HASH + APPEND_ONLY + SEAL, DROP + APPEND_ONLY_BEFORE),
    ]
