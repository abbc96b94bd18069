"""Settlement runs: one program's billing impacts for one calendar month, computed in chunks
by Celery workers, reviewed, approved by a second person and exported for the customer
information system (bill credits) and the payment processor (incentive payouts).

A run is a version: a re-run of the same program and month is a new run whose lines are
compared line by line with the previous version's. An exported run never changes again —
the services refuse, and triggers in the database (migration ``0003_settlement``) refuse
updates and deletes of an exported run and of its lines.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from enrollment.models import Enrollment, Program
from portal.customers.models import ServiceAccount
from portal.models import TenantOwned

# Money: dollars with cents, rounded half-up to the cent where each figure is made
# (``billing.impact.bills.cents``); sums of rounded lines are exact.
MONEY = {"max_digits": 12, "decimal_places": 2}
ENERGY = {"max_digits": 12, "decimal_places": 3}


class SettlementRun(TenantOwned):
    class Status(models.TextChoices):
        RUNNING = "running", "Computing"
        DRAFT = "draft", "Draft"
        REVIEWED = "reviewed", "Reviewed"
        APPROVED = "approved", "Approved"
        EXPORTED = "exported", "Exported"

    ALLOWED = {
        Status.RUNNING: {Status.DRAFT},
        Status.DRAFT: {Status.REVIEWED},
        Status.REVIEWED: {Status.APPROVED},
        Status.APPROVED: {Status.EXPORTED},
    }

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="settlement_runs")
    # The calendar month in the utility's zone: its first day.
    period_start = models.DateField()
    version = models.PositiveIntegerField()
    previous = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="next_version"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    chunk_size = models.PositiveIntegerField()
    enrollment_count = models.PositiveIntegerField(default=0)
    # Filled when the last chunk completes: sums over the lines (see services.settlement).
    totals = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    computed_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    exported_at = models.DateTimeField(null=True, blank=True)
    exported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-period_start", "program_id", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "period_start", "version"], name="settlement_run_version"
            ),
            # At most one run of a program and month computing at a time.
            models.UniqueConstraint(
                fields=["program", "period_start"],
                condition=Q(status="running"),
                name="settlement_one_running",
            ),
            models.CheckConstraint(
                name="settlement_period_is_month_start", condition=Q(period_start__day=1)
            ),
            # Four eyes: whoever approves did not review.
            models.CheckConstraint(
                name="settlement_approver_not_reviewer",
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=models.F("reviewed_by")),
            ),
        ]

    def __str__(self) -> str:
        return f"Settlement {self.program.name} {self.period_label} v{self.version}"

    @property
    def period_label(self) -> str:
        return self.period_start.strftime("%Y-%m")

    @property
    def is_exported(self) -> bool:
        return self.status == self.Status.EXPORTED


class SettlementChunk(TenantOwned):
    """A bounded slice of a run's enrollments, computed by one task. A chunk's lines and its
    ``done`` mark are written in one transaction, so a worker killed mid-chunk leaves the
    chunk pending with no lines, and a chunk computed twice writes its lines once."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"

    id = models.BigAutoField(primary_key=True)
    run = models.ForeignKey(SettlementRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    enrollment_ids = ArrayField(models.BigIntegerField())
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "index"]
        constraints = [
            models.UniqueConstraint(fields=["run", "index"], name="settlement_chunk_index")
        ]
        indexes = [
            models.Index(
                fields=["run"], condition=Q(status="pending"), name="settlement_chunk_pending"
            )
        ]


class SettlementLine(TenantOwned):
    """One enrollment's billing impact for the run's month.

    Bills are for the same frame on both sides: with premise meter data (``basis`` premise)
    the premise bill as metered vs the premise bill with the EV's delta reversed (its actual
    charging and discharging taken out, the counterfactual charging put in); without it the
    EV's own charging as a bill on the tariff (``basis`` ev_only, labelled so on every page).
    """

    class Basis(models.TextChoices):
        PREMISE = "premise", "Premise meter"
        EV_ONLY = "ev_only", "EV only (no premise meter data)"

    id = models.BigAutoField(primary_key=True)
    run = models.ForeignKey(SettlementRun, on_delete=models.CASCADE, related_name="lines")
    enrollment = models.ForeignKey(Enrollment, on_delete=models.PROTECT, related_name="+")
    service_account = models.ForeignKey(ServiceAccount, on_delete=models.PROTECT, related_name="+")
    # As they were when the run was made, so an export always says the same thing.
    account_number = models.CharField(max_length=32)
    customer_name = models.CharField(max_length=200)
    tariff_name = models.CharField(max_length=200, blank=True)
    basis = models.CharField(max_length=8, choices=Basis.choices)
    # Why there is no bill (no tariff assigned, tariff not billable): incentives still count.
    problem = models.CharField(max_length=250, blank=True)
    sessions = models.PositiveIntegerField(default=0)
    charged_kwh = models.DecimalField(**ENERGY, default=0)
    v2h_kwh = models.DecimalField(**ENERGY, default=0)
    v2g_kwh = models.DecimalField(**ENERGY, default=0)
    event_kwh = models.DecimalField(**ENERGY, default=0)  # M&V delivered in the month's events
    bill_program = models.DecimalField(**MONEY, null=True, blank=True)
    bill_counterfactual = models.DecimalField(**MONEY, null=True, blank=True)
    bill_savings = models.DecimalField(**MONEY, default=0)  # counterfactual − program
    v2h_avoided = models.DecimalField(**MONEY, default=0)  # import avoided at the TOU price
    v2g_credit = models.DecimalField(**MONEY, default=0)  # export credit at the tariff's rate
    incentives_earned = models.DecimalField(**MONEY, default=0)
    bill_credit = models.DecimalField(**MONEY, default=0)  # incentives paid on the bill
    payout = models.DecimalField(**MONEY, default=0)  # incentives paid off-bill
    net_benefit = models.DecimalField(**MONEY, default=0)  # bill_savings + incentives_earned
    # {period index: {"program_kwh", "counterfactual_kwh"}} and each side's bill line items.
    energy_by_period = models.JSONField(default=dict, blank=True)
    bill_detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["run", "account_number", "id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "enrollment"], name="settlement_line_once")
        ]

    def __str__(self) -> str:
        return f"{self.account_number} ({self.run.period_label})"


class SettlementDispute(TenantOwned):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    ALLOWED = {Status.OPEN: {Status.RESOLVED}}

    line = models.ForeignKey(SettlementLine, on_delete=models.PROTECT, related_name="disputes")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    note = models.TextField(help_text="What is disputed, and by whom.")
    opened_at = models.DateTimeField(default=timezone.now)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolution_note = models.TextField(blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["line"], condition=Q(status="open"), name="settlement_one_open_dispute"
            )
        ]

    def __str__(self) -> str:
        return f"Dispute #{self.pk} on {self.line}"
