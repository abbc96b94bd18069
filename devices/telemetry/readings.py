"""How one partner's raw readings become the portal's: each agreement's field names and units
(``Normalization``), the vehicle found by ``vehicle_id`` or VIN among the partner's active
vehicles, and every value checked. A bad reading is refused on its own, with a stable
``RejectCode``; the rest of its batch is stored (``devices.telemetry.ingest``).

Readings older than ``TELEMETRY_LATE_WINDOW_DAYS`` are refused (see
``devices.telemetry.retention`` for why). Also the time base storage and rollups share:
microseconds since the epoch.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from django.conf import settings

from devices.models import AdapterConfig, Vehicle
from portal.bulk import among
from portal.models import AutomakerPartner

# Meters and rounding make a vehicle report a little over its rating now and then.
POWER_TOLERANCE_FRACTION = 0.10
POWER_TOLERANCE_KW = 0.5
CHARGING_STATES = ("charging", "discharging", "idle", "complete", "unplugged", "fault")
IDENTITY_FIELDS = ("vehicle_id", "vin")
READING_FIELDS = ("ts", "soc", "power_kw", "plugged_in", "charging_state")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def future_skew() -> timedelta:
    """How far ahead of our clock a reading's timestamp may be (partners' clocks drift)."""
    return timedelta(seconds=getattr(settings, "TELEMETRY_FUTURE_SKEW_SECONDS", 300))


def late_window() -> timedelta:
    """How old a reading may be and still be accepted."""
    return timedelta(days=getattr(settings, "TELEMETRY_LATE_WINDOW_DAYS", 30))


class RejectCode(StrEnum):
    """Why one reading was refused. Stable: partners branch on these."""

    UNKNOWN_VEHICLE = "unknown_vehicle"
    AMBIGUOUS_VEHICLE = "ambiguous_vehicle"
    MISSING_FIELD = "missing_field"
    INVALID_VALUE = "invalid_value"
    INVALID_TIMESTAMP = "invalid_timestamp"
    TIMESTAMP_IN_FUTURE = "timestamp_in_future"
    TIMESTAMP_TOO_OLD = "timestamp_too_old"
    SOC_OUT_OF_RANGE = "soc_out_of_range"
    POWER_EXCEEDS_RATING = "power_exceeds_rating"


@dataclass(frozen=True)
class Rejection:
    index: int
    code: RejectCode
    message: str


class Rejected(Exception):
    def __init__(self, code: RejectCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Normalization:
    """How one partner agreement's readings become the portal's: field names, then units."""

    renames: Mapping[str, str] = field(default_factory=dict)  # partner's name → portal's
    power_divisor: float = 1.0  # W → kW: 1000
    soc_multiplier: float = 1.0  # fraction → percent: 100

    @classmethod
    def from_config(cls, config: AdapterConfig | None) -> Normalization:
        if config is None:
            return cls()
        field_map = config.field_map if isinstance(config.field_map, dict) else {}
        return cls(
            renames={
                str(source): target
                for source, target in field_map.items()
                if target in IDENTITY_FIELDS + READING_FIELDS
            },
            power_divisor=1000.0 if config.power_unit == AdapterConfig.PowerUnit.W else 1.0,
            soc_multiplier=100.0 if config.soc_unit == AdapterConfig.SocUnit.FRACTION else 1.0,
        )

    def rename(self, raw: dict[str, Any]) -> dict[str, Any]:
        if not self.renames:
            return raw
        return {self.renames.get(name, name): value for name, value in raw.items()}


def normalizations_for(
    *, partner: AutomakerPartner, utility_ids: Sequence[int]
) -> dict[int, Normalization]:
    """Each utility's normalization for this partner (defaults where no adapter is set up)."""
    configs = AdapterConfig.objects.filter(
        agreement__partner=partner, utility_id__in=utility_ids
    ).only("utility_id", "field_map", "power_unit", "soc_unit")
    found = {config.utility_id: Normalization.from_config(config) for config in configs}
    return {utility_id: found.get(utility_id, Normalization()) for utility_id in utility_ids}


class _Vehicle(NamedTuple):
    pk: int
    utility_id: int
    vin: str
    max_charge_kw: float
    max_discharge_kw: float


