"""Reads for the program billing-impact dashboard and the per-customer statement, from a
settlement run's lines (the figures a run computed and the utility reviews), the incentive
ledger and the month's measured events (M&V)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Q, Sum

from billing.impact.bills import cents
from billing.impact.period import Month
from billing.models import SettlementLine, SettlementRun, Tariff, TariffAssignment
from dispatch.models import Event, EventParticipant
from enrollment.incentives.models import Incentive, LedgerEntry
from enrollment.models import Program
from portal.customers.models import ServiceAccount

ZERO = Decimal(0)


def _in_force(on: date) -> Q:
    return Q(effective_from__lte=on) & (Q(effective_to__isnull=True) | Q(effective_to__gte=on))


def tariffs_by_account(accounts: Sequence[ServiceAccount], *, on: date) -> dict[int, Tariff]:
    """Each account's tariff on a date, in three queries for any number of accounts, by the
    rule of ``billing.selectors.tariffs.tariff_for``: the account's own assignment wins over
    its rate class's, and an assignment names a tariff whose version in force that day is
    the one of the same name effective then."""
    live = TariffAssignment.objects.filter(_in_force(on)).select_related("tariff")
    live = live.order_by("effective_from", "pk")  # the latest start wins below
    own = {
        a.service_account_id: a.tariff.name
        for a in live.filter(service_account_id__in=[acc.pk for acc in accounts])
    }
    by_class = {
        a.rate_class: a.tariff.name
        for a in live.filter(
            service_account__isnull=True, rate_class__in={acc.rate_class for acc in accounts}
        )
    }
    names = {own.get(acc.pk) or by_class.get(acc.rate_class) for acc in accounts} - {None}
    versions = {
        t.name: t
        for t in Tariff.objects.filter(_in_force(on), name__in=names).order_by("effective_from")
    }
    out = {}
    for account in accounts:
        tariff = versions.get(own.get(account.pk) or by_class.get(account.rate_class) or "")
        if tariff is not None:
            out[account.pk] = tariff
    return out


def impact_run(*, program: Program, period_start: date) -> SettlementRun | None:
    """The figures shown for a program and month: its latest computed run's."""
    return (
        SettlementRun.objects.filter(program=program, period_start=period_start)
        .exclude(status=SettlementRun.Status.RUNNING)
        .order_by("-version")
        .first()
    )


@dataclass(frozen=True)
class ProgramImpact:
    run: SettlementRun
    customers: int
    premise_customers: int
    without_bill: int
    bill_savings: Decimal
    incentives_earned: Decimal
    net_benefit: Decimal
    median_net_benefit: Decimal | None
    incentives_paid: Decimal
    peak_kw_reduced: float | None
    cost_per_kw: Decimal | None


def program_impact(run: SettlementRun) -> ProgramImpact:
    lines = SettlementLine.objects.filter(run=run)
    sums = lines.aggregate(
        customers=Count("id"),
        premise=Count("id", filter=Q(basis=SettlementLine.Basis.PREMISE)),
        without_bill=Count("id", filter=~Q(problem="")),
        bill_savings=Sum("bill_savings"),
        incentives=Sum("incentives_earned"),
        net=Sum("net_benefit"),
    )
    median = _median_net_benefit(run)
    month = run_month(run)
    paid = LedgerEntry.objects.filter(
        program=run.program, kind=LedgerEntry.Kind.PAYOUT,
        created_at__gte=month.start, created_at__lt=month.end,
    ).aggregate(total=Sum("amount"))["total"] or ZERO  # fmt: skip
    peak = peak_kw_reduced(program=run.program, month=month)
    incentives = sums["incentives"] or ZERO
    return ProgramImpact(
        run=run,
        customers=sums["customers"],
        premise_customers=sums["premise"],
        without_bill=sums["without_bill"],
        bill_savings=sums["bill_savings"] or ZERO,
        incentives_earned=incentives,
        net_benefit=sums["net"] or ZERO,
        median_net_benefit=median,
        incentives_paid=paid,
        peak_kw_reduced=peak,
        # The program's cost of the month (incentives its customers earned) per kW of the
        # month's largest measured reduction.
        cost_per_kw=cents(incentives / Decimal(str(peak))) if peak else None,
    )


