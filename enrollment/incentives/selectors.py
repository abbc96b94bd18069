"""Reads behind the incentive pages and services. Call them inside the utility's scope; the
scoped managers keep every query to that utility.

A program's budget is summed from the ledger (committed, paid) and from the incentives still
waiting (pending, waitlisted) — never read from a stored counter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, DecimalField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from enrollment.incentives.models import (
    Dispute,
    Incentive,
    IncentiveOffer,
    LedgerEntry,
    PayoutBatch,
    PayoutItem,
)
from enrollment.models import Enrollment, Program

ZERO = Decimal("0.00")

# --- Budget ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    """Where a program's incentive budget stands.

    ``committed`` is what approvals hold (reserve − reversal entries), of which ``paid`` has
    gone out in payout batches. ``pending`` is what applications awaiting approval would
    take; the waitlist waits behind them.
    """

    program: Program
    committed: Decimal = ZERO
    paid: Decimal = ZERO
    pending: Decimal = ZERO
    pending_count: int = 0
    waitlisted: Decimal = ZERO
    waitlisted_count: int = 0

    @property
    def total(self) -> Decimal:
        return self.program.budget_total

    @property
    def reserved(self) -> Decimal:
        """Approved and not paid yet."""
        return self.committed - self.paid

    @property
    def remaining(self) -> Decimal:
        """budget − reserved − paid: what approvals may still take."""
        return self.total - self.committed

    @property
    def available(self) -> Decimal:
        """What a new application may take: the remaining budget after those in review."""
        return self.remaining - self.pending


def budgets(*, programs: Sequence[Program]) -> list[Budget]:
    """The budgets of ``programs``, in their order, in two queries whatever their number."""
    ids = [p.pk for p in programs]
    money = DecimalField(max_digits=14, decimal_places=2)
    ledger = {
        row["program_id"]: row
        for row in LedgerEntry.objects.filter(program_id__in=ids)
        .order_by()
        .values("program_id")
        .annotate(
            committed=Coalesce(
                Sum(
                    "amount",
                    filter=Q(kind__in=[LedgerEntry.Kind.RESERVE, LedgerEntry.Kind.REVERSAL]),
                ),
                ZERO,
                output_field=money,
            ),
            paid=Coalesce(
                Sum("amount", filter=Q(kind=LedgerEntry.Kind.PAYOUT)), ZERO, output_field=money
            ),
        )
    }
    waiting: dict[tuple[int, str], dict] = {
        (row["program_id"], row["status"]): row
        for row in Incentive.objects.filter(program_id__in=ids, status__in=Incentive.UNDECIDED)
        .order_by()
        .values("program_id", "status")
        .annotate(total=Sum("amount"), n=Count("id"))
    }
    result = []
    for program in programs:
        sums = ledger.get(program.pk, {})
        pending = waiting.get((program.pk, Incentive.Status.SUBMITTED), {})
        waitlisted = waiting.get((program.pk, Incentive.Status.WAITLISTED), {})
        result.append(
            Budget(
                program=program,
                committed=sums.get("committed", ZERO),
                paid=sums.get("paid", ZERO),
                pending=pending.get("total") or ZERO,
                pending_count=pending.get("n", 0),
                waitlisted=waitlisted.get("total") or ZERO,
                waitlisted_count=waitlisted.get("n", 0),
            )
        )
    return result


def budget(*, program: Program) -> Budget:
    return budgets(programs=[program])[0]


def waitlist(*, program: Program) -> QuerySet[Incentive]:
    """First in, first out: by submission time."""
    return (
        Incentive.objects.filter(program=program, status=Incentive.Status.WAITLISTED)
        .select_related("offer")
        .order_by("submitted_at", "id")
    )


def season_earnings(*, offer: IncentiveOffer, service_account_id: int, season: str) -> Decimal:
    """What one customer has earned (or has waiting) from ``offer`` in ``season``."""
    total = (
        Incentive.objects.filter(offer=offer, service_account_id=service_account_id, season=season)
        .exclude(status=Incentive.Status.REJECTED)
        .aggregate(total=Sum("amount"))["total"]
    )
    return total or ZERO


# --- Incentives -----------------------------------------------------------------------------


def _paid_amount() -> Subquery:
    return Subquery(
        LedgerEntry.objects.filter(incentive=OuterRef("pk"), kind=LedgerEntry.Kind.PAYOUT)
        .order_by()
        .values("incentive")
        .annotate(total=Sum("amount"))
        .values("total")[:1],
        output_field=DecimalField(max_digits=12, decimal_places=2),
    )


def incentives() -> QuerySet[Incentive]:
    """Incentives with what a queue row shows (and the amount paid so far), in a fixed
    number of queries."""
    return Incentive.objects.select_related("program", "offer", "service_account").annotate(
        paid_amount=_paid_amount()
    )


def incentive_with_details() -> QuerySet[Incentive]:
    return incentives().select_related(
        "enrollment__vehicle", "invoice", "submitted_by", "decided_by"
    )


def ledger_for_incentive(*, incentive: Incentive) -> QuerySet[LedgerEntry]:
    return (
        LedgerEntry.objects.filter(incentive=incentive)
        .select_related("payout_batch", "reverses", "settles")
        .order_by("created_at", "id")
    )


def payout_items_for_incentive(*, incentive: Incentive) -> QuerySet[PayoutItem]:
    return PayoutItem.objects.filter(incentive=incentive).select_related("batch")


def programs() -> QuerySet[Program]:
    return Program.objects.order_by("name")


def offers(*, active_only: bool = False) -> QuerySet[IncentiveOffer]:
    rows = IncentiveOffer.objects.select_related("program")
    return rows.filter(active=True) if active_only else rows


def active_offer(*, program: Program, kind: str) -> IncentiveOffer | None:
    return IncentiveOffer.objects.filter(program=program, kind=kind, active=True).first()


def enrollments_of_account(
    *, program: Program, account_number: str, vin: str = ""
) -> QuerySet[Enrollment]:
    """A customer's enrollments in ``program`` (that vehicle's only, when a VIN is given)."""
    rows = Enrollment.objects.filter(
        program=program, service_account__account_number=account_number.strip()
    ).select_related("vehicle", "service_account")
    if vin.strip():
        rows = rows.filter(vehicle__vin__iexact=vin.strip())
    return rows.order_by("-submitted_at", "-id")


# --- Ledger, payouts, disputes -------------------------------------------------------------


def ledger_entries() -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.select_related(
        "program", "incentive__offer", "incentive__service_account", "payout_batch"
    )


def payable_entries(*, program: Program, channel: str) -> QuerySet[LedgerEntry]:
    """Approved amounts of ``program`` paid through ``channel`` that no batch holds and no
    reversal cancelled, oldest first, with the payee details a batch copies."""
    return (
        LedgerEntry.objects.filter(
            program=program,
            kind=LedgerEntry.Kind.RESERVE,
            incentive__status=Incentive.Status.APPROVED,
            incentive__offer__payout_channel=channel,
            reversed_by__isnull=True,
            payout_item__isnull=True,
        )
        .select_related("incentive__offer", "incentive__service_account__payout_preference")
        .order_by("id")
    )


def payable_summary() -> list[dict]:
    """Per program and channel, what a new payout batch would take: count and total."""
    return list(
        LedgerEntry.objects.filter(
            kind=LedgerEntry.Kind.RESERVE,
            incentive__status=Incentive.Status.APPROVED,
            reversed_by__isnull=True,
            payout_item__isnull=True,
        )
        .order_by("program__name", "incentive__offer__payout_channel")
        .values("program_id", "program__name", "incentive__offer__payout_channel")
        .annotate(n=Count("id"), total=Sum("amount"))
    )


def payout_batches() -> QuerySet[PayoutBatch]:
    return PayoutBatch.objects.select_related("program", "created_by")


def batch_with_details() -> QuerySet[PayoutBatch]:
    return payout_batches().select_related("exported_by", "paid_by")


def batch_items(*, batch: PayoutBatch, method: str | None = None) -> QuerySet[PayoutItem]:
    items = PayoutItem.objects.filter(batch=batch)
    return items.filter(method=method).order_by("id") if method else items.order_by("id")


def batch_methods(*, batch: PayoutBatch) -> list[dict]:
    """The payment methods in a batch, each with its count and total (one file each)."""
    return list(
        PayoutItem.objects.filter(batch=batch)
        .order_by("method")
        .values("method")
        .annotate(n=Count("id"), total=Sum("amount"))
    )


def disputes() -> QuerySet[Dispute]:
    return Dispute.objects.select_related(
        "incentive__service_account", "incentive__offer", "incentive__program", "opened_by"
    )


def dispute_with_details() -> QuerySet[Dispute]:
    return disputes().select_related("evidence", "resolved_by")


def disputes_of_incentive(*, incentive: Incentive) -> QuerySet[Dispute]:
    return Dispute.objects.filter(incentive=incentive).select_related("opened_by", "resolved_by")
