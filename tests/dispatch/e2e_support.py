"""The fleet of the dispatch end-to-end test (``test_dispatch_end_to_end``): forty enrolled,
plugged-in vehicles of one automaker whose SoC floors bind differently, and fourteen days of
idle telemetry before today, so the live console has baselines to measure delivery against.

Floors: the automaker's battery policy keeps every battery above 20 %; five drivers keep 75 %
in reserve in the automaker's app. SoC: twelve vehicles are nearly full (they can give their
full 9.6 kW for the hour), five are just above their 75 % reserve, twenty-one are a few percent
above the automaker's floor (the planner cuts their power so the hour ends at the floor, not
below), and two are at or under it (excluded). Every driver's charge limit is the SoC the
vehicle has now, so the simulated cars stay idle until they are commanded: their telemetry
matches the zero baseline until the event starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django_scopes import scopes_disabled

from devices.models import BatteryPolicy, CustomerPreference, Vehicle, VehicleState
from dispatch.measurement.baselines import mv_grid
from tests.dispatch import fleet_support
from tests.dispatch.console_support import add_rollups
from tests.portal.factories import AutomakerPartnerFactory

SIZE = 40
AUTOMAKER_FLOOR_PCT = 20.0
DRIVER_RESERVE_PCT = 75.0
FULL = range(0, 12)  # 80 % SoC: the full 9.6 kW for an hour, far above the floor
RESERVE_KEEPERS = range(12, 17)  # 80 % SoC, 75 % kept in reserve by the driver
NEAR_FLOOR = range(17, 38)  # 22 % … 28 %: power cut so the hour ends at the 20 % floor
AT_FLOOR = 38  # 19.5 %: under the floor, excluded
EMPTY = 39  # 10 %: excluded


def soc_of(n: int) -> float:
    if n in FULL or n in RESERVE_KEEPERS:
        return 80.0
    if n in NEAR_FLOOR:
        return 22.0 + 0.3 * (n - NEAR_FLOOR.start)
    return 19.5 if n == AT_FLOOR else 10.0


@dataclass(frozen=True)
class E2EFleet:
    fleet: fleet_support.Fleet
    vehicles: list[Vehicle]  # in fleet order (index n)
    soc_pct: dict[int, float]  # vehicle id → the SoC it reports (and keeps until commanded)


def build(utility, *, partner_name: str = "Meridian Motors", slug: str = "meridian") -> E2EFleet:
    """The fleet, its webhook agreement (pointed at the simulator later) and the program."""
    partner = AutomakerPartnerFactory(name=partner_name, slug=slug)
    agreement = fleet_support.webhook_agreement(
        utility=utility, partner=partner, timeout_seconds=5.0
    )
    program = fleet_support.open_v2h_program(utility, slug="e2e-v2h")
    ids = fleet_support.build_fleet(
        utility=utility, partner=partner, program=program, size=SIZE, code="E2E"
    )
    now = timezone.now()
    with scopes_disabled():
        BatteryPolicy.objects.create(
            utility=utility,
            partner=partner,
            discharge_soc_floor_pct=AUTOMAKER_FLOOR_PCT,
            max_discharge_kw=11.5,
            events_per_month_peak=30,
            events_per_month_off_peak=30,
            max_hours_per_event=4,
            annual_discharge_kwh=5000,
        )
        vehicles = sorted(Vehicle.objects.filter(pk__in=ids), key=lambda v: ids.index(v.pk))
        soc = {v.pk: soc_of(n) for n, v in enumerate(vehicles)}
        for vehicle_id, pct in soc.items():
            VehicleState.objects.filter(vehicle_id=vehicle_id).update(
                soc_pct=pct, ts=now, updated_at=now
            )
        CustomerPreference.objects.bulk_create(
            [
                CustomerPreference(
                    utility=utility,
                    vehicle=v,
                    reserve_soc_pct=DRIVER_RESERVE_PCT if n in RESERVE_KEEPERS else None,
                    target_soc_pct=soc[v.pk],
                )
                for n, v in enumerate(vehicles)
            ]
        )
    return E2EFleet(fleet_support.Fleet(utility, partner, agreement, program, ids), vehicles, soc)


def idle_history(
    vehicles: list[Vehicle], *, around: datetime, days: int = 14, hours: float = 4.0
) -> None:
    """Idle (0 kW) telemetry rollups on each of the ``days`` days before today, over the
    ``hours`` before and after this time of day (local wall-clock time): what the baseline of
    an event starting near ``around`` reads — so what the vehicles export is what they
    deliver."""
    tz = vehicles[0].utility.tzinfo
    today = mv_grid(starts_at=around - timedelta(hours=hours), ends_at=around + timedelta(hours=2))
    starts = sorted(
        {
            (slot.astimezone(tz) - timedelta(days=d)).astimezone(UTC)
            for d in range(1, days + 1)
            for slot in today
        }
    )
    add_rollups(vehicles, starts, power_kw=0)
