"""Monthly bills from interval data and a ``TariffSchedule``, in ``Decimal``.

Two steps, so a SQL aggregation can replace the first:

1. ``aggregate(schedule, intervals, tz)`` groups intervals into one ``MonthUsage`` per local
   calendar month. An interval belongs to the local month, day type and hour of its *start*
   (a 15-minute interval at 01:45 local belongs to hour 1, and on the autumn DST day both
   01:xx hours fall in hour 1). Weekends are Saturday and Sunday (URDB weekend schedule);
   holidays are not treated as weekend days. Intervals longer than an hour are split into
   hourly parts, their kWh pro rata. Positive kWh is import, negative kWh export; demand
   (kW) is an import interval's kWh divided by its hours, the month's maximum of those.
2. ``bill_month(schedule, usage)`` prices one ``MonthUsage``.

Charges:
- Energy: per TOU period, ``rate + adj`` $/kWh. Tiers: a tier's ``max`` is kWh per month over
  *all* the month's import, as in URDB. With several periods, each period's kWh is split
  across its tiers pro rata: the month's total is placed on the period's tier bounds, and the
  period takes its share (period kWh ÷ month kWh) of each tier's kWh (the method of NREL SAM's
  URDB billing). Those shares are rounded to 0.001 kWh, the remainder going to the highest
  tier used, so a period's tier lines add up to its metered kWh exactly. Use above the last
  tier's ``max`` is charged at the last tier's price.
- Export: exported kWh per period × the period's ``sell`` rate (first tier; exports are not
  tiered), shown as a negative line. A period with exports and no sell rate gets a $0.00
  line so the uncredited export stays visible.
- Fixed: $/month once per billed month (a partial month too: the bill is labelled partial);
  $/day × days of the month covered by the data.
- Demand: flat — the month's maximum kW × the rate of the period ``flatdemandmonths`` names;
  time-of-use — for each demand period, the maximum kW within that period's hours × its rate.
  Demand tiers (``max`` kW) split the kW like energy tiers. Zero-rate demand periods print
  no line.
- Minimum: when the sum of the lines above is below the minimum ($/month, or $/day × days
  covered), a "Minimum charge adjustment" line raises the bill to it.

Rounding: every quantity and rate is kept exactly as metered and as published; each line's
amount is quantity × rate rounded half-up to the cent; the total is the sum of the rounded
lines, so a customer can check every line and the total by hand.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from billing.rates.schedule import PER_DAY, DemandPeriod, TariffSchedule

CENT = Decimal("0.01")
MILLI_KWH = Decimal("0.001")
ZERO = Decimal(0)
SECONDS_PER_HOUR = 3600


@dataclass
class MonthUsage:
    """The few aggregates a monthly bill needs."""

    year: int
    month: int
    days: int  # days of the month covered by data (for $/day charges)
    import_kwh_by_period: dict[int, Decimal] = field(default_factory=dict)
    export_kwh_by_period: dict[int, Decimal] = field(default_factory=dict)
    max_kw: Decimal = ZERO
    max_kw_by_period: dict[int, Decimal] = field(default_factory=dict)

    @property
    def days_in_month(self) -> int:
        return calendar.monthrange(self.year, self.month)[1]

    @property
    def partial(self) -> bool:
        return self.days < self.days_in_month

    @property
    def import_kwh(self) -> Decimal:
        return sum(self.import_kwh_by_period.values(), ZERO)

    @property
    def export_kwh(self) -> Decimal:
        return sum(self.export_kwh_by_period.values(), ZERO)


@dataclass(frozen=True)
class LineItem:
    kind: str  # energy | export | fixed | demand | minimum
    label: str
    quantity: Decimal
    unit: str
    rate: Decimal
    amount: Decimal

    def to_json(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "label": self.label,
            "quantity": str(self.quantity),
            "unit": self.unit,
            "rate": str(self.rate),
            "amount": str(self.amount),
        }


@dataclass
class MonthlyBill:
    year: int
    month: int
    lines: list[LineItem]
    total: Decimal
    days: int = 0
    days_in_month: int = 0
    import_kwh: Decimal = ZERO
    export_kwh: Decimal = ZERO

    @property
    def partial(self) -> bool:
        return self.days < self.days_in_month

    @property
    def period_label(self) -> str:
        name = f"{calendar.month_name[self.month]} {self.year}"
        if self.partial:
            return f"{name} (partial: {self.days} of {self.days_in_month} days)"
        return name

    def subtotal(self, kind: str) -> Decimal:
        return sum((line.amount for line in self.lines if line.kind == kind), ZERO)

    def to_json(self) -> dict:
        return {
            "year": self.year,
            "month": self.month,
            "label": self.period_label,
            "partial": self.partial,
            "days": self.days,
            "days_in_month": self.days_in_month,
            "import_kwh": str(self.import_kwh),
            "export_kwh": str(self.export_kwh),
            "lines": [line.to_json() for line in self.lines],
            "total": str(self.total),
        }


def money(value: Decimal) -> Decimal:
    """Round half-up to the cent: the one rounding rule of every bill line."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def aggregate(schedule: TariffSchedule, intervals: Iterable, tz: ZoneInfo) -> list[MonthUsage]:
    """One ``MonthUsage`` per local month the intervals touch, in order."""
    months: dict[tuple[int, int], MonthUsage] = {}
    days_seen: dict[tuple[int, int], set[int]] = {}
    for start, seconds, kwh in _hourly_parts(intervals):
        local = start.astimezone(tz)
        key = (local.year, local.month)
        usage = months.get(key)
        if usage is None:
            usage = months[key] = MonthUsage(year=local.year, month=local.month, days=0)
            days_seen[key] = set()
        days_seen[key].add(local.day)
        weekend = local.weekday() >= 5
        period = schedule.energy_period_at(local.month, local.hour, weekend=weekend)
        if kwh > 0:
            _add(usage.import_kwh_by_period, period, kwh)
            kw = kwh * SECONDS_PER_HOUR / seconds
            usage.max_kw = max(usage.max_kw, kw)
            demand_period = schedule.demand_period_at(local.month, local.hour, weekend=weekend)
            if demand_period is not None:
                current = usage.max_kw_by_period.get(demand_period, ZERO)
                usage.max_kw_by_period[demand_period] = max(current, kw)
        elif kwh < 0:
            _add(usage.export_kwh_by_period, period, -kwh)
    for key, usage in months.items():
        usage.days = len(days_seen[key])
    return [months[key] for key in sorted(months)]


