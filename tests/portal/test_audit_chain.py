"""The audit trail's hash chain and the runtime database role: a row changed, deleted or
slipped in behind the application's back is found by ``verify_audit_chain``; the role the
portal runs as cannot change the append-only tables or switch their triggers off."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django_scopes import scopes_disabled

from portal import audit, audit_chain
from portal.management.commands.grant_runtime_role import runtime_grants
from portal.models import AuditEvent

pytestmark = pytest.mark.django_db


def _rows(utility, n, action="customer.updated"):
    with scopes_disabled():
        return [audit.record(action=action, utility=utility, comment=f"row {i}") for i in range(n)]


def _as_owner_without_triggers(statement: str, params=()) -> None:
    """What someone who owns the table can do: switch the append-only trigger off."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's own inserts, checked now
        cursor.execute("ALTER TABLE portal_auditevent DISABLE TRIGGER portal_auditevent_no_update")
        cursor.execute(statement, params)
        cursor.execute("ALTER TABLE portal_auditevent ENABLE TRIGGER portal_auditevent_no_update")


def test_it_chains_each_utilitys_rows_in_order(utility_a, utility_b):
    a = _rows(utility_a, 3)
    b = _rows(utility_b, 2)
    platform = _rows(None, 1, action="platform.settings")
    assert audit_chain.seal() >= 6
    with scopes_disabled():
        ids = [e.pk for e in a + b + platform]
        sealed = {e.pk: e for e in AuditEvent.objects.filter(pk__in=ids)}
    seq_a = [sealed[e.pk].chain_seq for e in a]
    assert seq_a == list(range(seq_a[0], seq_a[0] + 3))
    seq_b = [sealed[e.pk].chain_seq for e in b]
    assert seq_b == [seq_b[0], seq_b[0] + 1]
    assert sealed[a[1].pk].prev_hash == sealed[a[0].pk].row_hash
    assert sealed[a[2].pk].prev_hash == sealed[a[1].pk].row_hash
    assert sealed[b[1].pk].prev_hash == sealed[b[0].pk].row_hash
    assert all(len(e.row_hash) == 64 for e in sealed.values())
    result = audit_chain.verify()
    assert result.intact and result.unsealed == 0 and result.rows_checked >= 6


def test_sealing_is_the_only_change_the_trigger_lets_through(utility_a):
    (event,) = _rows(utility_a, 1)
    audit_chain.seal()
    for statement in (
        "UPDATE portal_auditevent SET row_hash = '' WHERE id = %s",
        "UPDATE portal_auditevent SET comment = 'x', row_hash = 'f' WHERE id = %s",
        "DELETE FROM portal_auditevent WHERE id = %s",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [event.pk])


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ("UPDATE portal_auditevent SET comment = 'rewritten' WHERE id = %s", "changed"),
        ("DELETE FROM portal_auditevent WHERE id = %s", "missing"),
    ],
)
def test_it_finds_a_row_changed_or_deleted_behind_the_applications_back(utility_a, tamper, reason):
    rows = _rows(utility_a, 4)
    audit_chain.seal()
    _as_owner_without_triggers(tamper, [rows[1].pk])

    result = audit_chain.verify(utility_id=utility_a.pk)

    assert not result.intact
    first = result.breaks[0]
    assert reason in first.reason
    assert first.audit_id in (rows[1].pk, rows[2].pk)
    with pytest.raises(CommandError, match="broken"):
        call_command("verify_audit_chain", "--utility", utility_a.slug)


def test_the_command_says_an_intact_chain_is_intact(utility_a, capsys):
    _rows(utility_a, 2)
    call_command("verify_audit_chain", "--utility", utility_a.slug)
    assert "intact" in capsys.readouterr().out
    with pytest.raises(CommandError, match="No utility"):
        call_command("verify_audit_chain", "--utility", "nowhere")


@pytest.fixture
def runtime_role():
    name = "portal_runtime_test"
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f"CREATE ROLE {name} NOLOGIN")
        for statement in runtime_grants(name):
            cursor.execute(statement)
    return name


def test_the_runtime_role_cannot_rewrite_or_unprotect_the_append_only_tables(
    utility_a, runtime_role
):
    _rows(utility_a, 1)
    refused = [
        "UPDATE portal_auditevent SET comment = 'x'",
        "DELETE FROM portal_auditevent",
        "TRUNCATE portal_auditevent",
        "ALTER TABLE portal_auditevent DISABLE TRIGGER portal_auditevent_no_update",
        "UPDATE enrollment_ledgerentry SET memo = 'x'",
        "DELETE FROM enrollment_ledgerentry",
        "ALTER TABLE enrollment_ledgerentry DISABLE TRIGGER ALL",
    ]
    for statement in refused:
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL ROLE {runtime_role}")
            cursor.execute(statement)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL ROLE {runtime_role}")
        cursor.execute("SELECT count(*) FROM portal_auditevent")
        assert cursor.fetchone()[0] >= 1
        cursor.execute("SELECT portal_audit_seal(100)")  # sealing works as the runtime role
        cursor.execute("UPDATE enrollment_serviceaccount SET email = email WHERE false")


def test_the_command_refuses_an_unknown_role():
    with pytest.raises(CommandError, match="no database role"):
        call_command("grant_runtime_role", "no_such_role_here")
