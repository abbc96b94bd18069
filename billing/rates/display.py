"""A tariff's period maps as heat maps: rows and legend a template draws as an HTML table.

Colour is by price: each period's tier-1 price ($/kWh, or $/kW for demand) is placed on a
scale of ``SHADES`` classes (``heat-0`` cheapest … ``heat-7`` dearest, in portal.css) between
the tariff's cheapest and dearest period. Each cell also prints its period number, so the map
reads without colour.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from decimal import Decimal

from billing.rates.schedule import DemandPeriod, EnergyPeriod, PeriodMap, TariffSchedule

SHADES = 8
HOURS = tuple(range(24))
MONTHS = tuple(calendar.month_abbr[m] for m in range(1, 13))


@dataclass(frozen=True)
class LegendEntry:
    number: int  # 1-based, as printed in the cells
    label: str
    price: Decimal
    shade: int
    tiers: tuple[str, ...]  # "0–1000 kWh: $0.08721 (0.07531 + 0.0119)"
    sell: Decimal | None = None

    @property
    def sell_text(self) -> str:
        return "" if self.sell is None else price_text(self.sell)


@dataclass(frozen=True)
class HeatMap:
    title: str
    unit: str
    rows: tuple[tuple[str, tuple[tuple[int, int], ...]], ...]  # (month, ((number, shade), ...))
    legend: tuple[LegendEntry, ...]


def energy_maps(schedule: TariffSchedule) -> list[HeatMap]:
    if not schedule.energy_periods:
        return []
    legend = _legend(schedule.energy_periods, "kWh")
    return [
        _map("Energy, weekdays", "$/kWh", schedule.energy_weekday, legend),
        _map("Energy, weekends", "$/kWh", schedule.energy_weekend, legend),
    ]


def demand_maps(schedule: TariffSchedule) -> list[HeatMap]:
    if not schedule.has_tou_demand:
        return []
    legend = _legend(schedule.demand_periods, "kW")
    return [
        _map("Demand, weekdays", "$/kW", schedule.demand_weekday, legend),
        _map("Demand, weekends", "$/kW", schedule.demand_weekend, legend),
    ]


def other_charges(schedule: TariffSchedule) -> list[str]:
    """The fixed and minimum charges, one sentence each."""
    lines = [f"{c.label}: ${price_text(c.amount)} {c.unit}" for c in schedule.fixed_charges]
    if schedule.min_charge is not None:
        lines.append(
            f"Minimum charge: ${price_text(schedule.min_charge)} {schedule.min_charge_unit}"
        )
    return lines


def flat_demand_by_month(schedule: TariffSchedule) -> list[tuple[str, str, str]]:
    """(month, period label, $/kW of its first tier) for the flat demand charge."""
    if not schedule.has_flat_demand:
        return []
    rows = []
    for month, index in zip(MONTHS, schedule.flat_demand_months, strict=True):
        period = schedule.flat_demand_periods[index]
        rows.append((month, period.label, price_text(period.tiers[0].price)))
    return rows


def tier_descriptions(period: EnergyPeriod | DemandPeriod, unit: str) -> tuple[str, ...]:
    energy = isinstance(period, EnergyPeriod)
    bounds = [t.max_kwh if energy else t.max_kw for t in period.tiers]
    described = []
    lower = Decimal(0)
    for n, tier in enumerate(period.tiers):
        upper = bounds[n] if n < len(bounds) - 1 else None
        span = (
            f"over {_plain(lower)} {unit}"
            if upper is None
            else f"{_plain(lower)}–{_plain(upper)} {unit}"
        )
        if len(period.tiers) == 1:
            span = "all"
        parts = f"{tier.rate} + {tier.adj}" if tier.adj else f"{tier.rate}"
        described.append(f"{span}: ${price_text(tier.price)}/{unit} ({parts})")
        lower = upper if upper is not None else lower
    return tuple(described)


def _legend(periods, unit: str) -> tuple[LegendEntry, ...]:
    prices = [p.tiers[0].price for p in periods]
    low, high = min(prices), max(prices)
    return tuple(
        LegendEntry(
            number=n + 1,
            label=period.label,
            price=price,
            shade=_shade(price, low, high),
            tiers=tier_descriptions(period, unit),
            sell=getattr(period, "sell", None),
        )
        for n, (period, price) in enumerate(zip(periods, prices, strict=True))
    )


def _shade(price: Decimal, low: Decimal, high: Decimal) -> int:
    if high == low:
        return SHADES // 2
    return int(((price - low) / (high - low) * (SHADES - 1)).to_integral_value())


def _map(title: str, unit: str, grid: PeriodMap, legend: tuple[LegendEntry, ...]) -> HeatMap:
    rows = tuple(
        (month, tuple((legend[index].number, legend[index].shade) for index in grid[m]))
        for m, month in enumerate(MONTHS)
    )
    return HeatMap(title=title, unit=unit, rows=rows, legend=legend)


def price_text(value: Decimal) -> str:
    """A price as published, with at least cents: 0.3 -> "0.30", 0.08721 stays."""
    if value.as_tuple().exponent > -2:
        value = value.quantize(Decimal("0.01"))
    return f"{value:f}"


def _plain(value: Decimal) -> str:
    return f"{value.normalize():f}"
