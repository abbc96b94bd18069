"""A program's incentive budget, summed from the ledger: approval reserves, payout pays,
remaining = budget − reserved − paid. New amounts wait on the list when the budget cannot
cover them and come back strictly first in, first out when budget frees (a rejection, a
reversal, a raised budget). Two approvals at the same moment cannot overspend (PostgreSQL)."""

from __future__ import annotations

import threading
import time
from decimal import Decimal as D

import pytest
from django.db import connection
from django_scopes import scope, scopes_disabled

from enrollment.incentives import selectors, services
from enrollment.incentives.models import Incentive, LedgerEntry
from enrollment.incentives.services import ledger
from enrollment.models import Program
from portal.models import AuditEvent
from tests.incentives.support import (
    apply_rebate,
    approve,
    bonus_offer,
    funded_program,
    media_root,  # noqa: F401 - fixture
    participant,
    rebate_offer,
    reload,
)
from tests.portal.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def budget_of(program):
    with scope(utility=program.utility_id):
        return selectors.budget(program=Program.objects.get(pk=program.pk))


def numbers(program):
    b = budget_of(program)
    return {"reserved": b.reserved, "paid": b.paid, "remaining": b.remaining, "pending": b.pending}


def rebates(program, count, *, amount="300.00"):
    offer = rebate_offer(program, amount=D(amount), income_qualified_amount=None)
    return [apply_rebate(offer, participant(program), total="1000.00") for _ in range(count)]


def statuses(*incentives):
    return [reload(i).status for i in incentives]


# --- Reserve, pay, remaining ----------------------------------------------------------------


def test_it_reserves_at_approval_pays_at_payout_and_keeps_the_rest(utility_a):
    program = funded_program(utility_a, budget="1000.00")
    [rebate] = rebates(program, 1)
    assert numbers(program) == {
        "reserved": 0,
        "paid": 0,
        "remaining": D("1000.00"),
        "pending": D("300.00"),
    }

    approve(rebate, actor=UserFactory())
    bonus_offer(program, amount=D("100.00"))
    with scope(utility=utility_a.pk):
        services.award_enrollment_bonus(program=program, enrollment=participant(program))
    assert numbers(program) == {
        "reserved": D("400.00"),
        "paid": 0,
        "remaining": D("600.00"),
        "pending": 0,
    }

    with scope(utility=utility_a.pk):
        batch = services.create_payout_batch(
            program_id=program.pk, channel="bill_credit", actor=None
        )
        services.export_payout_file(batch_id=batch.pk, method="bill_credit", actor=None)
        services.mark_batch_paid(batch_id=batch.pk, actor=None)
    assert numbers(program) == {
        "reserved": 0,
        "paid": D("400.00"),
        "remaining": D("600.00"),
        "pending": 0,
    }


def test_it_sums_every_program_in_two_queries(utility_a, django_assert_num_queries):
    programs = [funded_program(utility_a) for _ in range(3)]
    for program in programs:
        approve(rebates(program, 1)[0])
    with scope(utility=utility_a.pk), django_assert_num_queries(2):
        result = selectors.budgets(programs=programs)
    assert [b.reserved for b in result] == [D("300.00")] * 3


# --- Waitlist -------------------------------------------------------------------------------


def test_it_waitlists_a_new_application_the_budget_cannot_cover(utility_a):
    program = funded_program(utility_a, budget="500.00")
    first, second = rebates(program, 2)

    assert statuses(first, second) == [Incentive.Status.SUBMITTED, Incentive.Status.WAITLISTED]
    assert budget_of(program).waitlisted_count == 1
    with scopes_disabled():
        why = AuditEvent.objects.get(action="incentive.waitlisted", object_id=str(second.pk))
    assert (
        "the budget left after the amounts in review, $200.00, cannot cover $300.00" in why.comment
    )


def test_it_keeps_the_waitlist_strictly_first_in_first_out(utility_a):
    program = funded_program(utility_a, budget="500.00")
    first, second = rebates(program, 2)
    bonus_offer(program, amount=D("100.00"))
    with scope(utility=utility_a.pk):
        # $200 is still free, but $300 is waiting ahead: the bonus waits behind it.
        bonus = services.award_enrollment_bonus(program=program, enrollment=participant(program))
    assert bonus.status == Incentive.Status.WAITLISTED

    with scope(utility=utility_a.pk):
        services.reject_incentive(incentive_id=first.pk, reason="Duplicate invoice", actor=None)

    # $500 free: the $300 rebate goes back to review, then the $100 bonus (no review) is approved.
    assert statuses(second, bonus) == [Incentive.Status.SUBMITTED, Incentive.Status.APPROVED]
    assert numbers(program) == {
        "reserved": D("100.00"),
        "paid": 0,
        "remaining": D("400.00"),
        "pending": D("300.00"),
    }


def test_it_promotes_in_turn_and_stops_at_the_first_that_does_not_fit(utility_a):
    program = funded_program(utility_a, budget="600.00")
    a, b, c, d = rebates(program, 4)
    assert statuses(a, b, c, d) == ["submitted", "submitted", "waitlisted", "waitlisted"]

    with scope(utility=utility_a.pk):
        services.reject_incentive(
            incentive_id=a.pk, reason="Not a bidirectional charger", actor=None
        )

    assert statuses(c, d) == ["submitted", "waitlisted"]


