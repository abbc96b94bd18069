"""The demo fleet: fictional vehicle and charger models, an approved-equipment list, battery
policies, vehicles at demo customers' premises with their app preferences, 48 hours of
telemetry sent through the same ingest path as the partner API, and four weeks of 15-minute
rollups before that (what the retention job leaves of older readings; M&V baselines need
them). Safe to run again: registry rows are keyed on natural keys, re-sent readings are
duplicates the ingest ignores, and rollups already there are kept."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.utils import timezone
from django_scopes import scope

from devices.models import (
    ApprovedEquipment,
    BatteryPolicy,
    Charger,
    CustomerPreference,
    TelemetryRollup,
    Vehicle,
)
from devices.selectors import LatestState
from devices.telemetry.ingest import MAX_READINGS_PER_BATCH, ingest
from devices.vin import with_check_digit
from portal.customers.models import ServiceAccount
from portal.models import AutomakerPartner, Utility


@dataclass(frozen=True)
class VehicleModelSpec:
    partner_slug: str
    model: str
    wmi: str  # the first three VIN characters (fictional manufacturers)
    usable_battery_kwh: float
    max_charge_kw: float
    max_discharge_kw: float
    v2h: bool
    v2g: bool


@dataclass(frozen=True)
class ChargerModelSpec:
    maker: str
    model: str
    current_type: str
    max_charge_kw: float
    max_discharge_kw: float
    backup_capable: bool
    ul9741: bool
    ul1741_sb: bool


VEHICLE_MODELS = (
    VehicleModelSpec("blue-oval", "Longhorn EV", "1BO", 131, 19.2, 9.6, True, True),
    VehicleModelSpec("blue-oval", "Sparrow", "1BO", 91, 11.0, 0, False, False),
    VehicleModelSpec("kestrel", "K9 Summit", "KNK", 96, 11.0, 11.5, True, True),
    VehicleModelSpec("general-mobility", "Ridgeline EV", "1GM", 200, 19.2, 10.2, True, False),
)
BIDIRECTIONAL = ChargerModelSpec("Helios Power", "Bidi 11 DC", "dc", 11.5, 11.5, True, True, True)
AC_ONLY = ChargerModelSpec("Northstar", "NS-48", "ac", 11.5, 0, False, False, False)

POLICIES = {
    # partner slug → (floor %, max discharge kW, events/month peak, off-peak, hours, kWh/year)
    "blue-oval": (20, 9.6, 4, 3, 4, 3000),
    "kestrel": (25, 11.0, 5, 3, 3, 2500),
    "general-mobility": (20, 10.0, 4, 3, 4, 4000),
}
PEAK_MONTHS = [6, 7, 8, 9]
VEHICLES_PER_MODEL = 6
TELEMETRY_HOURS = 48
TELEMETRY_STEP = timedelta(minutes=15)
ROLLUP_HISTORY_DAYS = 28
# The dispatch demo's cohort: bidirectional vehicles at customers past the first 200 (the
# backup-only V2H program of ``demo.programs`` enrolls them), indexed from 1000.
COHORT_SIZE = 40
COHORT_FIRST_INDEX = 1000


def ensure_demo_fleet(*, utility: Utility, partners: list[AutomakerPartner]) -> int:
    """Create the demo fleet for the partners with an agreement in ``utility``; returns the
    number of vehicles created."""
    by_slug = {p.slug: p for p in partners}
    created = 0
    with scope(utility=utility.pk):
        accounts = list(ServiceAccount.objects.order_by("account_number")[:200])
        for spec in (s for s in VEHICLE_MODELS if s.partner_slug in by_slug):
            partner = by_slug[spec.partner_slug]
            _ensure_policy(utility=utility, partner=partner)
            for charger_spec, v1g, v2h, v2g in (
                (BIDIRECTIONAL, True, spec.v2h, spec.v2g),
                (AC_ONLY, True, False, False),
            ):
                ApprovedEquipment.objects.get_or_create(
                    utility=utility, partner=partner, vehicle_model=spec.model,
                    charger_maker=charger_spec.maker, charger_model=charger_spec.model,
                    defaults={"allows_v1g": v1g, "allows_v2h": v2h, "allows_v2g": v2g},
                )  # fmt: skip
        vehicles = []
        placed = list(enumerate(_assignments(accounts, by_slug)))
        placed += _cohort(by_slug)
        for index, (spec, account) in placed:
            vehicle, was_created = _ensure_vehicle(
                utility=utility, partner=by_slug[spec.partner_slug], spec=spec,
                account=account, index=index,
            )  # fmt: skip
            created += was_created
            vehicles.append(vehicle)
        for partner in by_slug.values():
            _send_history(
                utility=utility, partner=partner,
                vehicles=[v for v in vehicles if v.partner_id == partner.pk],
            )  # fmt: skip
        _ensure_rollup_history(utility=utility, vehicles=vehicles)
    return created


def _assignments(accounts, by_slug):
    """Which model goes to which customer: a fixed share of each utility's customers."""
    specs = [s for s in VEHICLE_MODELS if s.partner_slug in by_slug]
    slots = [spec for spec in specs for _ in range(VEHICLES_PER_MODEL)]
    # Every third customer drives an EV in the demo, residential rates first.
    drivers = [a for a in accounts if a.rate_class != ServiceAccount.RateClass.SMALL_COMMERCIAL][
        ::3
    ]
    return list(zip(slots, drivers, strict=False))


