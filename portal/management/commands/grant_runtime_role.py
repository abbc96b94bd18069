"""``manage.py grant_runtime_role ROLE``: give the role the web processes and workers connect
as exactly what they need, run by the migration owner after every ``migrate``.

The owner of the tables (the role migrations run as) can do anything to them, including
``ALTER TABLE … DISABLE TRIGGER``; the runtime role cannot. It gets SELECT, INSERT, UPDATE and
DELETE on ordinary tables and their sequences, and on the append-only tables only SELECT and
INSERT (plus, on the audit trail, the sealing columns of the hash chain). Re-running it after a
migration grants the new tables; it changes nothing else.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from psycopg import sql

# table → privileges beyond SELECT, INSERT
APPEND_ONLY_TABLES: dict[str, str] = {
    "portal_auditevent": "UPDATE (chain_seq, prev_hash, row_hash)",
    "enrollment_ledgerentry": "",
}


def runtime_grants(role: str) -> list[sql.Composed]:
    """The statements that give ``role`` the runtime privileges on every table there is now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
        )
        tables = [row[0] for row in cursor.fetchall()]
    who = sql.Identifier(role)
    statements = [
        sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier("public"), who),
        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(who),
    ]
    for table in tables:
        name = sql.Identifier(table)
        statements.append(sql.SQL("REVOKE ALL ON {} FROM {}").format(name, who))
        if table in APPEND_ONLY_TABLES:
            extra = APPEND_ONLY_TABLES[table]
            privileges = "SELECT, INSERT" + (f", {extra}" if extra else "")
            statements.append(sql.SQL("GRANT " + privileges + " ON {} TO {}").format(name, who))
        else:
            statements.append(
                sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {}").format(name, who)
            )
    return statements


class Command(BaseCommand):
    help = "Grant the runtime database role its privileges (run as the migration owner)."

    def add_arguments(self, parser):
        parser.add_argument("role", help="The role the portal's processes connect as.")

    def handle(self, *args, role: str, **options):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            if cursor.fetchone() is None:
                raise CommandError(f"There is no database role {role!r}; create it first.")
            cursor.execute("SELECT current_user")
            if cursor.fetchone()[0] == role:
                raise CommandError("Run this as the migration owner, not as the runtime role.")
        statements = runtime_grants(role)
        with transaction.atomic(), connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
        self.stdout.write(f"Granted {role} the runtime privileges on every table.")