def bill_month(schedule: TariffSchedule, usage: MonthUsage) -> MonthlyBill:
    """Price one month of aggregates (see the module docstring for every rule)."""
    lines: list[LineItem] = []
    lines += _energy_lines(schedule, usage)
    lines += _export_lines(schedule, usage)
    lines += _fixed_lines(schedule, usage)
    lines += _demand_lines(schedule, usage)
    subtotal = sum((line.amount for line in lines), ZERO)
    minimum = _minimum(schedule, usage)
    if minimum is not None and subtotal < minimum:
        shortfall = minimum - subtotal
        lines.append(
            LineItem(
                kind="minimum",
                label=f"Minimum charge adjustment (minimum {minimum})",
                quantity=Decimal(1),
                unit="adjustment",
                rate=shortfall,
                amount=shortfall,
            )
        )
    return MonthlyBill(
        year=usage.year,
        month=usage.month,
        lines=lines,
        total=sum((line.amount for line in lines), ZERO),
        days=usage.days,
        days_in_month=usage.days_in_month,
        import_kwh=usage.import_kwh,
        export_kwh=usage.export_kwh,
    )


def compute_bills(schedule: TariffSchedule, intervals: Iterable, tz: ZoneInfo) -> list[MonthlyBill]:
    return [bill_month(schedule, usage) for usage in aggregate(schedule, intervals, tz)]


def annual_total(bills: Sequence[MonthlyBill]) -> Decimal:
    return sum((bill.total for bill in bills), ZERO)


def _hourly_parts(intervals: Iterable):
    """(start, seconds, kwh) with no part longer than an hour; kWh split pro rata, exactly."""
    for interval in intervals:
        if interval.seconds <= 0:
            raise ValueError(f"Interval at {interval.start} has a non-positive duration.")
        if interval.seconds <= SECONDS_PER_HOUR:
            yield interval.start, interval.seconds, interval.kwh
            continue
        remaining_kwh = interval.kwh
        offset = 0
        while offset < interval.seconds:
            seconds = min(SECONDS_PER_HOUR, interval.seconds - offset)
            last = offset + seconds >= interval.seconds
            kwh = remaining_kwh if last else interval.kwh * seconds / interval.seconds
            remaining_kwh -= kwh
            yield interval.start + timedelta(seconds=offset), seconds, kwh
            offset += seconds


def _add(by_period: dict[int, Decimal], period: int, kwh: Decimal) -> None:
    by_period[period] = by_period.get(period, ZERO) + kwh


def _energy_lines(schedule: TariffSchedule, usage: MonthUsage) -> list[LineItem]:
    if not schedule.energy_periods:  # a tariff of fixed and demand charges only
        return []
    lines = []
    month_kwh = usage.import_kwh
    for index in sorted(usage.import_kwh_by_period):
        period_kwh = usage.import_kwh_by_period[index]
        if period_kwh == 0:
            continue
        period = schedule.energy_periods[index]
        tiers = period.tiers
        if len(tiers) == 1:
            shares = [period_kwh]
        else:
            placed = _split_over_bounds(month_kwh, [t.max_kwh for t in tiers])
            shares = _pro_rata(period_kwh, month_kwh, placed)
        for tier_no, kwh in enumerate(shares):
            if kwh == 0:
                continue
            tier = tiers[tier_no]
            label = f"Energy, {period.label}"
            if len(tiers) > 1:
                label += f", {_tier_label(tier_no, [t.max_kwh for t in tiers], 'kWh')}"
            lines.append(_line("energy", label, kwh, "kWh", tier.price))
    return lines


