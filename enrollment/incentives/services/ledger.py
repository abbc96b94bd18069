"""The ledger and the approval queue: the program lock every writer of a program's money
takes, ledger entries, moves between incentive states, approvals, rejections, the
waitlist, and reversals.

Call these inside the utility's scope. Every write that touches a program's money locks the
program row first (``SELECT … FOR UPDATE``) and only then reads the budget from the ledger,
so approvals, awards, reversals and payout batches of one program run one after another and
two of them can never spend the same dollar. Every state change writes an audit row.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from enrollment.incentives import selectors
from enrollment.incentives.models import Incentive, LedgerEntry, PayoutItem
from enrollment.incentives.services.calculations import dollars
from enrollment.incentives.services.errors import AlreadyDecided, InvalidInput, LedgerConflict
from enrollment.models import Program
from portal.audit import actor_label, record
from portal.models import User

# --- Shared pieces --------------------------------------------------------------------------


def acting_user(actor: User | None) -> User | None:
    return actor if actor is not None and actor.is_authenticated else None


def lock_program(program_id: int) -> Program:
    """The program row, locked until the transaction ends: every writer of a program's money
    takes this lock first, so they run one at a time."""
    return (
        Program.objects.select_related("utility").select_for_update(of=("self",)).get(pk=program_id)
    )


def write_entry(
    *,
    incentive: Incentive,
    kind: str,
    amount: Decimal,
    actor: User | None,
    memo: str,
    reverses: LedgerEntry | None = None,
) -> LedgerEntry:
    return LedgerEntry.objects.create(
        utility_id=incentive.utility_id,
        program_id=incentive.program_id,
        incentive=incentive,
        kind=kind,
        amount=amount,
        reverses=reverses,
        memo=memo[:250],
        created_by=acting_user(actor),
        actor_label=actor_label(user=actor),
    )


def reserve(*, incentive: Incentive, amount: Decimal, actor: User | None, memo: str) -> None:
    if amount > 0:
        write_entry(
            incentive=incentive,
            kind=LedgerEntry.Kind.RESERVE,
            amount=amount,
            actor=actor,
            memo=memo,
        )


def move(
    incentive: Incentive,
    to: str,
    *,
    program: Program,
    actor: User | None,
    reason: str = "",
    comment: str = "",
) -> None:
    """Move an incentive to ``to`` (checked against ALLOWED), save and audit it. The caller
    holds the program lock, so nothing else moves it meanwhile."""
    from_state = incentive.status
    if to not in Incentive.ALLOWED.get(from_state, set()):
        raise AlreadyDecided(_decided_message(incentive))
    now = timezone.now()
    incentive.status = to
    fields = ["status"]
    if to in (Incentive.Status.APPROVED, Incentive.Status.REJECTED):
        incentive.decided_at, incentive.decided_by = now, acting_user(actor)
        incentive.decision_reason = reason
        fields += ["decided_at", "decided_by", "decision_reason"]
    if to == Incentive.Status.WAITLISTED:
        incentive.waitlisted_at = now
        fields.append("waitlisted_at")
    incentive.save(update_fields=fields)
    record(
        action=f"incentive.{to}",
        utility=program.utility,
        obj=incentive,
        actor=actor,
        from_state=from_state,
        to_state=to,
        comment=comment or reason,
        changes={"amount": str(incentive.amount), "program": program.name},
    )


def _decided_message(incentive: Incentive) -> str:
    if incentive.status == Incentive.Status.WAITLISTED:
        return (
            f"Incentive #{incentive.pk} is waitlisted for budget: it returns to the queue in "
            "turn (first in, first out) when budget frees. Nothing was changed."
        )
    who = incentive.decided_by.email if incentive.decided_by else "the system"
    when = (
        f" on {timezone.localtime(incentive.decided_at):%Y-%m-%d %H:%M}"
        if incentive.decided_at
        else ""
    )
    return (
        f"Incentive #{incentive.pk} was already {incentive.get_status_display().lower()} by "
        f"{who}{when}. Nothing was changed."
    )


def promote(*, program: Program, actor: User | None) -> list[Incentive]:
    """Move waitlisted incentives back into play, oldest first, while the budget covers
    them; strictly in turn, so a small amount never overtakes a larger one ahead of it.
    The caller holds the program lock."""
    available = selectors.budget(program=program).available
    promoted = []
    for incentive in selectors.waitlist(program=program):
        if incentive.amount > available:
            break
        comment = "Promoted from the waitlist in turn: budget freed."
        if incentive.offer.requires_review:
            move(
                incentive, Incentive.Status.SUBMITTED, program=program, actor=actor, comment=comment
            )
        else:
            move(
                incentive, Incentive.Status.APPROVED, program=program, actor=actor, comment=comment
            )
            reserve(incentive=incentive, amount=incentive.amount, actor=actor, memo=comment)
        available -= incentive.amount
        promoted.append(incentive)
    return promoted


# --- Approval queue -------------------------------------------------------------------------


def locked_incentive(incentive_id: int) -> tuple[Program, Incentive]:
    """The program lock first, then the incentive read fresh under it (always in that order,
    so two writers can never wait on each other)."""
    program_id = Incentive.objects.values_list("program_id", flat=True).get(pk=incentive_id)
    program = lock_program(program_id)
    incentive = (
        Incentive.objects.select_related("offer", "decided_by")
        .select_for_update(of=("self",))
        .get(pk=incentive_id)
    )
    return program, incentive


def approve_incentive(*, incentive_id: int, actor: User) -> Incentive:
    """Approve an application awaiting approval and reserve its amount, in one transaction.
    When the budget left cannot cover it, it is waitlisted instead (its status says which)."""
    with transaction.atomic():
        program, incentive = locked_incentive(incentive_id)
        if incentive.status != Incentive.Status.SUBMITTED:
            raise AlreadyDecided(_decided_message(incentive))
        remaining = selectors.budget(program=program).remaining
        if incentive.amount > remaining:
            move(
                incentive,
                Incentive.Status.WAITLISTED,
                program=program,
                actor=actor,
                comment=f"Not approved: the budget left, {dollars(remaining)}, cannot cover "
                f"{dollars(incentive.amount)}. Waitlisted until budget frees.",
            )
            return incentive
        move(incentive, Incentive.Status.APPROVED, program=program, actor=actor)
        reserve(incentive=incentive, amount=incentive.amount, actor=actor, memo="Approved.")
        return incentive


def reject_incentive(*, incentive_id: int, reason: str, actor: User) -> Incentive:
    """Reject an application awaiting approval or waitlisted; the budget it was waiting for
    goes to the waitlist."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("Give the reason for the rejection; the customer is told it.")
    with transaction.atomic():
        program, incentive = locked_incentive(incentive_id)
        if incentive.status not in Incentive.UNDECIDED:
            raise AlreadyDecided(_decided_message(incentive))
        move(incentive, Incentive.Status.REJECTED, program=program, actor=actor, reason=reason)
        promote(program=program, actor=actor)
        return incentive