_UNKNOWN_VEHICLE_MESSAGE = (
    "No active vehicle of yours with this vehicle_id or vin in the utilities this client may "
    "act in."
)


class Fleet:
    """The partner's active vehicles a batch names, found with one query."""

    def __init__(self, *, partner, utility_ids, vehicle_ids: set[str], vins: set[str]):
        self.by_vehicle_id: dict[str, list[_Vehicle]] = defaultdict(list)
        self.by_vin: dict[str, _Vehicle] = {}
        active = (
            Vehicle.objects.filter(
                partner=partner, utility_id__in=utility_ids, status=Vehicle.Status.ACTIVE
            )
            .order_by()
            .values_list(
                "partner_vehicle_id", "pk", "utility_id", "vin", "max_charge_kw", "max_discharge_kw"
            )
        )
        for field_name, wanted in (("partner_vehicle_id", vehicle_ids), ("vin", vins)):
            if not wanted:
                continue
            for partner_vehicle_id, *fields in among(active, field_name, wanted):
                vehicle = _Vehicle(*fields)
                if vehicle not in self.by_vehicle_id[partner_vehicle_id]:
                    self.by_vehicle_id[partner_vehicle_id].append(vehicle)
                self.by_vin[vehicle.vin] = vehicle

    def find(self, vehicle_id: Any, vin: Any) -> _Vehicle:
        if vin is None and type(vehicle_id) is str:  # the common case, first
            candidates = self.by_vehicle_id.get(vehicle_id)
            if candidates is not None and len(candidates) == 1:
                return candidates[0]
        return self._find(vehicle_id, vin)

    def _find(self, vehicle_id: Any, vin: Any) -> _Vehicle:
        if vehicle_id is None and vin is None:
            raise Rejected(RejectCode.MISSING_FIELD, "vehicle_id or vin is required.")
        for name, value in (("vehicle_id", vehicle_id), ("vin", vin)):
            if value is not None and not isinstance(value, str):
                raise Rejected(RejectCode.INVALID_VALUE, f"{name} must be a string.")
        wanted_vin = vin.strip().upper() if vin is not None else None
        if vehicle_id is None:
            candidates = [self.by_vin[wanted_vin]] if wanted_vin in self.by_vin else []
        else:
            candidates = self.by_vehicle_id.get(vehicle_id, [])
            if wanted_vin is not None:
                candidates = [v for v in candidates if v.vin == wanted_vin]
        if not candidates:
            raise Rejected(RejectCode.UNKNOWN_VEHICLE, _UNKNOWN_VEHICLE_MESSAGE)
        if len(candidates) > 1:
            raise Rejected(
                RejectCode.AMBIGUOUS_VEHICLE,
                "This vehicle_id names vehicles in several utilities; send the vin as well.",
            )
        return candidates[0]


def lookup_key(value: Any) -> str | None:
    """A string worth looking up (the database refuses NUL; long ones cannot match)."""
    if isinstance(value, str) and len(value) <= 100 and "\x00" not in value:
        return value
    return None


class _Refusal(NamedTuple):
    code: RejectCode
    message: str


class Clock:
    """Parses timestamps (each distinct string once: a fleet's readings share them) and
    checks them against the accepted window."""

    def __init__(self, now: datetime):
        self.latest = now + future_skew()
        self.earliest = now - late_window()
        self._parsed: dict[str, tuple[datetime, int] | _Refusal] = {}

    def parse(self, value: Any) -> tuple[datetime, int]:
        """The timestamp as aware UTC, and in microseconds since the epoch."""
        if value is None:
            raise Rejected(RejectCode.MISSING_FIELD, "ts is required.")
        if not isinstance(value, str):
            raise Rejected(RejectCode.INVALID_TIMESTAMP, "ts must be an ISO 8601 string.")
        parsed = self._parsed.get(value)
        if parsed is None:
            parsed = self._parsed[value] = self._check(value)
        if isinstance(parsed, _Refusal):
            raise Rejected(parsed.code, parsed.message)
        return parsed

    def _check(self, value: str) -> tuple[datetime, int] | _Refusal:
        try:
            ts = parse_timestamp(value)
        except ValueError as exc:
            return _Refusal(RejectCode.INVALID_TIMESTAMP, f"ts {exc}")
        if ts > self.latest:
            seconds = future_skew().total_seconds()
            return _Refusal(
                RejectCode.TIMESTAMP_IN_FUTURE, f"ts is over {seconds:g} s ahead of our clock."
            )
        if ts < self.earliest:
            days = late_window().days
            return _Refusal(
                RejectCode.TIMESTAMP_TOO_OLD, f"ts is over {days} days old; too late to accept."
            )
        return ts, epoch_us(ts)


