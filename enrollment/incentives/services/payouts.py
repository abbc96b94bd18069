"""Payouts: customers' payout preferences, payout batches of approved amounts, the payment
files per method, and marking a batch paid (payout ledger entries)."""

from __future__ import annotations

import hashlib
import io
import re

from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.utils import timezone

from enrollment.incentives import selectors
from enrollment.incentives.choices import PayoutMethod
from enrollment.incentives.models import (
    IncentiveOffer,
    LedgerEntry,
    PayoutBatch,
    PayoutItem,
    PayoutPreference,
)
from enrollment.incentives.services.calculations import ZERO
from enrollment.incentives.services.errors import (
    AlreadyDecided,
    BatchNotReady,
    InvalidInput,
    NothingToPay,
)
from enrollment.incentives.services.ledger import acting_user, lock_program
from portal.audit import actor_label, record
from portal.customers.models import ServiceAccount
from portal.downloads import csv_writer
from portal.models import User

_REFERENCE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_\-:.]{3,63}$")


def check_ach_reference(value: str) -> str:
    """A payment processor's id for a bank account ("ba_1Nv…"), never the account number: it
    must start with a letter, so a bank account or routing number is refused."""
    value = value.strip()
    if not _REFERENCE_ID.match(value):
        raise InvalidInput(
            "Enter the payment processor's reference id for the customer's bank account "
            "(it starts with a letter); bank account and routing numbers are never stored here."
        )
    return value


def set_payout_preference(
    *,
    service_account: ServiceAccount,
    method: str,
    ach_reference: str = "",
    egift_email: str = "",
    actor: User | None,
) -> PayoutPreference:
    """Record how the customer wants off-bill payments (check, ACH or e-gift card)."""
    if method == PayoutMethod.ACH:
        ach_reference, egift_email = check_ach_reference(ach_reference), ""
    elif method == PayoutMethod.EGIFT:
        egift_email, ach_reference = egift_email.strip().lower(), ""
        if not egift_email:
            raise InvalidInput("Enter the email address the e-gift card goes to.")
    elif method == PayoutMethod.CHECK:
        ach_reference = egift_email = ""
    else:
        raise InvalidInput(f"{method!r} is not an off-bill payment method.")
    with transaction.atomic():
        preference, created = PayoutPreference.objects.update_or_create(
            service_account=service_account,
            defaults={
                "utility_id": service_account.utility_id,
                "method": method,
                "ach_reference": ach_reference,
                "egift_email": egift_email,
                "updated_by": acting_user(actor),
            },
        )
        record(
            action="payout_preference.created" if created else "payout_preference.updated",
            utility=service_account.utility,
            obj=service_account,
            actor=actor,
            changes={"method": method, "ach_reference": ach_reference, "egift_email": egift_email},
        )
    return preference


def _payout_item(batch: PayoutBatch, entry: LedgerEntry) -> PayoutItem:
    incentive = entry.incentive
    account = incentive.service_account
    if batch.channel == IncentiveOffer.Channel.BILL_CREDIT:
        method, preference = PayoutMethod.BILL_CREDIT, None
    else:
        try:
            preference = account.payout_preference
        except ObjectDoesNotExist:
            preference = None
        # A customer who chose nothing gets a check at the premise address.
        method = preference.method if preference else PayoutMethod.CHECK
    return PayoutItem(
        utility_id=batch.utility_id,
        batch=batch,
        entry=entry,
        incentive=incentive,
        amount=entry.amount,
        method=method,
        account_number=account.account_number,
        payee_name=account.customer_name,
        reason_code=incentive.offer.reason_code,
        mailing_address=account.premise_address,
        city=account.city,
        state=account.state,
        zip_code=account.zip_code,
        ach_reference=preference.ach_reference if method == PayoutMethod.ACH else "",
        egift_email=preference.egift_email if method == PayoutMethod.EGIFT else "",
    )


def create_payout_batch(*, program_id: int, channel: str, actor: User) -> PayoutBatch:
    """Put every approved, unpaid amount of the program paid through ``channel`` into a new
    batch, copying the payee details as they are now. An amount is in one batch at most
    (a unique constraint), and the program lock keeps two batches from racing for it."""
    if channel not in IncentiveOffer.Channel.values:
        raise InvalidInput(f"{channel!r} is not a payout channel.")
    with transaction.atomic():
        program = lock_program(program_id)
        entries = list(selectors.payable_entries(program=program, channel=channel))
        label = IncentiveOffer.Channel(channel).label.split(" (")[0].lower()
        if not entries:
            raise NothingToPay(f"{program} has no approved, unpaid {label} amounts to pay.")
        batch = PayoutBatch.objects.create(
            utility_id=program.utility_id,
            program=program,
            channel=channel,
            total_amount=sum((e.amount for e in entries), ZERO),
            item_count=len(entries),
            created_by=acting_user(actor),
        )
        PayoutItem.objects.bulk_create([_payout_item(batch, e) for e in entries])
        record(
            action="payout_batch.created",
            utility=program.utility,
            obj=batch,
            actor=actor,
            to_state=batch.status,
            changes={
                "channel": channel,
                "items": batch.item_count,
                "total": str(batch.total_amount),
                "ledger_entries": [e.pk for e in entries],
            },
        )
        return batch