def _cohort(by_slug) -> list[tuple[int, tuple[VehicleModelSpec, ServiceAccount]]]:
    """(index, (model, customer)) for the dispatch cohort: V2H-capable models in turn."""
    specs = [s for s in VEHICLE_MODELS if s.partner_slug in by_slug and s.v2h]
    if not specs:
        return []
    accounts = [
        a
        for a in ServiceAccount.objects.order_by("account_number")[200:400]
        if a.rate_class != ServiceAccount.RateClass.SMALL_COMMERCIAL
    ][:COHORT_SIZE]
    return [
        (COHORT_FIRST_INDEX + i, (specs[i % len(specs)], account))
        for i, account in enumerate(accounts)
    ]


def is_cohort(vehicle: Vehicle) -> bool:
    return int(vehicle.partner_vehicle_id.rsplit("-", 1)[1]) >= COHORT_FIRST_INDEX


def _ensure_policy(*, utility: Utility, partner: AutomakerPartner) -> None:
    floor, discharge_kw, peak, off_peak, hours, annual = POLICIES[partner.slug]
    BatteryPolicy.objects.get_or_create(
        utility=utility, partner=partner, vehicle_model="",
        defaults={
            "discharge_soc_floor_pct": floor, "max_discharge_kw": discharge_kw,
            "events_per_month_peak": peak, "events_per_month_off_peak": off_peak,
            "peak_months": PEAK_MONTHS, "max_hours_per_event": hours,
            "annual_discharge_kwh": annual,
        },
    )  # fmt: skip


def _ensure_vehicle(*, utility, partner, spec: VehicleModelSpec, account, index: int):
    serial = f"{utility.slug[:2].upper()}{index:06d}"
    charger_spec = BIDIRECTIONAL if (spec.v2h or spec.v2g) else AC_ONLY
    charger, _ = Charger.objects.get_or_create(
        utility=utility, maker=charger_spec.maker, serial=serial,
        defaults={
            "model": charger_spec.model, "current_type": charger_spec.current_type,
            "max_charge_kw": charger_spec.max_charge_kw,
            "max_discharge_kw": charger_spec.max_discharge_kw,
            "backup_capable": charger_spec.backup_capable, "cert_ul9741": charger_spec.ul9741,
            "cert_ul1741_sb": charger_spec.ul1741_sb, "service_account": account,
            "firmware_version": "3.2.1",
        },
    )  # fmt: skip
    # A deterministic, valid VIN per (utility, index): WMI + body, check digit fixed.
    model_letter = "ABCDEFGH"[index % 8]
    plant = utility.slug[0].upper()
    body = f"{spec.wmi}{model_letter}{utility.pk % 10}E00RA{plant}{index:06d}"  # 17 characters
    vin = with_check_digit(body.replace("O", "0").replace("I", "1").replace("Q", "0"))
    vehicle, created = Vehicle.objects.get_or_create(
        vin=vin, status=Vehicle.Status.ACTIVE,
        defaults={
            "utility": utility, "partner": partner,
            "partner_vehicle_id": f"{partner.slug}-{utility.slug}-{index:04d}",
            "model": spec.model, "model_year": 2024 + index % 3,
            "usable_battery_kwh": spec.usable_battery_kwh,
            "supports_v1g": True, "supports_v2h": spec.v2h, "supports_v2g": spec.v2g,
            "max_charge_kw": spec.max_charge_kw, "max_discharge_kw": spec.max_discharge_kw,
            "firmware_version": "2.4.0", "service_account": account, "charger": charger,
        },
    )  # fmt: skip
    CustomerPreference.objects.get_or_create(
        utility=utility, vehicle=vehicle,
        defaults={
            "reserve_soc_pct": 30 if index % 2 else None,
            "reserve_miles": None if index % 2 else 60,
            # The dispatch cohort stays home (no regular departure): plugged in all day.
            "departure_time": None
            if index >= COHORT_FIRST_INDEX
            else (time(7, 0) if index % 3 else time(8, 15)),
            "target_soc_pct": 90 if index % 4 else 80,
        },
    )  # fmt: skip
    return vehicle, created


