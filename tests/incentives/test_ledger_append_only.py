"""The incentive ledger is append-only: the model and its querysets refuse changes, and
database triggers refuse UPDATE, DELETE (and TRUNCATE on PostgreSQL) even from raw SQL.
Corrections are reversing entries linked to the entry they cancel."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django_scopes import scope, scopes_disabled

from enrollment.incentives import selectors, services
from enrollment.incentives.models import LedgerEntry, LedgerIsAppendOnly
from tests.incentives.support import bonus_offer, funded_program, participant

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry(utility_a):
    program = funded_program(utility_a, budget="1000.00")
    bonus_offer(program, amount=D("100.00"))
    with scope(utility=utility_a.pk):
        incentive = services.award_enrollment_bonus(
            program=program, enrollment=participant(program)
        )
        return LedgerEntry.objects.get(incentive=incentive)


def test_it_refuses_to_change_an_entry_through_the_model(entry):
    entry.amount = D("1000000.00")
    with pytest.raises(LedgerIsAppendOnly):
        entry.save()
    with pytest.raises(LedgerIsAppendOnly):
        entry.delete()


def test_it_refuses_bulk_updates_and_deletes(entry, utility_a):
    with scope(utility=utility_a.pk):
        with pytest.raises(LedgerIsAppendOnly):
            LedgerEntry.objects.all().update(amount=D("1"))
        with pytest.raises(LedgerIsAppendOnly):
            LedgerEntry.objects.filter(pk=entry.pk).delete()


def test_it_refuses_raw_sql_changes_in_the_database(entry):
    statements = [
        "UPDATE enrollment_ledgerentry SET amount = 1",
        "DELETE FROM enrollment_ledgerentry",
        "TRUNCATE enrollment_ledgerentry CASCADE",
    ]
    for statement in statements:
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    with scopes_disabled():
        assert LedgerEntry.objects.get(pk=entry.pk).amount == D("100.00")


def test_it_still_accepts_new_entries(entry, utility_a):
    with scope(utility=utility_a.pk):
        reversal = services.reverse_entry(entry_id=entry.pk, reason="Approved in error", actor=None)
        assert LedgerEntry.objects.filter(incentive=entry.incentive).count() == 2
    assert (reversal.kind, reversal.amount, reversal.reverses_id) == (
        "reversal",
        D("-100.00"),
        entry.pk,
    )


def test_it_corrects_with_a_reversing_entry_linked_to_the_original(entry, utility_a):
    with scope(utility=utility_a.pk):
        reversal = services.reverse_entry(entry_id=entry.pk, reason="Approved in error", actor=None)
        budget = selectors.budget(program=entry.program)
        entry = LedgerEntry.objects.get(pk=entry.pk)

    assert entry.reversed_by == reversal
    assert reversal.memo == "Approved in error"
    assert (budget.committed, budget.remaining) == (D("0.00"), D("1000.00"))


def test_it_reverses_an_entry_only_once(entry, utility_a):
    with scope(utility=utility_a.pk):
        services.reverse_entry(entry_id=entry.pk, reason="Approved in error", actor=None)
        with pytest.raises(services.LedgerConflict, match="already reversed"):
            services.reverse_entry(entry_id=entry.pk, reason="Again", actor=None)
        reversal = LedgerEntry.objects.get(reverses=entry)
        with pytest.raises(services.LedgerConflict, match="only reserved amounts"):
            services.reverse_entry(entry_id=reversal.pk, reason="Undo the undo", actor=None)


def test_it_refuses_to_reverse_an_amount_in_a_payout_batch(entry, utility_a):
    with scope(utility=utility_a.pk):
        batch = services.create_payout_batch(
            program_id=entry.program_id, channel="bill_credit", actor=None
        )
        with pytest.raises(services.LedgerConflict, match=f"payout batch #{batch.pk}"):
            services.reverse_entry(entry_id=entry.pk, reason="Too late", actor=None)


def test_the_database_keeps_an_entry_from_being_reversed_twice(entry, utility_a):
    with scope(utility=utility_a.pk):
        services.reverse_entry(entry_id=entry.pk, reason="Approved in error", actor=None)
        with pytest.raises(IntegrityError), transaction.atomic():
            LedgerEntry.objects.create(
                utility=utility_a,
                program=entry.program,
                incentive=entry.incentive,
                kind=LedgerEntry.Kind.REVERSAL,
                amount=D("-100.00"),
                reverses=entry,
                actor_label="raw",
            )


def test_the_database_refuses_entries_of_the_wrong_shape(entry, utility_a):
    shapes = [
        {"kind": "reserve", "amount": D("-5.00")},  # reserves are positive
        {"kind": "reversal", "amount": D("-5.00")},  # a reversal names what it reverses
        {"kind": "payout", "amount": D("5.00")},  # a payout names its entry and batch
    ]
    with scope(utility=utility_a.pk):
        for shape in shapes:
            with pytest.raises(IntegrityError), transaction.atomic():
                LedgerEntry.objects.create(
                    utility=utility_a,
                    program=entry.program,
                    incentive=entry.incentive,
                    actor_label="raw",
                    **shape,
                )