# Columns of each payment file. The bill-credit file is what the customer system imports:
# account, amount, reason code (and a stable reference to de-duplicate on).
FILE_COLUMNS: dict[str, list[str]] = {
    PayoutMethod.BILL_CREDIT: ["account_number", "amount", "reason_code", "reference"],
    PayoutMethod.CHECK: [
        "reference", "payee_name", "mailing_address", "city", "state", "zip_code", "amount",
        "account_number", "reason_code",
    ],
    PayoutMethod.ACH: [
        "reference", "payee_name", "ach_reference", "amount", "account_number", "reason_code",
    ],
    PayoutMethod.EGIFT: [
        "reference", "payee_name", "egift_email", "amount", "account_number", "reason_code",
    ],
}  # fmt: skip


def payout_file(*, items: list[PayoutItem], method: str) -> bytes:
    """The CSV for one method's items: built only from what the batch copied, in item order,
    so the same batch always gives the same bytes."""
    columns = FILE_COLUMNS[method]
    buffer = io.StringIO()
    writer = csv_writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for item in items:
        values = {
            "reference": item.reference,
            "amount": f"{item.amount:.2f}",
        }
        writer.writerow([values.get(c, getattr(item, c, "")) for c in columns])
    return buffer.getvalue().encode("utf-8")


def export_payout_file(*, batch_id: int, method: str, actor: User) -> tuple[str, bytes]:
    """The file name and bytes of one method's file of a batch. The first export moves the
    batch to "exported"; every export is audited with the file's SHA-256."""
    with transaction.atomic():
        batch = (
            PayoutBatch.objects.select_related("program__utility")
            .select_for_update(of=("self",))
            .get(pk=batch_id)
        )
        items = list(selectors.batch_items(batch=batch, method=method))
        if not items:
            raise InvalidInput(f"Payout batch #{batch.pk} has no {method} payments.")
        content = payout_file(items=items, method=method)
        from_state = batch.status
        if batch.status == PayoutBatch.Status.READY:
            batch.status = PayoutBatch.Status.EXPORTED
            batch.exported_at, batch.exported_by = timezone.now(), acting_user(actor)
            batch.save(update_fields=["status", "exported_at", "exported_by"])
        record(
            action="payout_batch.exported",
            utility=batch.program.utility,
            obj=batch,
            actor=actor,
            from_state=from_state,
            to_state=batch.status,
            changes={
                "method": method,
                "rows": len(items),
                "sha256": hashlib.sha256(content).hexdigest(),
            },
        )
    utility_slug = batch.program.utility.slug
    return f"{utility_slug}-payout-batch-{batch.pk}-{method}.csv", content


def mark_batch_paid(*, batch_id: int, actor: User) -> PayoutBatch:
    """Record that an exported batch was paid: one payout ledger entry per item, moving its
    amount from reserved to paid."""
    with transaction.atomic():
        program_id = PayoutBatch.objects.values_list("program_id", flat=True).get(pk=batch_id)
        program = lock_program(program_id)
        batch = (
            PayoutBatch.objects.select_related("paid_by")
            .select_for_update(of=("self",))
            .get(pk=batch_id)
        )
        if batch.status == PayoutBatch.Status.PAID:
            who = batch.paid_by.email if batch.paid_by else "someone else"
            raise AlreadyDecided(
                f"Payout batch #{batch.pk} was already marked paid by {who} on "
                f"{timezone.localtime(batch.paid_at):%Y-%m-%d %H:%M}. Nothing was changed."
            )
        if batch.status != PayoutBatch.Status.EXPORTED:
            raise BatchNotReady(
                f"Export payout batch #{batch.pk}'s file(s) before marking it paid."
            )
        items = list(selectors.batch_items(batch=batch))
        memo = f"Paid in payout batch #{batch.pk}"
        LedgerEntry.objects.bulk_create(
            [
                LedgerEntry(
                    utility_id=batch.utility_id,
                    program_id=batch.program_id,
                    incentive_id=item.incentive_id,
                    kind=LedgerEntry.Kind.PAYOUT,
                    amount=item.amount,
                    settles_id=item.entry_id,
                    payout_batch=batch,
                    memo=f"{memo} ({item.get_method_display()})",
                    created_by=acting_user(actor),
                    actor_label=actor_label(user=actor),
                )
                for item in items
            ]
        )
        batch.status = PayoutBatch.Status.PAID
        batch.paid_at, batch.paid_by = timezone.now(), acting_user(actor)
        batch.save(update_fields=["status", "paid_at", "paid_by"])
        record(
            action="payout_batch.paid",
            utility=program.utility,
            obj=batch,
            actor=actor,
            from_state=PayoutBatch.Status.EXPORTED,
            to_state=PayoutBatch.Status.PAID,
            changes={"items": len(items), "total": str(batch.total_amount)},
        )
        return batch