def test_it_promotes_the_waitlist_when_a_reversal_frees_budget(utility_a):
    program = funded_program(utility_a, budget="300.00")
    first, second = rebates(program, 2)
    approve(first)
    with scope(utility=utility_a.pk):
        entry = LedgerEntry.objects.get(incentive=first)
        services.reverse_entry(entry_id=entry.pk, reason="Approved in error", actor=None)

    assert reload(second).status == Incentive.Status.SUBMITTED
    assert budget_of(program).remaining == D("300.00")


def test_it_promotes_the_waitlist_when_the_budget_is_raised(utility_a):
    program = funded_program(utility_a, budget="300.00")
    first, second = rebates(program, 2)
    with scopes_disabled():
        Program.objects.filter(pk=program.pk).update(budget_total=D("600.00"))
    with scope(utility=utility_a.pk):
        promoted = services.promote_waitlist(program_id=program.pk)

    assert [i.pk for i in promoted] == [second.pk]
    assert reload(second).status == Incentive.Status.SUBMITTED


def test_it_waitlists_instead_of_approving_when_the_budget_was_lowered(utility_a):
    program = funded_program(utility_a, budget="600.00")
    first, second = rebates(program, 2)
    approve(first)
    with scopes_disabled():
        Program.objects.filter(pk=program.pk).update(budget_total=D("500.00"))

    decided = approve(second)

    assert decided.status == Incentive.Status.WAITLISTED
    assert numbers(program)["reserved"] == D("300.00")
    with scopes_disabled():
        assert not LedgerEntry.objects.filter(incentive=second).exists()


# --- Decisions ------------------------------------------------------------------------------


def test_it_answers_a_stale_decision_clearly_and_changes_nothing(utility_a):
    program = funded_program(utility_a)
    [rebate] = rebates(program, 1)
    approver = UserFactory(email="first@alpha.test")
    approve(rebate, actor=approver)

    with pytest.raises(services.AlreadyDecided) as twice:
        approve(rebate, actor=UserFactory())
    with pytest.raises(services.AlreadyDecided), scope(utility=utility_a.pk):
        services.reject_incentive(incentive_id=rebate.pk, reason="Too late", actor=None)

    assert "was already approved by first@alpha.test" in twice.value.message
    assert twice.value.message.endswith("Nothing was changed.")
    with scopes_disabled():
        assert LedgerEntry.objects.filter(incentive=rebate).count() == 1


def test_it_needs_a_reason_to_reject(utility_a):
    [rebate] = rebates(funded_program(utility_a), 1)
    with pytest.raises(services.InvalidInput), scope(utility=utility_a.pk):
        services.reject_incentive(incentive_id=rebate.pk, reason="  ", actor=None)
    assert reload(rebate).status == Incentive.Status.SUBMITTED


# --- Concurrency (PostgreSQL) ---------------------------------------------------------------


def _slow_budget_reads(monkeypatch, seconds=0.4):
    """Each budget read pauses, long enough for a second transaction to read the same budget
    if nothing made it wait: the race is real, not left to luck."""
    real = selectors.budget

    def slow(*, program):
        result = real(program=program)
        time.sleep(seconds)
        return result

    monkeypatch.setattr(selectors, "budget", slow)


def _at_once(utility, *calls):
    """Run each call in its own thread and database connection, released together."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            with scope(utility=utility.pk):
                results[index] = call()
        except Exception as error:  # noqa: BLE001 - reported to the test
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


def _two_applications_for_one_budget(utility):
    program = funded_program(utility, budget="1200.00")
    a, b = rebates(program, 2, amount="600.00")
    with scopes_disabled():
        Program.objects.filter(pk=program.pk).update(budget_total=D("1000.00"))
    return program, a, b


@pytest.mark.django_db(transaction=True)
def test_it_never_lets_two_simultaneous_approvals_overspend(utility_a, monkeypatch):
    program, a, b = _two_applications_for_one_budget(utility_a)
    _slow_budget_reads(monkeypatch)

    results = _at_once(
        utility_a,
        lambda: services.approve_incentive(incentive_id=a.pk, actor=None),
        lambda: services.approve_incentive(incentive_id=b.pk, actor=None),
    )

    assert sorted(r.status for r in results) == ["approved", "waitlisted"]
    assert budget_of(program).committed == D("600.00")


@pytest.mark.django_db(transaction=True)
def test_it_would_overspend_without_the_program_lock(utility_a, monkeypatch):
    """The test above can fail: without the lock both approvals read the same budget."""
    program, a, b = _two_applications_for_one_budget(utility_a)
    _slow_budget_reads(monkeypatch)
    monkeypatch.setattr(
        ledger,
        "lock_program",
        lambda program_id: Program.objects.select_related("utility").get(pk=program_id),
    )

    results = _at_once(
        utility_a,
        lambda: services.approve_incentive(incentive_id=a.pk, actor=None),
        lambda: services.approve_incentive(incentive_id=b.pk, actor=None),
    )

    assert [r.status for r in results] == ["approved", "approved"]
    assert budget_of(program).committed == D("1200.00")  # over the $1,000 budget


@pytest.mark.django_db(transaction=True)
def test_it_approves_once_when_two_people_click_at_the_same_moment(utility_a, monkeypatch):
    program = funded_program(utility_a)
    [rebate] = rebates(program, 1)
    _slow_budget_reads(monkeypatch)

    results = _at_once(
        utility_a,
        lambda: services.approve_incentive(incentive_id=rebate.pk, actor=None),
        lambda: services.approve_incentive(incentive_id=rebate.pk, actor=None),
    )

    kinds = sorted(type(r).__name__ for r in results)
    assert kinds == ["AlreadyDecided", "Incentive"]
    with scopes_disabled():
        assert LedgerEntry.objects.filter(incentive=rebate).count() == 1