def parse_timestamp(value: str) -> datetime:
    """An ISO 8601 timestamp with a UTC offset, as aware UTC; ValueError saying what is
    wrong otherwise (a timestamp without an offset is ambiguous, so refused)."""
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("is not an ISO 8601 timestamp.") from None
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError("needs a UTC offset, e.g. 2026-07-01T17:00:00-07:00 or …Z.")
    try:
        return ts.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range.") from None


def _number(reading: dict[str, Any], name: str) -> float:
    value = reading.get(name)
    if value is None:
        raise Rejected(RejectCode.MISSING_FIELD, f"{name} is required.")
    if type(value) is not float and type(value) is not int:  # bool is an int: refuse it too
        raise Rejected(RejectCode.INVALID_VALUE, f"{name} must be a number.")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise Rejected(RejectCode.INVALID_VALUE, f"{name} must be a finite number.")
    return number


Key = tuple[int, int]  # (vehicle id, microseconds since the epoch): one reading


class Row(NamedTuple):
    """A reading as stored (the column order of ``_READING_COLUMNS``)."""

    utility_id: int
    vehicle_id: int
    ts: datetime
    soc_pct: float
    power_kw: float
    plugged_in: bool
    charging_state: str


def normalized(
    reading: dict[str, Any], vehicle: _Vehicle, normalization: Normalization, clock: Clock
) -> tuple[Key, Row]:
    ts, ts_us = clock.parse(reading.get("ts"))
    soc_pct = _number(reading, "soc")
    if normalization.soc_multiplier != 1.0:
        soc_pct = round(soc_pct * normalization.soc_multiplier, 9)
    if not 0 <= soc_pct <= 100:
        raise Rejected(RejectCode.SOC_OUT_OF_RANGE, f"soc is {soc_pct:g} %, outside 0–100 %.")
    power_kw = _number(reading, "power_kw")
    if normalization.power_divisor != 1.0:
        power_kw = power_kw / normalization.power_divisor
    rating_kw = vehicle.max_charge_kw if power_kw >= 0 else vehicle.max_discharge_kw
    if abs(power_kw) > rating_kw * (1 + POWER_TOLERANCE_FRACTION) + POWER_TOLERANCE_KW:
        direction = "charge" if power_kw >= 0 else "discharge"
        raise Rejected(
            RejectCode.POWER_EXCEEDS_RATING,
            f"power_kw {power_kw:g} is beyond the vehicle's {direction} rating of {rating_kw:g} kW.",
        )
    plugged_in = reading.get("plugged_in")
    if plugged_in is None:
        raise Rejected(RejectCode.MISSING_FIELD, "plugged_in is required.")
    if type(plugged_in) is not bool:
        raise Rejected(RejectCode.INVALID_VALUE, "plugged_in must be true or false.")
    charging_state = reading.get("charging_state")
    if charging_state is None:
        raise Rejected(RejectCode.MISSING_FIELD, "charging_state is required.")
    if not isinstance(charging_state, str) or charging_state.lower() not in CHARGING_STATES:
        raise Rejected(
            RejectCode.INVALID_VALUE, f"charging_state must be one of {', '.join(CHARGING_STATES)}."
        )
    row = Row(
        vehicle.utility_id, vehicle.pk, ts, soc_pct, power_kw, plugged_in, charging_state.lower()
    )
    return (vehicle.pk, ts_us), row


def epoch_us(ts: datetime) -> int:
    return (ts - EPOCH) // MICROSECOND


def epoch_us_sql(column: str) -> str:
    """SQL for a timestamp column in microseconds since the epoch: integers come back from
    PostgreSQL far cheaper than timestamps."""
    return f"(EXTRACT(EPOCH FROM {column}) * 1000000)::bigint"
