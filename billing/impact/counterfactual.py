"""The counterfactual: what the vehicle would have drawn without the program.

Unmanaged charging starts at plug-in at full power (the lower of the vehicle's and the
charger's maximum charge kW) and runs until the vehicle has taken the energy it actually
took over the session (net of any discharge, since without the program nothing is
discharged), i.e. until it reaches the state of charge it actually left with. No V2H or V2G
discharge happens in the counterfactual.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

INTERVAL = timedelta(minutes=15)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Session:
    vehicle_id: int
    plugged_in_at: datetime  # aware
    unplugged_at: datetime  # aware; the period's end when still plugged in
    energy_kwh: float  # net energy the vehicle took over the session (charged − discharged)
    full_power_kw: float


def interval_start(moment: datetime) -> datetime:
    """The start of the 15-minute interval holding ``moment`` (on the UTC quarter-hour grid,
    which telemetry rollups and meter intervals share)."""
    return moment - (moment - _EPOCH) % INTERVAL


def unmanaged_intervals(session: Session) -> list[tuple[datetime, float]]:
    """(interval start, kWh) of the counterfactual charging of one session: full power from
    plug-in, the first interval only for the part after plug-in, until the session's energy
    is delivered. Nothing for a session that took no energy or a charger without power."""
    remaining = max(session.energy_kwh, 0.0)
    if remaining <= 0 or session.full_power_kw <= 0:
        return []
    out: list[tuple[datetime, float]] = []
    start = interval_start(session.plugged_in_at)
    moment = session.plugged_in_at
    while remaining > 1e-9:
        end = start + INTERVAL
        hours = (end - moment).total_seconds() / 3600
        kwh = min(session.full_power_kw * hours, remaining)
        out.append((start, kwh))
        remaining -= kwh
        start, moment = end, end
    return out


def full_power_kw(vehicle_max_kw: float | None, charger_max_kw: float | None) -> float:
    """Unmanaged charging runs at the lower of the vehicle's and the charger's maximum."""
    limits = [kw for kw in (vehicle_max_kw, charger_max_kw) if kw is not None]
    return min(limits) if limits else 0.0
