"""Offers and the incentives awarded under them, with their documents."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from secrets import token_hex

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from enrollment.models import Enrollment, Program
from portal.customers.models import ServiceAccount
from portal.models import TenantOwned

MONEY = {"max_digits": 12, "decimal_places": 2}


class IncentiveOffer(TenantOwned):
    """An incentive a program pays, and the numbers its amounts are calculated from."""

    class Kind(models.TextChoices):
        CHARGER_REBATE = "charger_rebate", "Charger rebate"
        ENROLLMENT_BONUS = "enrollment_bonus", "Enrollment bonus"
        MONTHLY_CREDIT = "monthly_credit", "Monthly participation credit"
        EVENT_PERFORMANCE = "event_performance", "Event performance ($/kWh)"
        CAPACITY_PAYMENT = "capacity_payment", "Seasonal capacity payment ($/kW)"

    class Channel(models.TextChoices):
        BILL_CREDIT = "bill_credit", "Bill credit"
        OFF_BILL = "off_bill", "Off-bill (check, ACH or e-gift card, as the customer chose)"

    # Which amount fields each kind needs (checked by the form and by a constraint).
    FIELDS_BY_KIND = {
        Kind.CHARGER_REBATE: ["amount", "income_qualified_amount"],
        Kind.ENROLLMENT_BONUS: ["amount"],
        Kind.MONTHLY_CREDIT: ["amount", "forfeit_after_opt_outs"],
        Kind.EVENT_PERFORMANCE: ["rate_per_kwh", "season_cap"],
        Kind.CAPACITY_PAYMENT: ["rate_per_kw", "season_cap"],
    }
    REQUIRED_BY_KIND = {
        Kind.CHARGER_REBATE: ["amount"],
        Kind.ENROLLMENT_BONUS: ["amount"],
        Kind.MONTHLY_CREDIT: ["amount"],
        Kind.EVENT_PERFORMANCE: ["rate_per_kwh"],
        Kind.CAPACITY_PAYMENT: ["rate_per_kw"],
    }

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="incentive_offers")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(max_length=120)
    reason_code = models.CharField(
        max_length=20, help_text="Code on the bill-credit file, as the customer system knows it."
    )
    payout_channel = models.CharField(
        max_length=12, choices=Channel.choices, default=Channel.BILL_CREDIT
    )
    amount = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        help_text="Rebate (standard tier), bonus, or credit per month, in dollars.",
    )
    income_qualified_amount = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="Rebate for income-qualified customers."
    )
    rate_per_kwh = models.DecimalField(
        max_digits=8, decimal_places=4, null=True, blank=True, help_text="Dollars per kWh."
    )
    rate_per_kw = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True, help_text="Dollars per kW-season."
    )
    season_cap = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        help_text="Most one customer can earn from this offer in one season; empty: no cap.",
    )
    forfeit_after_opt_outs = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="The month's credit is forfeited once the customer opts out this many times "
        "in that month; empty: never forfeited.",
    )
    requires_review = models.BooleanField(
        default=True,
        help_text="Staff approve each amount. Off: approved automatically while the budget "
        "allows (event-based payments).",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "enrollment_incentiveoffer"
        ordering = ["program__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["program", "name"], name="unique_offer_name"),
            # Awards from dispatch name a program and a kind; that must find one offer.
            models.UniqueConstraint(
                fields=["program", "kind"],
                condition=Q(active=True),
                name="one_active_offer_per_program_and_kind",
            ),
            models.CheckConstraint(
                name="offer_has_its_rate",
                condition=(
                    Q(kind__in=["charger_rebate", "enrollment_bonus", "monthly_credit"], amount__isnull=False)
                    | Q(kind="event_performance", rate_per_kwh__isnull=False)
                    | Q(kind="capacity_payment", rate_per_kw__isnull=False)
                ),
            ),
            models.CheckConstraint(
                name="offer_amounts_not_negative",
                condition=(
                    (Q(amount__isnull=True) | Q(amount__gte=0))
                    & (Q(income_qualified_amount__isnull=True) | Q(income_qualified_amount__gte=0))
                    & (Q(rate_per_kwh__isnull=True) | Q(rate_per_kwh__gte=0))
                    & (Q(rate_per_kw__isnull=True) | Q(rate_per_kw__gte=0))
                    & (Q(season_cap__isnull=True) | Q(season_cap__gte=0))
                ),
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.name} ({self.program})"


def _document_path(document: IncentiveDocument, filename: str) -> str:
    # Never the uploaded name: a random one, with the extension of the type the content is.
    return f"incentives/{document.utility_id}/{token_hex(16)}{document.extension}"


class IncentiveDocument(TenantOwned):
    """An uploaded invoice or piece of evidence: PDF, PNG or JPEG (checked by content), stored
    under a random name and served only through the document page."""

    class Kind(models.TextChoices):
        INVOICE = "invoice", "Invoice"
        EVIDENCE = "evidence", "Dispute evidence"

    EXTENSIONS = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}

    kind = models.CharField(max_length=10, choices=Kind.choices)
    file = models.FileField(upload_to=_document_path, max_length=200)
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=40)
    size_bytes = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_at = models.DateTimeField(default=timezone.now)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        db_table = "enrollment_incentivedocument"
        ordering = ["-uploaded_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.original_name}"

    @property
    def extension(self) -> str:
        return self.EXTENSIONS[self.content_type]

    @property
    def download_name(self) -> str:
        """The uploaded name's stem in safe characters, with the checked type's extension."""
        stem = re.sub(r"[^\w.\- ]+", "_", PurePosixPath(self.original_name).stem)[:80].strip()
        return f"{stem or self.kind}{self.extension}"


class Incentive(TenantOwned):
    """One amount owed to a customer under one offer: a rebate application, a bonus, a
    month's credit, an event's performance payment or a season's capacity payment.

    ``period_key`` names what the amount is for ("once", "month:2026-07", "event:<ref>",
    "season:Summer 2026"); one live incentive per (offer, enrollment, period) makes every
    award idempotent. Whether it has been paid is in the ledger, not here.
    """

    class Status(models.TextChoices):
        SUBMITTED = "submitted", "Awaiting approval"
        WAITLISTED = "waitlisted", "Waitlisted (budget)"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    ALLOWED = {
        Status.SUBMITTED: {Status.APPROVED, Status.REJECTED, Status.WAITLISTED},
        # Promotion goes back to review, or straight to approved for offers without review.
        Status.WAITLISTED: {Status.SUBMITTED, Status.APPROVED, Status.REJECTED},
    }
    UNDECIDED = [Status.SUBMITTED, Status.WAITLISTED]

    id = models.BigAutoField(primary_key=True)
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="incentives")
    offer = models.ForeignKey(IncentiveOffer, on_delete=models.PROTECT, related_name="incentives")
    enrollment = models.ForeignKey(Enrollment, on_delete=models.PROTECT, related_name="incentives")
    service_account = models.ForeignKey(
        ServiceAccount, on_delete=models.PROTECT, related_name="incentives"
    )
    period_key = models.CharField(max_length=80)
    season = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SUBMITTED)
    amount = models.DecimalField(**MONEY)
    # What the amount was calculated from, step by step, for the customer and the auditor.
    calculation = models.JSONField(default=list, blank=True)
    income_qualified = models.BooleanField(default=False)
    invoice = models.ForeignKey(
        IncentiveDocument, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    invoice_total = models.DecimalField(**MONEY, null=True, blank=True)
    opt_out_count = models.PositiveSmallIntegerField(null=True, blank=True)
    measured_kwh = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    measured_kw = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    submitted_at = models.DateTimeField(default=timezone.now)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    waitlisted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_reason = models.TextField(blank=True)

    class Meta:
        db_table = "enrollment_incentive"
        ordering = ["-submitted_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["offer", "enrollment", "period_key"],
                condition=~Q(status="rejected"),
                name="one_live_incentive_per_offer_enrollment_period",
            ),
            models.CheckConstraint(name="incentive_amount_not_negative", condition=Q(amount__gte=0)),
        ]  # fmt: skip
        indexes = [
            models.Index(fields=["utility", "status", "-submitted_at"], name="incentive_queue"),
            models.Index(fields=["program", "status", "submitted_at"], name="incentive_waitlist"),
            models.Index(fields=["offer", "service_account", "season"], name="incentive_season"),
        ]

    def __str__(self) -> str:
        return f"Incentive #{self.pk} ({self.get_status_display()})"

    @property
    def period_label(self) -> str:
        """What the amount is for, in words ("once", "month 2026-07", "event evt-42")."""
        kind, _, value = self.period_key.partition(":")
        return f"{kind} {value}" if value else kind
