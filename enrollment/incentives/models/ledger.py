"""The append-only ledger: what a program has reserved, reversed and paid is summed from it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_scopes import ScopedManager

from enrollment.incentives.models.offers import MONEY, Incentive
from enrollment.models import Program
from portal.models import TenantOwned


class LedgerIsAppendOnly(Exception):
    pass


class LedgerEntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise LedgerIsAppendOnly("Ledger entries cannot be changed; add a reversing entry.")

    def delete(self):
        raise LedgerIsAppendOnly("Ledger entries cannot be deleted; add a reversing entry.")


class LedgerEntry(TenantOwned):
    """One movement of a program's incentive money. Append-only.

    * ``reserve`` (+): an approved amount holds budget.
    * ``reversal`` (−): cancels one earlier reserve entry (``reverses``), e.g. a dispute
      that lowered or cancelled an amount. An entry is reversed at most once.
    * ``payout`` (+): a payout batch paid one reserve entry (``settles``) — the money moves
      from reserved to paid. An entry is paid at most once.

    committed = Σ reserve + Σ reversal; paid = Σ payout; reserved = committed − paid;
    remaining = budget − committed.
    """

    class Kind(models.TextChoices):
        RESERVE = "reserve", "Reserved"
        REVERSAL = "reversal", "Reversal"
        PAYOUT = "payout", "Paid"

    id = models.BigAutoField(primary_key=True)
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="ledger_entries")
    incentive = models.ForeignKey(
        Incentive, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    amount = models.DecimalField(**MONEY)
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    settles = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="settled_by"
    )
    payout_batch = models.ForeignKey(
        "PayoutBatch", null=True, blank=True, on_delete=models.PROTECT, related_name="payouts"
    )
    memo = models.CharField(max_length=250, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=254)

    objects = ScopedManager(
        utility="utility", _manager_class=models.Manager.from_queryset(LedgerEntryQuerySet)
    )

    class Meta:
        db_table = "enrollment_ledgerentry"
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.CheckConstraint(
                name="ledger_entry_shape",
                condition=(
                    Q(kind="reserve", amount__gt=0, reverses__isnull=True, settles__isnull=True, payout_batch__isnull=True)
                    | Q(kind="reversal", amount__lt=0, reverses__isnull=False, settles__isnull=True, payout_batch__isnull=True)
                    | Q(kind="payout", amount__gt=0, reverses__isnull=True, settles__isnull=False, payout_batch__isnull=False)
                ),
            ),
        ]  # fmt: skip
        indexes = [
            models.Index(fields=["program", "kind"], name="ledger_program_kind"),
            models.Index(fields=["utility", "-created_at"], name="ledger_utility_time"),
        ]

    def __str__(self) -> str:
        return f"Ledger #{self.pk} {self.kind} {self.amount}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise LedgerIsAppendOnly("Ledger entries cannot be changed; add a reversing entry.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise LedgerIsAppendOnly("Ledger entries cannot be deleted; add a reversing entry.")
