"""Disputes of an approved amount: opened with optional evidence, denied or upheld; an
upheld dispute corrects the ledger with reversing and new reserve entries."""

from __future__ import annotations

from decimal import Decimal

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from enrollment.incentives import selectors
from enrollment.incentives.models import (
    Dispute,
    Incentive,
    IncentiveDocument,
    LedgerEntry,
    PayoutItem,
)
from enrollment.incentives.services.calculations import ZERO, as_decimal, dollars, to_cents
from enrollment.incentives.services.documents import check_document, store_document
from enrollment.incentives.services.errors import (
    AlreadyDecided,
    BudgetExhausted,
    DisputeAlreadyOpen,
    InvalidInput,
    LedgerConflict,
)
from enrollment.incentives.services.ledger import (
    acting_user,
    locked_incentive,
    promote,
    reverse_reserve,
    write_entry,
)
from enrollment.models import Program
from portal.audit import record
from portal.models import User


def _correct_amount(
    *, program: Program, incentive: Incentive, corrected: Decimal, actor: User | None, memo: str
) -> list[LedgerEntry]:
    """Make the incentive's ledger say ``corrected``: reverse what is reserved and still
    movable, and reserve the difference above what is paid or batched already (that part
    cannot be undone here)."""
    entries = list(
        LedgerEntry.objects.filter(
            incentive=incentive, kind=LedgerEntry.Kind.RESERVE, reversed_by__isnull=True
        )
        .select_related("incentive")
        .annotate(batched=Exists(PayoutItem.objects.filter(entry=OuterRef("pk"))))
        .order_by("id")
    )
    fixed = sum((e.amount for e in entries if e.batched), ZERO)
    movable = [e for e in entries if not e.batched]
    if corrected < fixed:
        raise LedgerConflict(
            f"{dollars(fixed)} of this incentive is paid or in a payout batch already; the "
            f"corrected amount cannot be less. Recover an overpayment outside the portal."
        )
    if corrected == fixed + sum((e.amount for e in movable), ZERO):
        return []
    written = [reverse_reserve(entry=e, actor=actor, memo=memo) for e in movable]
    difference = corrected - fixed
    if difference > 0:
        remaining = selectors.budget(program=program).remaining
        if difference > remaining:
            raise BudgetExhausted(
                f"The budget left, {dollars(remaining)}, cannot cover the corrected "
                f"{dollars(difference)}; raise the program's budget first."
            )
        written.append(
            write_entry(
                incentive=incentive,
                kind=LedgerEntry.Kind.RESERVE,
                amount=difference,
                actor=actor,
                memo=memo,
            )
        )
    incentive.amount = corrected
    incentive.save(update_fields=["amount"])
    return written


def open_dispute(
    *,
    incentive_id: int,
    description: str,
    claimed_amount: Decimal | None,
    evidence: UploadedFile | None,
    actor: User,
) -> Dispute:
    """Record a customer's dispute of an approved amount, with optional evidence."""
    description = description.strip()
    if not description:
        raise InvalidInput("Describe what the customer disputes.")
    if evidence is not None:
        check_document(evidence)
    try:
        with transaction.atomic():
            incentive = Incentive.objects.select_for_update(of=("self",)).get(pk=incentive_id)
            if incentive.status != Incentive.Status.APPROVED:
                raise InvalidInput(
                    f"Only approved amounts can be disputed; incentive #{incentive.pk} is "
                    f"{incentive.get_status_display().lower()}."
                )
            open_one = Dispute.objects.filter(incentive=incentive, status=Dispute.Status.OPEN)
            if (existing := open_one.first()) is not None:
                raise DisputeAlreadyOpen(
                    f"Dispute #{existing.pk} about this incentive is still open; add to it "
                    "rather than opening another.",
                    dispute=existing,
                )
            document = (
                store_document(
                    utility_id=incentive.utility_id,
                    kind=IncentiveDocument.Kind.EVIDENCE,
                    upload=evidence,
                    actor=actor,
                )
                if evidence is not None
                else None
            )
            dispute = Dispute.objects.create(
                utility_id=incentive.utility_id,
                incentive=incentive,
                description=description,
                claimed_amount=to_cents(claimed_amount) if claimed_amount is not None else None,
                evidence=document,
                opened_by=acting_user(actor),
            )
            record(
                action="dispute.opened",
                utility=incentive.program.utility,
                obj=dispute,
                actor=actor,
                to_state=dispute.status,
                comment=description,
                changes={
                    "incentive": incentive.pk,
                    "claimed_amount": str(dispute.claimed_amount or ""),
                    "evidence": document.pk if document else None,
                },
            )
            return dispute
    except IntegrityError:
        # Two submissions raced past the check; the partial unique index kept one.
        existing = Dispute.objects.get(incentive_id=incentive_id, status=Dispute.Status.OPEN)
        raise DisputeAlreadyOpen(
            f"Dispute #{existing.pk} about this incentive is already open.", dispute=existing
        ) from None


def resolve_dispute(
    *,
    dispute_id: int,
    upheld: bool,
    note: str,
    corrected_amount: Decimal | None,
    actor: User,
) -> Dispute:
    """Deny a dispute, or uphold it with the corrected amount: reversing and new reserve
    entries make the ledger say that amount (budget permitting). Audited either way."""
    note = note.strip()
    if not note:
        raise InvalidInput("Write a resolution note; the customer is told it.")
    if upheld and corrected_amount is None:
        raise InvalidInput("Enter the corrected amount the customer is owed.")
    with transaction.atomic():
        incentive_id = Dispute.objects.values_list("incentive_id", flat=True).get(pk=dispute_id)
        program, incentive = locked_incentive(incentive_id)
        dispute = (
            Dispute.objects.select_related("resolved_by")
            .select_for_update(of=("self",))
            .get(pk=dispute_id)
        )
        if dispute.status != Dispute.Status.OPEN:
            who = dispute.resolved_by.email if dispute.resolved_by else "someone else"
            raise AlreadyDecided(
                f"Dispute #{dispute.pk} was already {dispute.get_status_display().lower()} by "
                f"{who} on {timezone.localtime(dispute.resolved_at):%Y-%m-%d %H:%M}. "
                "Nothing was changed."
            )
        before = incentive.amount
        entries: list[LedgerEntry] = []
        if upheld:
            corrected = to_cents(as_decimal(corrected_amount, name="The corrected amount"))
            if corrected < 0:
                raise InvalidInput("The corrected amount cannot be negative.")
            entries = _correct_amount(
                program=program,
                incentive=incentive,
                corrected=corrected,
                actor=actor,
                memo=f"Dispute #{dispute.pk} upheld: {note}",
            )
            dispute.corrected_amount = corrected
        dispute.status = Dispute.Status.UPHELD if upheld else Dispute.Status.DENIED
        dispute.resolved_at, dispute.resolved_by = timezone.now(), acting_user(actor)
        dispute.resolution_note = note
        dispute.save(
            update_fields=[
                "status",
                "resolved_at",
                "resolved_by",
                "resolution_note",
                "corrected_amount",
            ]
        )
        record(
            action=f"dispute.{dispute.status}",
            utility=program.utility,
            obj=dispute,
            actor=actor,
            from_state=Dispute.Status.OPEN,
            to_state=dispute.status,
            comment=note,
            changes={
                "incentive": incentive.pk,
                "amount": {"from": str(before), "to": str(incentive.amount)},
                "ledger_entries": [e.pk for e in entries],
            },
        )
        if entries:
            promote(program=program, actor=actor)
        return dispute