def promote_waitlist(*, program_id: int, actor: User | None = None) -> list[Incentive]:
    """Promote the program's waitlist as far as the budget now allows. Call it after the
    program's budget was raised (reversals and rejections promote by themselves)."""
    with transaction.atomic():
        program = lock_program(program_id)
        return promote(program=program, actor=actor)


# --- Ledger corrections ---------------------------------------------------------------------


def reverse_reserve(*, entry: LedgerEntry, actor: User | None, memo: str) -> LedgerEntry:
    if entry.kind != LedgerEntry.Kind.RESERVE:
        raise LedgerConflict(
            f"Ledger entry #{entry.pk} is a {entry.kind}; only reserved amounts are reversed."
        )
    if LedgerEntry.objects.filter(reverses=entry).exists():
        raise LedgerConflict(f"Ledger entry #{entry.pk} is already reversed.")
    item = PayoutItem.objects.filter(entry=entry).first()
    if item is not None:
        raise LedgerConflict(
            f"Ledger entry #{entry.pk} is in payout batch #{item.batch_id}; it can no longer "
            "be reversed."
        )
    return write_entry(
        incentive=entry.incentive,
        kind=LedgerEntry.Kind.REVERSAL,
        amount=-entry.amount,
        actor=actor,
        memo=memo,
        reverses=entry,
    )


def reverse_entry(*, entry_id: int, reason: str, actor: User | None) -> LedgerEntry:
    """Cancel one reserved (approved, unpaid, not batched) amount with a reversing entry
    linked to it; the freed budget goes to the waitlist."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("Give the reason for the reversal.")
    with transaction.atomic():
        program_id = LedgerEntry.objects.values_list("program_id", flat=True).get(pk=entry_id)
        program = lock_program(program_id)
        entry = LedgerEntry.objects.select_related("incentive").get(pk=entry_id)
        reversal = reverse_reserve(entry=entry, actor=actor, memo=reason)
        record(
            action="ledger.reversed",
            utility=program.utility,
            obj=entry.incentive,
            actor=actor,
            comment=reason,
            changes={"entry": entry.pk, "reversal": reversal.pk, "amount": str(reversal.amount)},
        )
        promote(program=program, actor=actor)
        return reversal
