"""How and when incentives are paid out (preferences, batches, items) and disputes about them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from enrollment.incentives.choices import OFF_BILL_METHODS, PayoutMethod
from enrollment.incentives.models.ledger import LedgerEntry
from enrollment.incentives.models.offers import MONEY, Incentive, IncentiveDocument, IncentiveOffer
from enrollment.models import Program
from portal.customers.models import ServiceAccount
from portal.models import TenantOwned


class PayoutPreference(TenantOwned):
    """How a customer wants off-bill payments. Bank details live with the payment processor;
    the portal keeps only its reference id for them."""

    service_account = models.OneToOneField(
        ServiceAccount, on_delete=models.CASCADE, related_name="payout_preference"
    )
    method = models.CharField(max_length=12, choices=[(m.value, m.label) for m in OFF_BILL_METHODS])
    ach_reference = models.CharField(
        max_length=64,
        blank=True,
        help_text="The payment processor's id for the customer's bank account (never the "
        "account number itself).",
    )
    egift_email = models.EmailField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        db_table = "enrollment_payoutpreference"
        constraints = [
            models.CheckConstraint(
                name="payout_preference_complete",
                condition=(
                    Q(method="check")
                    | (Q(method="ach") & ~Q(ach_reference=""))
                    | (Q(method="egift") & ~Q(egift_email=""))
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service_account.account_number}: {self.get_method_display()}"


class PayoutBatch(TenantOwned):
    """Approved, unpaid amounts of one program and one channel, exported as files for the
    customer system (bill credits) or the payment processor (off-bill), then marked paid."""

    class Status(models.TextChoices):
        READY = "ready", "Ready to export"
        EXPORTED = "exported", "Exported"
        PAID = "paid", "Paid"

    ALLOWED = {Status.READY: {Status.EXPORTED}, Status.EXPORTED: {Status.PAID}}

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="payout_batches")
    channel = models.CharField(max_length=12, choices=IncentiveOffer.Channel.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.READY)
    # Fixed when the batch is made; its items never change afterwards.
    total_amount = models.DecimalField(max_digits=14, decimal_places=2)
    item_count = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    exported_at = models.DateTimeField(null=True, blank=True)
    exported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    paid_at = models.DateTimeField(null=True, blank=True)
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        db_table = "enrollment_payoutbatch"
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "payout batches"

    def __str__(self) -> str:
        return f"Payout batch #{self.pk} ({self.get_channel_display()}, {self.program})"


class PayoutItem(TenantOwned):
    """One approved amount (a reserve ledger entry) in a batch, with the payee details as
    they were when the batch was made, so every export of the batch is the same file."""

    batch = models.ForeignKey(PayoutBatch, on_delete=models.PROTECT, related_name="items")
    # An amount is never in two batches.
    entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="payout_item")
    incentive = models.ForeignKey(Incentive, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(**MONEY)
    method = models.CharField(max_length=12, choices=PayoutMethod.choices)
    account_number = models.CharField(max_length=32)
    payee_name = models.CharField(max_length=200)
    reason_code = models.CharField(max_length=20)
    mailing_address = models.CharField(max_length=250, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=2, blank=True)
    zip_code = models.CharField(max_length=5, blank=True)
    ach_reference = models.CharField(max_length=64, blank=True)
    egift_email = models.EmailField(blank=True)

    class Meta:
        db_table = "enrollment_payoutitem"
        ordering = ["batch", "id"]
        constraints = [
            models.CheckConstraint(name="payout_item_amount_positive", condition=Q(amount__gt=0))
        ]

    def __str__(self) -> str:
        return f"{self.account_number} {self.amount} ({self.get_method_display()})"

    @property
    def reference(self) -> str:
        """Stable id of this payment line, for the receiving system to de-duplicate on."""
        return f"INC{self.incentive_id}-L{self.entry_id}"


class Dispute(TenantOwned):
    """A customer disputes an amount; staff record it with evidence and resolve it."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        UPHELD = "upheld", "Upheld"
        DENIED = "denied", "Denied"

    ALLOWED = {Status.OPEN: {Status.UPHELD, Status.DENIED}}

    incentive = models.ForeignKey(Incentive, on_delete=models.PROTECT, related_name="disputes")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    description = models.TextField(help_text="What the customer says is wrong.")
    claimed_amount = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="What the customer believes is owed."
    )
    evidence = models.ForeignKey(
        IncentiveDocument, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    opened_at = models.DateTimeField(default=timezone.now)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolution_note = models.TextField(blank=True)
    corrected_amount = models.DecimalField(**MONEY, null=True, blank=True)

    class Meta:
        db_table = "enrollment_dispute"
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["incentive"],
                condition=Q(status="open"),
                name="one_open_dispute_per_incentive",
            )
        ]

    def __str__(self) -> str:
        return f"Dispute #{self.pk} ({self.get_status_display()})"