def _send_history(*, utility: Utility, partner: AutomakerPartner, vehicles: list[Vehicle]) -> None:
    """48 hours of 15-minute readings: plugged in overnight, charging to the target after
    midnight, driving by day. Sent through the partner ingest path, so states and rollups
    are what the API would have produced."""
    if not vehicles:
        return
    end = timezone.now().replace(second=0, microsecond=0)
    end -= timedelta(minutes=end.minute % 15)
    start = end - timedelta(hours=TELEMETRY_HOURS)
    readings = []
    for vehicle in vehicles:
        readings.extend(_vehicle_day(vehicle, start=start, end=end, tz=utility.tzinfo))
    for offset in range(0, len(readings), MAX_READINGS_PER_BATCH):
        ingest(
            partner=partner,
            utility_ids=[utility.pk],
            readings=readings[offset : offset + MAX_READINGS_PER_BATCH],
        )


def _ensure_rollup_history(*, utility: Utility, vehicles: list[Vehicle]) -> None:
    """Rollups for the ``ROLLUP_HISTORY_DAYS`` before the raw readings, from the same daily
    pattern (one bulk insert; intervals already rolled up are left alone)."""
    if not vehicles:
        return
    end = timezone.now().replace(second=0, microsecond=0)
    end -= timedelta(minutes=end.minute % 15) + timedelta(hours=TELEMETRY_HOURS)
    start = end - timedelta(days=ROLLUP_HISTORY_DAYS)
    rows = []
    for vehicle in vehicles:
        for reading in _vehicle_day(
            vehicle, start=start, end=end - TELEMETRY_STEP, tz=utility.tzinfo
        ):
            power = reading["power_kw"]
            rows.append(
                TelemetryRollup(
                    utility=utility,
                    vehicle=vehicle,
                    interval_start=datetime.fromisoformat(reading["ts"]),
                    energy_charged_kwh=round(max(0.0, power) * 0.25, 4),
                    energy_discharged_kwh=round(max(0.0, -power) * 0.25, 4),
                    mean_power_kw=power,
                    readings=1,
                )
            )
    TelemetryRollup.objects.bulk_create(rows, batch_size=5000, ignore_conflicts=True)


def state_at(vehicle: Vehicle, *, at: datetime, tz) -> LatestState:
    """The vehicle's state at ``at`` in the demo's daily pattern (for replaying past events)."""
    at = at.replace(second=0, microsecond=0) - timedelta(minutes=at.minute % 15)
    last = _vehicle_day(vehicle, start=at - timedelta(days=2), end=at, tz=tz)[-1]
    return LatestState(
        ts=datetime.fromisoformat(last["ts"]),
        soc_pct=last["soc"],
        power_kw=last["power_kw"],
        plugged_in=last["plugged_in"],
        charging_state=last["charging_state"],
    )


def _vehicle_day(vehicle: Vehicle, *, start: datetime, end: datetime, tz) -> list[dict]:
    """Readings every 15 minutes: home and plugged in from 18:30 to 07:00, charging at once
    on arrival (unmanaged: the evening peak the programs shift) up to 90 %, driving by day."""
    rng = random.Random(vehicle.vin)  # noqa: S311 - demo data, reproducible per vehicle
    home_all_day = is_cohort(vehicle)
    soc = rng.uniform(45, 75)
    charge_kw = min(vehicle.max_charge_kw, 7.2)
    readings = []
    ts = start
    while ts <= end:
        local = ts.astimezone(tz)
        hour = local.hour + local.minute / 60
        plugged = home_all_day or hour >= 18.5 or hour < 7.0
        if plugged and soc < 90:
            power = charge_kw
            soc = min(90.0, soc + power * 0.25 * 0.92 / vehicle.usable_battery_kwh * 100)
            state = "charging"
        elif plugged:
            power, state = 0.0, "complete" if soc >= 89.9 else "idle"
        else:
            power, state = 0.0, "unplugged"
            # Driving: about 1.1 kWh per 15 minutes in the commute hours.
            if 7 <= hour < 9 or 16.5 <= hour < 18.5:
                soc = max(
                    15.0, soc - 1.1 / vehicle.usable_battery_kwh * 100 * rng.uniform(0.6, 1.4)
                )
        readings.append(
            {
                "vin": vehicle.vin,
                "ts": ts.isoformat(),
                "soc": round(soc, 1),
                "power_kw": round(power + (rng.uniform(-0.1, 0.1) if power else 0.0), 2),
                "plugged_in": plugged,
                "charging_state": state,
            }
        )
        ts += TELEMETRY_STEP
    return readings
