"""Reads behind the device pages, and the fleet's latest states dispatch plans with. Call them
inside the utility's scope (every page under /u/<utility_slug>/ is): the scoped managers then
keep each query to that utility."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.db.models import Avg, Count, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import ExtractMinute, Floor, TruncHour

from devices.limits import EffectiveLimits, limits_for_vehicle, select_policy
from devices.models import (
    AdapterAttempt,
    AdapterConfig,
    ApprovedEquipment,
    BatteryPolicy,
    Charger,
    DeviceCommand,
    OptOut,
    TelemetryReading,
    Vehicle,
    VehicleState,
)
from devices.telemetry.ingest import gc_paused
from devices.telemetry.readings import EPOCH, MICROSECOND, epoch_us_sql
from portal.bulk import among
from portal.models import AutomakerPartner, PartnerAgreement

# --- Registry -------------------------------------------------------------------------------


def vehicles() -> QuerySet[Vehicle]:
    """Vehicles with what a list row shows, so the list runs a fixed number of queries."""
    return Vehicle.objects.select_related("partner", "state", "service_account")


def vehicle_with_details() -> QuerySet[Vehicle]:
    return Vehicle.objects.select_related(
        "partner", "state", "service_account", "charger", "preference"
    )


def chargers() -> QuerySet[Charger]:
    return Charger.objects.select_related("partner", "service_account")


def charger_makers() -> list[str]:
    return list(Charger.objects.order_by("maker").values_list("maker", flat=True).distinct())


def vehicles_on_charger(*, charger: Charger) -> QuerySet[Vehicle]:
    return vehicles().filter(charger=charger)


def approved_equipment() -> QuerySet[ApprovedEquipment]:
    return ApprovedEquipment.objects.select_related("partner")


def battery_policies() -> QuerySet[BatteryPolicy]:
    return BatteryPolicy.objects.select_related("partner")


def partners_with_agreement() -> QuerySet[AutomakerPartner]:
    """Partners that have an agreement (in any status) with the current utility. Partners
    are not tenant-owned, so the scoped agreement table is what narrows them."""
    return AutomakerPartner.objects.filter(
        pk__in=PartnerAgreement.objects.values("partner_id")
    ).order_by("name")


def applied_policy(*, vehicle: Vehicle) -> BatteryPolicy | None:
    """The battery policy the limits service picks for this vehicle (most specific match)."""
    return select_policy(
        BatteryPolicy.objects.filter(partner_id=vehicle.partner_id, active=True),
        vehicle_model=vehicle.model,
        firmware=vehicle.firmware_version,
    )


def recent_commands(*, vehicle: Vehicle, limit: int = 20) -> list[DeviceCommand]:
    return list(DeviceCommand.objects.filter(vehicle=vehicle).order_by("-created_at")[:limit])


def recent_opt_outs(*, vehicle: Vehicle, limit: int = 20) -> list[OptOut]:
    return list(OptOut.objects.filter(vehicle=vehicle).order_by("-received_at")[:limit])


# --- Effective limits, explained --------------------------------------------------------------

LIMIT_LABELS = {
    "max_charge_kw": ("Charge power", "kW"),
    "max_discharge_kw": ("Discharge power", "kW"),
    "soc_floor_pct": ("Discharge floor (SoC)", "%"),
    "events_per_month": ("Events this month", ""),
    "max_hours_per_event": ("Hours per event", "h"),
    "annual_discharge_kwh": ("Annual discharge", "kWh"),
}


@dataclass(frozen=True)
class LimitRow:
    key: str
    label: str
    value: str
    source: str  # the binding source's name, as the limits service reports it
    why: str  # what that source is, for this vehicle


@dataclass(frozen=True)
class ExplainedLimits:
    at: datetime
    limits: EffectiveLimits
    rows: list[LimitRow]
    policy: BatteryPolicy | None
    discharge_energy_kwh: float | None  # what may leave the battery now, if SoC is known


def _format_limit(value: float, unit: str) -> str:
    if math.isinf(value):
        return "No limit"
    text = f"{value:,.1f}".removesuffix(".0")
    return f"{text} {unit}".strip()


def _source_detail(
    source: str, key: str, *, vehicle: Vehicle, policy: BatteryPolicy | None, peak: bool
) -> str:
    charger = vehicle.charger
    preference = getattr(vehicle, "preference", None)
    if source == "automaker":
        season = ""
        if key == "events_per_month":
            season = " (peak month)" if peak else " (off-peak month)"
        return f"Battery-warranty policy “{policy}”{season}" if policy else "Battery policy"
    if source == "customer" and preference is not None:
        parts = []
        if preference.reserve_soc_pct is not None:
            parts.append(f"{preference.reserve_soc_pct:g} % reserve")
        if preference.reserve_miles is not None:
            parts.append(
                f"{preference.reserve_miles:g} miles reserve at {preference.miles_per_kwh:g} mi/kWh"
            )
        return "Driver’s setting in the automaker app: " + ", ".join(parts)
    if source == "vehicle":
        if key == "max_discharge_kw" and not (vehicle.supports_v2h or vehicle.supports_v2g):
            return "The vehicle cannot discharge (neither V2H nor V2G)"
        return f"Vehicle rating ({vehicle.model_year} {vehicle.model})"
    if source == "charger":
        if charger is None:
            return "No bidirectional charger on record, so no discharging"
        return f"Charger rating ({charger})"
    if source == "interconnection":
        return "Export limit approved at interconnection"
    if source == "program":
        return "Program rules"
    if source == "unknown":
        return "No physical rating is known, so no power is allowed"
    return "No source limits this"


def explained_limits(*, vehicle: Vehicle, at: datetime) -> ExplainedLimits:
    """The effective limits at ``at`` (pass a local time: the season follows the local
    month), each with the source that binds it and what that source is for this vehicle."""
    limits = limits_for_vehicle(vehicle, at=at)
    policy = applied_policy(vehicle=vehicle)
    peak = policy is not None and at.month in (policy.peak_months or [])
    rows = [
        LimitRow(
            key=key,
            label=label,
            value=_format_limit(getattr(limits, key), unit),
            source=limits.binding.get(key, "none"),
            why=_source_detail(
                limits.binding.get(key, "none"), key, vehicle=vehicle, policy=policy, peak=peak
            ),
        )
        for key, (label, unit) in LIMIT_LABELS.items()
    ]
    state = getattr(vehicle, "state", None)
    energy = (
        limits.discharge_energy_kwh(
            soc_pct=state.soc_pct, usable_battery_kwh=vehicle.usable_battery_kwh
        )
        if state is not None
        else None
    )
    return ExplainedLimits(
        at=at, limits=limits, rows=rows, policy=policy, discharge_energy_kwh=energy
    )


# --- Telemetry for the chart ------------------------------------------------------------------


@dataclass(frozen=True)
class TelemetryPoint:
    """Mean of the readings in one interval starting at ``at``."""

    at: datetime
    soc_pct: float
    power_kw: float
    readings: int


_BUCKET_MINUTES = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60)


def bucket_minutes_for(*, hours: int, max_points: int) -> int:
    """The smallest interval (dividing an hour) that yields at most ``max_points`` points."""
    for minutes in _BUCKET_MINUTES:
        if hours * 60 / minutes <= max_points:
            return minutes
    return 60


def telemetry_series(
    *, vehicle: Vehicle, until: datetime, hours: int = 48, max_points: int = 400
) -> tuple[list[TelemetryPoint], int]:
    """The readings of the last ``hours`` averaged in SQL into equal intervals, so a vehicle
    reporting every few seconds still gives at most ``max_points`` rows. Returns the points
    (oldest first) and the interval length in minutes."""
    minutes = bucket_minutes_for(hours=hours, max_points=max_points)
    since = until - timedelta(hours=hours)
    rows = (
        TelemetryReading.objects.filter(vehicle=vehicle, ts__gt=since, ts__lte=until)
        .annotate(
            hour=TruncHour("ts", tzinfo=UTC),
            slot=Floor(ExtractMinute("ts", tzinfo=UTC) / minutes),
        )
        .values("hour", "slot")
        .annotate(soc=Avg("soc_pct"), power=Avg("power_kw"), n=Count("id"))
        .order_by("hour", "slot")
    )
    points = [
        TelemetryPoint(
            at=row["hour"] + timedelta(minutes=int(row["slot"]) * minutes),
            soc_pct=float(row["soc"]),
            power_kw=float(row["power"]),
            readings=row["n"],
        )
        for row in rows
    ]
    return points, minutes


# --- Partner adapter health -------------------------------------------------------------------


@dataclass(frozen=True)
class AdapterHealth:
    config: AdapterConfig | None
    calls_24h: int  # calls actually made (skips while the circuit was open not counted)
    failed_24h: int
    skipped_24h: int
    recent_attempts: list[AdapterAttempt]
    commands_by_status: list[tuple[str, int]]  # (status label, count), every status listed

    @property
    def error_rate_pct(self) -> float | None:
        return 100.0 * self.failed_24h / self.calls_24h if self.calls_24h else None


def adapter_health(*, agreement: PartnerAgreement, now: datetime) -> AdapterHealth:
    config = AdapterConfig.objects.filter(agreement=agreement).first()
    outcome = AdapterAttempt.Outcome
    counts = AdapterAttempt.objects.filter(
        agreement=agreement, started_at__gte=now - timedelta(hours=24)
    ).aggregate(
        calls=Count("id", filter=~Q(outcome=outcome.CIRCUIT_OPEN)),
        failed=Count("id", filter=~Q(outcome__in=[outcome.OK, outcome.CIRCUIT_OPEN])),
        skipped=Count("id", filter=Q(outcome=outcome.CIRCUIT_OPEN)),
    )
    recent = list(AdapterAttempt.objects.filter(agreement=agreement).order_by("-started_at")[:50])
    by_status = dict(
        DeviceCommand.objects.filter(partner_id=agreement.partner_id)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    return AdapterHealth(
        config=config,
        calls_24h=counts["calls"],
        failed_24h=counts["failed"],
        skipped_24h=counts["skipped"],
        recent_attempts=recent,
        commands_by_status=[
            (label, by_status.get(value, 0)) for value, label in DeviceCommand.Status.choices
        ],
    )


# --- Latest states ---------------------------------------------------------------------------
# Dispatch reads the latest state of a whole fleet with ``latest_states`` (one query).


class LatestState(NamedTuple):
    ts: datetime
    soc_pct: float
    power_kw: float
    plugged_in: bool
    charging_state: str


def latest_states(*, vehicle_ids: Iterable[int] | None = None) -> dict[int, LatestState]:
    """The latest reported state of each vehicle (all vehicles in the current scope, or
    those given) that has reported, by vehicle id, in one query."""
    # The time comes back as an integer and becomes a datetime here: several times faster
    # than the driver's timestamp conversion, which dominates reading 100,000 rows.
    query = (
        VehicleState.objects.order_by()
        .annotate(at_us=RawSQL(epoch_us_sql(f"{VehicleState._meta.db_table}.ts"), ()))  # noqa: S611
        .values_list("vehicle_id", "at_us", *LatestState._fields[1:])
    )
    if vehicle_ids is not None:
        query = among(query, "vehicle_id", vehicle_ids)
    states = {}
    with gc_paused():  # 100,000 new tuples, no cycles
        for vehicle_id, at_us, soc_pct, power_kw, plugged_in, charging_state in query:
            ts = EPOCH + at_us * MICROSECOND
            states[vehicle_id] = LatestState(ts, soc_pct, power_kw, plugged_in, charging_state)
    return states
