"""A chunk of a settlement run: each enrollment's billing impact for the run's month, as
unsaved ``SettlementLine`` rows (``services.settlement`` writes them).

Per chunk the work is a handful of queries whatever its size: the enrollments, their
tariffs, their sessions (SQL), the meter interval lengths, one aggregation per tariff (SQL),
the incentive ledger and the M&V figures; the bills are then made from the aggregates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from django.db.models import Sum

from billing.impact import aggregation, bills
from billing.impact.counterfactual import full_power_kw, unmanaged_intervals
from billing.impact.period import Month
from billing.impact.sessions import charging_sessions
from billing.models import SettlementLine, SettlementRun, Tariff
from billing.selectors.impact import tariffs_by_account
from dispatch.models import EventParticipant
from enrollment.incentives.models import IncentiveOffer, LedgerEntry
from enrollment.models import Enrollment, Program

ZERO = Decimal(0)


def enrollments_in_month(program: Program, month: Month):
    """Enrollments that were active at some time in the month."""
    return (
        Enrollment.objects.filter(
            program=program, activated_at__lt=month.end, vehicle__isnull=False
        )
        .exclude(ended_at__lt=month.start)
        .order_by("pk")
    )


def compute_lines(*, run: SettlementRun, enrollment_ids: Sequence[int]) -> list[SettlementLine]:
    month = Month.of(run.period_start, run.utility.tzinfo)
    enrollments = list(
        Enrollment.objects.filter(pk__in=enrollment_ids)
        .select_related("service_account", "vehicle__charger")
        .order_by("pk")
    )
    accounts = {e.service_account_id: e.service_account for e in enrollments}
    tariffs = tariffs_by_account(list(accounts.values()), on=month.first_day)
    power = {
        e.vehicle_id: full_power_kw(
            e.vehicle.max_charge_kw, e.vehicle.charger.max_charge_kw if e.vehicle.charger else None
        )
        for e in enrollments
    }
    sessions = charging_sessions(full_power_kw=power, start=month.start, end=month.end)
    session_count: dict[int, int] = defaultdict(int)
    counterfactual = []
    for session in sessions:
        session_count[session.vehicle_id] += 1
        counterfactual.extend(
            (session.vehicle_id, start, kwh) for start, kwh in unmanaged_intervals(session)
        )
    seconds = aggregation.meter_seconds(accounts, start=month.start, end=month.end)
    by_tariff: dict[int, list[Enrollment]] = defaultdict(list)
    for e in enrollments:
        tariff = tariffs.get(e.service_account_id)
        if tariff is not None and tariff.supported:
            by_tariff[tariff.pk].append(e)
    figures: dict[int, tuple[aggregation.MonthAggregates, bills.BillFigures, dict]] = {}
    for group in by_tariff.values():
        tariff = tariffs[group[0].service_account_id]
        figures.update(
            _bill_group(tariff, group, month=month, seconds=seconds, counterfactual=counterfactual,
                        exports_to_grid=run.program.kind == Program.Kind.V2G)
        )  # fmt: skip
    earned = incentives_earned(enrollment_ids=[e.pk for e in enrollments], month=month)
    delivered = event_kwh(
        program=run.program, enrollment_ids=[e.pk for e in enrollments], month=month
    )
    lines = []
    for e in enrollments:
        account = accounts[e.service_account_id]
        tariff = tariffs.get(e.service_account_id)
        bill_credit, payout = earned.get(e.pk, (ZERO, ZERO))
        line = SettlementLine(
            utility_id=run.utility_id,
            run=run,
            enrollment=e,
            service_account=account,
            account_number=account.account_number,
            customer_name=account.customer_name,
            tariff_name=tariff.name if tariff else "",
            basis=(SettlementLine.Basis.PREMISE if e.service_account_id in seconds
                   else SettlementLine.Basis.EV_ONLY),
            sessions=session_count.get(e.vehicle_id, 0),
            event_kwh=delivered.get(e.pk, ZERO),
            incentives_earned=bill_credit + payout,
            bill_credit=bill_credit,
            payout=payout,
        )  # fmt: skip
        if tariff is None:
            line.problem = "No tariff assigned to the account or its rate class for the month."
        elif not tariff.supported:
            line.problem = (
                f"Tariff {tariff.name} has parts the bill engine does not compute: "
                f"{', '.join(tariff.unsupported)}."
            )[:250]
        else:
            agg, fig, energy = figures[e.pk]
            line.charged_kwh = agg.ev_charged_kwh
            line.v2h_kwh, line.v2g_kwh = fig.v2h_kwh, fig.v2g_kwh
            line.bill_program, line.bill_counterfactual = fig.bill_program, fig.bill_counterfactual
            line.bill_savings = fig.savings
            line.v2h_avoided, line.v2g_credit = fig.v2h_avoided, fig.v2g_credit
            line.energy_by_period = energy
            line.bill_detail = fig.detail
        line.net_benefit = line.bill_savings + line.incentives_earned
        lines.append(line)
    return lines


def _bill_group(tariff: Tariff, group, *, month: Month, seconds, counterfactual, exports_to_grid):
    schedule = tariff.schedule_obj
    vehicles = {e.vehicle_id for e in group}
    aggregates = aggregation.month_aggregates(
        subjects=[
            aggregation.Subject(e.pk, e.vehicle_id, e.service_account_id,
                                seconds.get(e.service_account_id, 0))
            for e in group
        ],
        counterfactual=[c for c in counterfactual if c[0] in vehicles],
        start=month.start,
        end=month.end,
        slots=aggregation.month_slots(schedule, start=month.start, end=month.end, tz=month.tz),
    )  # fmt: skip
    out = {}
    for e in group:
        agg = aggregates.get(e.pk, aggregation.MonthAggregates())
        out[e.pk] = (
            agg,
            bills.bill_figures(
                schedule, agg, year=month.first_day.year, month=month.first_day.month,
                days=month.days, metered=e.service_account_id in seconds,
                exports_to_grid=exports_to_grid,
            ),
            bills.energy_by_period(schedule, agg),
        )  # fmt: skip
    return out


def incentives_earned(
    *, enrollment_ids: Sequence[int], month: Month
) -> dict[int, tuple[Decimal, Decimal]]:
    """(bill credit, off-bill) per enrollment: what the incentive ledger committed in the
    month (reserves less reversals) by the offer's payout channel."""
    rows = (
        LedgerEntry.objects.filter(
            incentive__enrollment_id__in=enrollment_ids,
            kind__in=[LedgerEntry.Kind.RESERVE, LedgerEntry.Kind.REVERSAL],
            created_at__gte=month.start,
            created_at__lt=month.end,
        )
        .values("incentive__enrollment_id", "incentive__offer__payout_channel")
        .annotate(total=Sum("amount"))
    )
    out: dict[int, tuple[Decimal, Decimal]] = {}
    for row in rows:
        credit, off_bill = out.get(row["incentive__enrollment_id"], (ZERO, ZERO))
        if row["incentive__offer__payout_channel"] == IncentiveOffer.Channel.BILL_CREDIT:
            credit += row["total"]
        else:
            off_bill += row["total"]
        out[row["incentive__enrollment_id"]] = (credit, off_bill)
    return out


def event_kwh(
    *, program: Program, enrollment_ids: Sequence[int], month: Month
) -> dict[int, Decimal]:
    """kWh delivered per enrollment in the program's events that started in the month, as
    measured (M&V)."""
    rows = (
        EventParticipant.objects.filter(
            enrollment_id__in=enrollment_ids,
            event__program=program,
            event__starts_at__gte=month.start,
            event__starts_at__lt=month.end,
            delivered_kwh__gt=0,
        )
        .values("enrollment_id")
        .annotate(kwh=Sum("delivered_kwh"))
    )
    return {r["enrollment_id"]: Decimal(str(round(r["kwh"], 3))) for r in rows}