def _export_lines(schedule: TariffSchedule, usage: MonthUsage) -> list[LineItem]:
    if not schedule.energy_periods:
        return []
    lines = []
    for index in sorted(usage.export_kwh_by_period):
        kwh = usage.export_kwh_by_period[index]
        if kwh == 0:
            continue
        period = schedule.energy_periods[index]
        if period.sell is None:
            label = f"Export, {period.label} (no sell rate in the tariff: not credited)"
            lines.append(_line("export", label, kwh, "kWh", ZERO))
        else:
            lines.append(
                _line("export", f"Export credit, {period.label}", kwh, "kWh", -period.sell)
            )
    return lines


def _fixed_lines(schedule: TariffSchedule, usage: MonthUsage) -> list[LineItem]:
    lines = []
    for charge in schedule.fixed_charges:
        if charge.unit == PER_DAY:
            label = f"{charge.label} ({usage.days} days)"
            lines.append(_line("fixed", label, Decimal(usage.days), "day", charge.amount))
        else:
            lines.append(_line("fixed", charge.label, Decimal(1), "month", charge.amount))
    return lines


def _demand_lines(schedule: TariffSchedule, usage: MonthUsage) -> list[LineItem]:
    lines = []
    if schedule.has_flat_demand:
        period = schedule.flat_demand_periods[schedule.flat_demand_months[usage.month - 1]]
        lines += _demand_period_lines("Demand", period, usage.max_kw)
    if schedule.has_tou_demand:
        for index in sorted(usage.max_kw_by_period):
            period = schedule.demand_periods[index]
            label = f"Demand, {period.label}"
            lines += _demand_period_lines(label, period, usage.max_kw_by_period[index])
    return lines


def _demand_period_lines(label: str, period: DemandPeriod, max_kw: Decimal) -> list[LineItem]:
    lines = []
    bounds = [t.max_kw for t in period.tiers]
    for tier_no, kw in enumerate(_split_over_bounds(max_kw, bounds)):
        tier = period.tiers[tier_no]
        if kw == 0 or tier.price == 0:
            continue
        tier_label = label
        if len(period.tiers) > 1:
            tier_label += f", {_tier_label(tier_no, bounds, 'kW')}"
        lines.append(_line("demand", tier_label, kw, "kW", tier.price))
    return lines


def _minimum(schedule: TariffSchedule, usage: MonthUsage) -> Decimal | None:
    if schedule.min_charge is None:
        return None
    if schedule.min_charge_unit == PER_DAY:
        return money(schedule.min_charge * usage.days)
    return money(schedule.min_charge)


def _split_over_bounds(total: Decimal, bounds: Sequence[Decimal | None]) -> list[Decimal]:
    """``total`` placed on tiers with cumulative upper ``bounds``; the last tier takes the rest."""
    parts = []
    lower = ZERO
    for tier_no, bound in enumerate(bounds):
        last = tier_no == len(bounds) - 1
        if last or bound is None:
            parts.append(max(total - lower, ZERO))
            parts += [ZERO] * (len(bounds) - tier_no - 1)
            break
        parts.append(min(max(total - lower, ZERO), bound - lower))
        lower = bound
    return parts


def _pro_rata(period_kwh: Decimal, month_kwh: Decimal, placed: list[Decimal]) -> list[Decimal]:
    """The period's share of each tier, to 0.001 kWh, summing to ``period_kwh`` exactly."""
    shares = [
        (period_kwh * tier_kwh / month_kwh).quantize(MILLI_KWH, rounding=ROUND_HALF_UP)
        for tier_kwh in placed
    ]
    highest = max(n for n, tier_kwh in enumerate(placed) if tier_kwh > 0)
    shares[highest] += period_kwh - sum(shares, ZERO)
    return shares


def _tier_label(tier_no: int, bounds: Sequence[Decimal | None], unit: str) -> str:
    lower = ZERO if tier_no == 0 else bounds[tier_no - 1]
    upper = bounds[tier_no] if tier_no < len(bounds) - 1 else None
    if upper is None:
        return f"tier {tier_no + 1} (over {_plain(lower)} {unit})"
    return f"tier {tier_no + 1} ({_plain(lower)}–{_plain(upper)} {unit})"


def _plain(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _line(kind: str, label: str, quantity: Decimal, unit: str, rate: Decimal) -> LineItem:
    return LineItem(
        kind=kind,
        label=label,
        quantity=quantity,
        unit=unit,
        rate=rate,
        amount=money(quantity * rate),
    )