def run_month(run: SettlementRun) -> Month:
    return Month.of(run.period_start, run.utility.tzinfo)


def _median_net_benefit(run: SettlementRun) -> Decimal | None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY net_benefit) "  # noqa: S608
            f"FROM {SettlementLine._meta.db_table} WHERE run_id = %s",
            [run.pk],
        )
        return cursor.fetchone()[0]


def month_events(*, program: Program, month) -> list[Event]:
    return list(
        Event.objects.filter(
            program=program, starts_at__gte=month.start, starts_at__lt=month.end,
            cancelled_at__isnull=True, measured_at__isnull=False,
        ).order_by("starts_at")
    )  # fmt: skip


def peak_kw_reduced(*, program: Program, month) -> float | None:
    """The largest average reduction (kW) the month's measured events delivered (M&V)."""
    values = [
        e.measurement.get("summary", {}).get("average_delivered_kw")
        for e in month_events(program=program, month=month)
    ]
    values = [v for v in values if v is not None]
    return max(values) if values else None


def savings_histogram(run: SettlementRun, *, bins: int = 10) -> list[tuple[Decimal, Decimal, int]]:
    """(low, high, customers) of the net benefit, in ``bins`` equal bins (SQL)."""
    table = SettlementLine._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT min(net_benefit), max(net_benefit) FROM {table} WHERE run_id = %s",  # noqa: S608
            [run.pk],
        )
        low, high = cursor.fetchone()
        if low is None:
            return []
        if high == low:
            return [(low, high, SettlementLine.objects.filter(run=run).count())]
        cursor.execute(
            f"SELECT least(width_bucket(net_benefit, %s, %s, %s), %s) AS b, count(*) "  # noqa: S608
            f"FROM {table} WHERE run_id = %s GROUP BY b ORDER BY b",
            [low, high, bins, bins, run.pk],
        )
        counts = dict(cursor.fetchall())
    width = (high - low) / bins
    return [
        (cents(low + width * i), cents(low + width * (i + 1)), counts.get(i + 1, 0))
        for i in range(bins)
    ]


def energy_by_period(run: SettlementRun) -> list[tuple[int, str, Decimal, Decimal]]:
    """(TOU period, its name, program kWh, counterfactual kWh) imported over the run's lines
    (grouped by name too: lines on different tariffs keep their own periods apart)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT p.key::int, p.value->>'label', sum((p.value->>'program_kwh')::numeric), "  # noqa: S608
            f"sum((p.value->>'counterfactual_kwh')::numeric) "
            f"FROM {SettlementLine._meta.db_table} l, jsonb_each(l.energy_by_period) p "
            f"WHERE l.run_id = %s GROUP BY 1, 2 ORDER BY 1, 2",
            [run.pk],
        )
        return cursor.fetchall()


@dataclass(frozen=True)
class EventValue:
    event: Event
    delivered_kwh: float
    incentives: Decimal


def event_values(*, program: Program, month) -> list[EventValue]:
    """Each measured event of the month: kWh delivered (M&V) and the performance
    incentives approved for it."""
    events = month_events(program=program, month=month)
    paid = dict(
        Incentive.objects.filter(
            program=program, status=Incentive.Status.APPROVED,
            period_key__in=[f"event:{e.pk}" for e in events],
        ).values_list("period_key").annotate(total=Sum("amount"))
    )  # fmt: skip
    return [
        EventValue(
            event=e,
            delivered_kwh=e.measurement.get("summary", {}).get("delivered_kwh") or 0.0,
            incentives=paid.get(f"event:{e.pk}", ZERO),
        )
        for e in events
    ]


def statement_events(line: SettlementLine) -> list[EventParticipant]:
    month = run_month(line.run)
    return list(
        EventParticipant.objects.filter(
            enrollment_id=line.enrollment_id, event__program_id=line.run.program_id,
            event__starts_at__gte=month.start, event__starts_at__lt=month.end,
        ).select_related("event").order_by("event__starts_at")
    )  # fmt: skip
