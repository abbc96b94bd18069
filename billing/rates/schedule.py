"""The normalized tariff the bill engine reads.

Frozen dataclasses, so a schedule can be shared between threads and cached; ``to_json`` /
``from_json`` store it in a JSONField with every amount as a decimal string (never a float).
Period maps are 12×24 tuples indexed ``[month 0-11][hour 0-23]`` in the utility's local time,
exactly as the URDB document gives them; a SQL aggregation can use them directly to group
interval rows by period.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

PER_MONTH = "$/month"
PER_DAY = "$/day"

PeriodMap = tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class EnergyTier:
    """One tier of an energy period: ``max_kwh`` is the upper bound of monthly kWh (None: no bound)."""

    rate: Decimal
    adj: Decimal = Decimal(0)
    max_kwh: Decimal | None = None
    sell: Decimal | None = None

    @property
    def price(self) -> Decimal:
        """$/kWh charged for import: the URDB ``rate`` plus its ``adj``."""
        return self.rate + self.adj


@dataclass(frozen=True)
class EnergyPeriod:
    label: str
    tiers: tuple[EnergyTier, ...]

    @property
    def sell(self) -> Decimal | None:
        """$/kWh credited for export: the first tier's ``sell`` (exports are not tiered)."""
        return self.tiers[0].sell


@dataclass(frozen=True)
class DemandTier:
    """One tier of a demand period: ``max_kw`` is the upper bound of the tier (None: no bound)."""

    rate: Decimal
    adj: Decimal = Decimal(0)
    max_kw: Decimal | None = None

    @property
    def price(self) -> Decimal:
        return self.rate + self.adj


@dataclass(frozen=True)
class DemandPeriod:
    label: str
    tiers: tuple[DemandTier, ...]


@dataclass(frozen=True)
class FixedCharge:
    label: str
    amount: Decimal
    unit: str  # PER_MONTH or PER_DAY


@dataclass(frozen=True)
class TariffSchedule:
    name: str
    utility_name: str = ""
    label: str = ""  # the URDB label (its stable id)
    energy_periods: tuple[EnergyPeriod, ...] = ()
    energy_weekday: PeriodMap = ()
    energy_weekend: PeriodMap = ()
    flat_demand_periods: tuple[DemandPeriod, ...] = ()
    flat_demand_months: tuple[int, ...] = ()  # 12 indexes into flat_demand_periods
    demand_periods: tuple[DemandPeriod, ...] = ()
    demand_weekday: PeriodMap = ()
    demand_weekend: PeriodMap = ()
    fixed_charges: tuple[FixedCharge, ...] = ()
    min_charge: Decimal | None = None
    min_charge_unit: str = PER_MONTH
    start_date: date | None = None
    end_date: date | None = None
    unsupported: tuple[str, ...] = field(default=())
    supported_constructs: tuple[str, ...] = field(default=())

    @property
    def supported(self) -> bool:
        return not self.unsupported

    @property
    def has_tou_demand(self) -> bool:
        return bool(self.demand_periods and self.demand_weekday)

    @property
    def has_flat_demand(self) -> bool:
        return bool(self.flat_demand_periods and self.flat_demand_months)

    def energy_period_at(self, month: int, hour: int, *, weekend: bool) -> int:
        """The energy period index for a 1-based month and a local hour."""
        grid = self.energy_weekend if weekend else self.energy_weekday
        return grid[month - 1][hour] if grid else 0

    def demand_period_at(self, month: int, hour: int, *, weekend: bool) -> int | None:
        if not self.has_tou_demand:
            return None
        grid = self.demand_weekend if weekend else self.demand_weekday
        return grid[month - 1][hour]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "utility_name": self.utility_name,
            "label": self.label,
            "energy_periods": [
                {"label": p.label, "tiers": [_energy_tier_json(t) for t in p.tiers]}
                for p in self.energy_periods
            ],
            "energy_weekday": [list(row) for row in self.energy_weekday],
            "energy_weekend": [list(row) for row in self.energy_weekend],
            "flat_demand_periods": [_demand_period_json(p) for p in self.flat_demand_periods],
            "flat_demand_months": list(self.flat_demand_months),
            "demand_periods": [_demand_period_json(p) for p in self.demand_periods],
            "demand_weekday": [list(row) for row in self.demand_weekday],
            "demand_weekend": [list(row) for row in self.demand_weekend],
            "fixed_charges": [
                {"label": c.label, "amount": str(c.amount), "unit": c.unit}
                for c in self.fixed_charges
            ],
            "min_charge": _str_or_none(self.min_charge),
            "min_charge_unit": self.min_charge_unit,
            "start_date": self.start_date.isoformat() if self.start_date else None,
            "end_date": self.end_date.isoformat() if self.end_date else None,
            "unsupported": list(self.unsupported),
            "supported_constructs": list(self.supported_constructs),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TariffSchedule:
        return cls(
            name=data["name"],
            utility_name=data.get("utility_name", ""),
            label=data.get("label", ""),
            energy_periods=tuple(
                EnergyPeriod(
                    label=p["label"],
                    tiers=tuple(
                        EnergyTier(
                            rate=Decimal(t["rate"]),
                            adj=Decimal(t["adj"]),
                            max_kwh=_decimal_or_none(t["max_kwh"]),
                            sell=_decimal_or_none(t["sell"]),
                        )
                        for t in p["tiers"]
                    ),
                )
                for p in data["energy_periods"]
            ),
            energy_weekday=_period_map(data["energy_weekday"]),
            energy_weekend=_period_map(data["energy_weekend"]),
            flat_demand_periods=tuple(_demand_period(p) for p in data["flat_demand_periods"]),
            flat_demand_months=tuple(data["flat_demand_months"]),
            demand_periods=tuple(_demand_period(p) for p in data["demand_periods"]),
            demand_weekday=_period_map(data["demand_weekday"]),
            demand_weekend=_period_map(data["demand_weekend"]),
            fixed_charges=tuple(
                FixedCharge(label=c["label"], amount=Decimal(c["amount"]), unit=c["unit"])
                for c in data["fixed_charges"]
            ),
            min_charge=_decimal_or_none(data["min_charge"]),
            min_charge_unit=data["min_charge_unit"],
            start_date=date.fromisoformat(data["start_date"]) if data["start_date"] else None,
            end_date=date.fromisoformat(data["end_date"]) if data["end_date"] else None,
            unsupported=tuple(data["unsupported"]),
            supported_constructs=tuple(data.get("supported_constructs", ())),
        )


def _str_or_none(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal_or_none(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _period_map(rows: list[list[int]]) -> PeriodMap:
    return tuple(tuple(row) for row in rows)


def _energy_tier_json(tier: EnergyTier) -> dict[str, Any]:
    return {
        "rate": str(tier.rate),
        "adj": str(tier.adj),
        "max_kwh": _str_or_none(tier.max_kwh),
        "sell": _str_or_none(tier.sell),
    }


def _demand_period_json(period: DemandPeriod) -> dict[str, Any]:
    return {
        "label": period.label,
        "tiers": [
            {"rate": str(t.rate), "adj": str(t.adj), "max_kw": _str_or_none(t.max_kw)}
            for t in period.tiers
        ],
    }


def _demand_period(data: dict[str, Any]) -> DemandPeriod:
    return DemandPeriod(
        label=data["label"],
        tiers=tuple(
            DemandTier(
                rate=Decimal(t["rate"]), adj=Decimal(t["adj"]), max_kw=_decimal_or_none(t["max_kw"])
            )
            for t in data["tiers"]
        ),
    )
