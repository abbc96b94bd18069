"""Vehicle telemetry: partners' readings normalized, stored in bulk, and kept summarized.

``ingest`` takes one partner's batch (the API's ``POST /api/v1/telemetry``), rejects each bad
reading with its index and a stable code, and in one transaction:

* stores the rest — binary COPY into a temporary staging table, then one
  ``INSERT … SELECT … ON CONFLICT (vehicle_id, ts) DO NOTHING RETURNING``. RETURNING tells which readings were
  new, so a re-posted reading is counted as a duplicate and never stored twice;
* keeps ``VehicleState`` (the latest reading per vehicle) current with one upsert that only a
  newer reading wins, so a late reading never overwrites a newer state;
* keeps the 15-minute ``TelemetryRollup`` rows current, synchronously. Each reading's power
  holds until the next reading, for at most ``MAX_HOLD``; charged energy is the positive part,
  discharged the negative part (as a positive kWh). A batch changes only the intervals around
  its new readings, by exactly ``energy(stored + new) − energy(stored)`` computed over the
  stored readings next to the new ones: for readings after the vehicle's latest state that is
  the state itself (no reading is read back); late or out-of-order readings read the stored
  readings within ``MAX_HOLD`` of them. On PostgreSQL a transaction-scoped advisory lock per
  vehicle serializes batches of the same vehicle, so two batches never both build on a
  stale view (and never deadlock on each other's rows).

Readings older than ``TELEMETRY_LATE_WINDOW_DAYS`` are refused and ``purge_readings`` refuses
to delete readings that young, so late data can never land in a purged period, where its
interval would be summarized from part of the data.

Dispatch reads the latest state of a whole fleet with ``latest_states`` (one query).
"""

from __future__ import annotations

import gc
import math
import operator
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import reduce
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.expressions import RawSQL

from devices.models import AdapterConfig, TelemetryReading, TelemetryRollup, Vehicle, VehicleState
from portal.bulk import among, bulk_insert
from portal.models import AutomakerPartner, Utility

MAX_READINGS_PER_BATCH = 5000
ROLLUP_INTERVAL = timedelta(minutes=15)
# A reading stands for the vehicle's power until the next one, but no longer than this: a
# vehicle that stopped reporting is not assumed to go on charging for hours.
MAX_HOLD = timedelta(minutes=15)
# Meters and rounding make a vehicle report a little over its rating now and then.
POWER_TOLERANCE_FRACTION = 0.10
POWER_TOLERANCE_KW = 0.5
CHARGING_STATES = ("charging", "discharging", "idle", "complete", "unplugged", "fault")
IDENTITY_FIELDS = ("vehicle_id", "vin")
READING_FIELDS = ("ts", "soc", "power_kw", "plugged_in", "charging_state")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_INTERVAL_US = ROLLUP_INTERVAL // _MICROSECOND
_HOLD_US = MAX_HOLD // _MICROSECOND
_US_PER_HOUR = 3_600_000_000
_INTERVAL_HOURS = _INTERVAL_US / _US_PER_HOUR
_ADVISORY_LOCK_NAMESPACE = 0x54454C  # "TEL": vehicle ids are the second key


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


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int
    rejected: list[Rejection]


class _Rejected(Exception):
    def __init__(self, code: RejectCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# --- Normalization ------------------------------------------------------------------------


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


class _Fleet:
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
            raise _Rejected(RejectCode.MISSING_FIELD, "vehicle_id or vin is required.")
        for name, value in (("vehicle_id", vehicle_id), ("vin", vin)):
            if value is not None and not isinstance(value, str):
                raise _Rejected(RejectCode.INVALID_VALUE, f"{name} must be a string.")
        wanted_vin = vin.strip().upper() if vin is not None else None
        if vehicle_id is None:
            candidates = [self.by_vin[wanted_vin]] if wanted_vin in self.by_vin else []
        else:
            candidates = self.by_vehicle_id.get(vehicle_id, [])
            if wanted_vin is not None:
                candidates = [v for v in candidates if v.vin == wanted_vin]
        if not candidates:
            raise _Rejected(RejectCode.UNKNOWN_VEHICLE, _UNKNOWN_VEHICLE_MESSAGE)
        if len(candidates) > 1:
            raise _Rejected(
                RejectCode.AMBIGUOUS_VEHICLE,
                "This vehicle_id names vehicles in several utilities; send the vin as well.",
            )
        return candidates[0]


def _lookup_key(value: Any) -> str | None:
    """A string worth looking up (the database refuses NUL; long ones cannot match)."""
    if isinstance(value, str) and len(value) <= 100 and "\x00" not in value:
        return value
    return None


class _Refusal(NamedTuple):
    code: RejectCode
    message: str


class _Clock:
    """Parses timestamps (each distinct string once: a fleet's readings share them) and
    checks them against the accepted window."""

    def __init__(self, now: datetime):
        self.latest = now + future_skew()
        self.earliest = now - late_window()
        self._parsed: dict[str, tuple[datetime, int] | _Refusal] = {}

    def parse(self, value: Any) -> tuple[datetime, int]:
        """The timestamp as aware UTC, and in microseconds since the epoch."""
        if value is None:
            raise _Rejected(RejectCode.MISSING_FIELD, "ts is required.")
        if not isinstance(value, str):
            raise _Rejected(RejectCode.INVALID_TIMESTAMP, "ts must be an ISO 8601 string.")
        parsed = self._parsed.get(value)
        if parsed is None:
            parsed = self._parsed[value] = self._check(value)
        if isinstance(parsed, _Refusal):
            raise _Rejected(parsed.code, parsed.message)
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
        return ts, _us(ts)


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
        raise _Rejected(RejectCode.MISSING_FIELD, f"{name} is required.")
    if type(value) is not float and type(value) is not int:  # bool is an int: refuse it too
        raise _Rejected(RejectCode.INVALID_VALUE, f"{name} must be a number.")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise _Rejected(RejectCode.INVALID_VALUE, f"{name} must be a finite number.")
    return number


_Key = tuple[int, int]  # (vehicle id, microseconds since the epoch): one reading


class _Row(NamedTuple):
    """A reading as stored (the column order of ``_READING_COLUMNS``)."""

    utility_id: int
    vehicle_id: int
    ts: datetime
    soc_pct: float
    power_kw: float
    plugged_in: bool
    charging_state: str


def _normalized(
    reading: dict[str, Any], vehicle: _Vehicle, normalization: Normalization, clock: _Clock
) -> tuple[_Key, _Row]:
    ts, ts_us = clock.parse(reading.get("ts"))
    soc_pct = _number(reading, "soc")
    if normalization.soc_multiplier != 1.0:
        soc_pct = round(soc_pct * normalization.soc_multiplier, 9)
    if not 0 <= soc_pct <= 100:
        raise _Rejected(RejectCode.SOC_OUT_OF_RANGE, f"soc is {soc_pct:g} %, outside 0–100 %.")
    power_kw = _number(reading, "power_kw")
    if normalization.power_divisor != 1.0:
        power_kw = power_kw / normalization.power_divisor
    rating_kw = vehicle.max_charge_kw if power_kw >= 0 else vehicle.max_discharge_kw
    if abs(power_kw) > rating_kw * (1 + POWER_TOLERANCE_FRACTION) + POWER_TOLERANCE_KW:
        direction = "charge" if power_kw >= 0 else "discharge"
        raise _Rejected(
            RejectCode.POWER_EXCEEDS_RATING,
            f"power_kw {power_kw:g} is beyond the vehicle's {direction} rating of {rating_kw:g} kW.",
        )
    plugged_in = reading.get("plugged_in")
    if plugged_in is None:
        raise _Rejected(RejectCode.MISSING_FIELD, "plugged_in is required.")
    if type(plugged_in) is not bool:
        raise _Rejected(RejectCode.INVALID_VALUE, "plugged_in must be true or false.")
    charging_state = reading.get("charging_state")
    if charging_state is None:
        raise _Rejected(RejectCode.MISSING_FIELD, "charging_state is required.")
    if not isinstance(charging_state, str) or charging_state.lower() not in CHARGING_STATES:
        raise _Rejected(
            RejectCode.INVALID_VALUE, f"charging_state must be one of {', '.join(CHARGING_STATES)}."
        )
    row = _Row(
        vehicle.utility_id, vehicle.pk, ts, soc_pct, power_kw, plugged_in, charging_state.lower()
    )
    return (vehicle.pk, ts_us), row


# --- Ingest -------------------------------------------------------------------------------


def ingest(
    *,
    partner: AutomakerPartner,
    utility_ids: Sequence[int],
    readings: Sequence[Any],
    received_at: datetime | None = None,
) -> IngestResult:
    """Normalize, validate and store one batch of a partner's readings (at most
    ``MAX_READINGS_PER_BATCH``; the caller refuses bigger ones). Only vehicles of ``partner``
    in ``utility_ids`` are found; call it inside a scope covering those utilities."""
    if len(readings) > MAX_READINGS_PER_BATCH:
        raise ValueError(f"At most {MAX_READINGS_PER_BATCH} readings per batch.")
    with gc_paused():
        return _ingest(
            partner=partner, utility_ids=utility_ids, readings=readings, received_at=received_at
        )


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cycle collector: it would walk a batch's tens of thousands of new
    objects again and again (a sixth of an ingest's CPU), and a batch makes no reference
    cycles. It runs again, and catches up, as soon as the batch is done. (Process-wide: a
    concurrent request merely sees its collection put off.)"""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _ingest(
    *,
    partner: AutomakerPartner,
    utility_ids: Sequence[int],
    readings: Sequence[Any],
    received_at: datetime | None,
) -> IngestResult:
    received_at = received_at or datetime.now(UTC)
    normalizations = normalizations_for(partner=partner, utility_ids=utility_ids)
    identity_names = _identity_names(normalizations.values())
    identities = [_identity(reading, identity_names) for reading in readings]
    fleet = _Fleet(
        partner=partner,
        utility_ids=utility_ids,
        vehicle_ids={key for vid, _ in identities if (key := _lookup_key(vid))},
        vins={key.strip().upper() for _, vin in identities if (key := _lookup_key(vin))},
    )
    clock = _Clock(received_at)

    rows: dict[_Key, _Row] = {}
    rejected: list[Rejection] = []
    duplicates = 0
    for index, (reading, (vehicle_id, vin)) in enumerate(zip(readings, identities, strict=True)):
        try:
            if not isinstance(reading, dict):
                raise _Rejected(RejectCode.INVALID_VALUE, "Each reading must be an object.")
            vehicle = fleet.find(vehicle_id, vin)
            normalization = normalizations[vehicle.utility_id]
            key, row = _normalized(normalization.rename(reading), vehicle, normalization, clock)
        except _Rejected as exc:
            rejected.append(Rejection(index=index, code=exc.code, message=exc.message))
            continue
        if key in rows:
            duplicates += 1
        else:
            rows[key] = row

    new_keys = _store(rows, received_at=received_at) if rows else set()
    return IngestResult(
        accepted=len(new_keys),
        duplicates=duplicates + len(rows) - len(new_keys),
        rejected=rejected,
    )


def _identity_names(normalizations: Iterable[Normalization]) -> dict[str, list[str]]:
    """Which field names may carry each identity field. The vehicle (and so its utility's
    field map) is not known before it is identified, so every agreement's renames count."""
    names: dict[str, list[str]] = {name: [name] for name in IDENTITY_FIELDS}
    for normalization in normalizations:
        for source, target in normalization.renames.items():
            if target in names and source not in names[target]:
                names[target].append(source)
    return names


def _identity(reading: Any, names: Mapping[str, list[str]]) -> tuple[Any, Any]:
    if not isinstance(reading, dict):
        return None, None
    found = []
    for target in IDENTITY_FIELDS:
        value = None
        for name in names[target]:
            value = reading.get(name)
            if value is not None:
                break
        found.append(value)
    return found[0], found[1]


# --- Storage ------------------------------------------------------------------------------

_READING_COLUMNS = (
    "utility_id",
    "vehicle_id",
    "ts",
    "soc_pct",
    "power_kw",
    "plugged_in",
    "charging_state",
    "received_at",
)
_STATE_COLUMNS = (
    "utility_id",
    "vehicle_id",
    "ts",
    "soc_pct",
    "power_kw",
    "plugged_in",
    "charging_state",
    "updated_at",
)
_ROLLUP_COLUMNS = (
    "utility_id",
    "vehicle_id",
    "interval_start",
    "energy_charged_kwh",
    "energy_discharged_kwh",
    "mean_power_kw",
    "readings",
)


def _store(rows: dict[_Key, _Row], *, received_at: datetime) -> set[_Key]:
    """Store valid, de-duplicated readings; returns the keys of those that were new."""
    with transaction.atomic():
        _lock_vehicles(sorted({vehicle_id for vehicle_id, _ in rows}))
        inserted = bulk_insert(
            TelemetryReading,
            _READING_COLUMNS,
            [(*row, received_at) for row in rows.values()],
            conflict="ON CONFLICT (vehicle_id, ts) DO NOTHING",
            returning=("vehicle_id", _epoch_us_sql("ts")),
        )
        new_keys = {(vehicle_id, ts) for vehicle_id, ts in inserted}
        _update_rollups({key: rows[key] for key in new_keys})
        _update_states(rows.values(), received_at=received_at)
    return new_keys


def _lock_vehicles(vehicle_ids: list[int]) -> None:
    """Serialize concurrent batches per vehicle (in id order: no deadlocks)."""
    if not vehicle_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, (v %% 2147483647)::int) "
            "FROM unnest(%s::bigint[]) AS v",
            [_ADVISORY_LOCK_NAMESPACE, vehicle_ids],
        )


def _update_states(rows: Iterable[_Row], *, received_at: datetime) -> None:
    latest: dict[int, _Row] = {}
    for row in rows:
        current = latest.get(row.vehicle_id)
        if current is None or row.ts > current.ts:
            latest[row.vehicle_id] = row
    table = VehicleState._meta.db_table
    bulk_insert(
        VehicleState,
        _STATE_COLUMNS,
        [(*latest[vehicle_id], received_at) for vehicle_id in sorted(latest)],
        conflict=(
            "ON CONFLICT (vehicle_id) DO UPDATE SET ts = excluded.ts, "
            "soc_pct = excluded.soc_pct, power_kw = excluded.power_kw, "
            "plugged_in = excluded.plugged_in, charging_state = excluded.charging_state, "
            f"updated_at = excluded.updated_at WHERE {table}.ts < excluded.ts"
        ),
    )


# --- Rollups --------------------------------------------------------------------------------

_Point = tuple[int, float]  # (microseconds since the epoch, kW)


def _us(ts: datetime) -> int:
    return (ts - _EPOCH) // _MICROSECOND


def energy_by_interval(points: Sequence[_Point]) -> dict[int, list[float]]:
    """One vehicle's readings (time-ordered) → interval start (µs since the epoch) →
    [kWh charged, kWh discharged, readings in the interval]. Each reading's power holds until
    the next reading or for ``MAX_HOLD``, whichever comes first."""
    intervals: dict[int, list[float]] = {}
    for i, (start, power_kw) in enumerate(points):
        end = start + _HOLD_US
        if i + 1 < len(points) and points[i + 1][0] < end:
            end = points[i + 1][0]
        interval = start - start % _INTERVAL_US
        totals = intervals.setdefault(interval, [0.0, 0.0, 0])
        totals[2] += 1
        while start < end:
            stop = min(end, interval + _INTERVAL_US)
            kwh = power_kw * (stop - start) / _US_PER_HOUR
            totals = intervals.setdefault(interval, [0.0, 0.0, 0])
            if kwh > 0:
                totals[0] += kwh
            elif kwh < 0:
                totals[1] -= kwh
            start, interval = stop, interval + _INTERVAL_US
    return intervals


_NOTHING = (0.0, 0.0, 0)


def _update_rollups(new_rows: Mapping[_Key, _Row]) -> None:
    if not new_rows:
        return
    new_points: dict[int, list[_Point]] = defaultdict(list)
    utility_of: dict[int, int] = {}
    for (vehicle_id, at), row in new_rows.items():
        new_points[vehicle_id].append((at, row.power_kw))
        utility_of[vehicle_id] = row.utility_id
    for points in new_points.values():
        points.sort()
    stored = _stored_neighbours(new_points)

    deltas = []
    for vehicle_id, points in new_points.items():
        before = stored.get(vehicle_id, [])
        after = energy_by_interval(sorted(before + points))
        previous = energy_by_interval(before)
        for interval in after.keys() | previous.keys():
            now, was = after.get(interval, _NOTHING), previous.get(interval, _NOTHING)
            delta = (now[0] - was[0], now[1] - was[1], now[2] - was[2])
            if delta[2] or abs(delta[0]) > 1e-12 or abs(delta[1]) > 1e-12:
                deltas.append((vehicle_id, interval, delta))

    table = TelemetryRollup._meta.db_table
    rows = [
        (
            utility_of[vehicle_id],
            vehicle_id,
            _EPOCH + interval * _MICROSECOND,
            charged,
            discharged,
            (charged - discharged) / _INTERVAL_HOURS,
            count,
        )
        for vehicle_id, interval, (charged, discharged, count) in sorted(deltas)
    ]
    bulk_insert(
        TelemetryRollup,
        _ROLLUP_COLUMNS,
        rows,
        conflict=(
            "ON CONFLICT (vehicle_id, interval_start) DO UPDATE SET "
            f"energy_charged_kwh = {table}.energy_charged_kwh + excluded.energy_charged_kwh, "
            f"energy_discharged_kwh = {table}.energy_discharged_kwh "
            "+ excluded.energy_discharged_kwh, "
            f"mean_power_kw = ({table}.energy_charged_kwh + excluded.energy_charged_kwh "
            f"- {table}.energy_discharged_kwh - excluded.energy_discharged_kwh) "
            f"/ {_INTERVAL_HOURS!r}, "
            f"readings = {table}.readings + excluded.readings"
        ),
    )


def _stored_neighbours(new_points: Mapping[int, list[_Point]]) -> dict[int, list[_Point]]:
    """The stored readings (before this batch) whose hold the new readings can change.

    For a vehicle whose new readings all follow its latest state, that is the state alone:
    the readings before it keep their holds. Otherwise (late or out-of-order data, or no
    state yet) it is every stored reading within ``MAX_HOLD`` of the new ones.
    """
    states = {
        vehicle_id: (at, power_kw)
        for vehicle_id, at, power_kw in among(VehicleState.objects.all(), "vehicle_id", new_points)
        .annotate(at=RawSQL(_epoch_us_sql(f"{VehicleState._meta.db_table}.ts"), ()))  # noqa: S611
        .values_list("vehicle_id", "at", "power_kw")
    }
    stored: dict[int, list[_Point]] = {}
    windows = []
    for vehicle_id, points in new_points.items():
        state = states.get(vehicle_id)
        if state is not None and state[0] < points[0][0]:
            stored[vehicle_id] = [state]
        else:
            windows.append(
                Q(
                    vehicle_id=vehicle_id,
                    ts__gte=_EPOCH + (points[0][0] - _HOLD_US) * _MICROSECOND,
                    ts__lte=_EPOCH + (points[-1][0] + _HOLD_US) * _MICROSECOND,
                )
            )
    new = {(vehicle_id, at) for vehicle_id, points in new_points.items() for at, _ in points}
    # A few hundred windows per query keeps each statement's plan small.
    for start in range(0, len(windows), _WINDOWS_PER_QUERY):
        rows = TelemetryReading.objects.filter(
            reduce(operator.or_, windows[start : start + _WINDOWS_PER_QUERY])
        ).values_list("vehicle_id", "ts", "power_kw")
        for vehicle_id, ts, power_kw in rows.order_by("vehicle_id", "ts"):
            point = (_us(ts), power_kw)
            if (vehicle_id, point[0]) not in new:
                stored.setdefault(vehicle_id, []).append(point)
    return stored


_WINDOWS_PER_QUERY = 200


# --- Bulk writes ----------------------------------------------------------------------------


def _epoch_us_sql(column: str) -> str:
    """SQL for a timestamp column in microseconds since the epoch: integers come back from
    PostgreSQL far cheaper than timestamps."""
    return f"(EXTRACT(EPOCH FROM {column}) * 1000000)::bigint"


# --- Reads ----------------------------------------------------------------------------------


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
        .annotate(at_us=RawSQL(_epoch_us_sql(f"{VehicleState._meta.db_table}.ts"), ()))  # noqa: S611
        .values_list("vehicle_id", "at_us", *LatestState._fields[1:])
    )
    if vehicle_ids is not None:
        query = among(query, "vehicle_id", vehicle_ids)
    states = {}
    with gc_paused():  # 100,000 new tuples, no cycles
        for vehicle_id, at_us, soc_pct, power_kw, plugged_in, charging_state in query:
            ts = _EPOCH + at_us * _MICROSECOND
            states[vehicle_id] = LatestState(ts, soc_pct, power_kw, plugged_in, charging_state)
    return states


# --- Retention ------------------------------------------------------------------------------


def minimum_retention() -> timedelta:
    """Readings younger than this may still be joined by late ones: never purge them."""
    return late_window() + ROLLUP_INTERVAL + MAX_HOLD


def purge_readings(*, utility: Utility, older_than: datetime, batch_size: int = 10_000) -> int:
    """Delete the utility's raw readings older than ``older_than`` in batches (each its own
    statement, so locks stay short); rollups and states are kept. Returns how many."""
    if older_than > datetime.now(UTC) - minimum_retention():
        raise ValueError(
            f"Readings from the last {minimum_retention().days + 1} days may still receive "
            "late data; keep them."
        )
    vehicle_ids = list(
        Vehicle.objects.filter(utility=utility).order_by("pk").values_list("pk", flat=True)
    )
    deleted = 0
    # Per chunk of vehicles, so each batch is found through the (vehicle, ts) index.
    for start in range(0, len(vehicle_ids), 500):
        old = TelemetryReading.objects.filter(
            utility=utility, vehicle_id__in=vehicle_ids[start : start + 500], ts__lt=older_than
        )
        while True:
            batch = list(old.values_list("pk", flat=True)[:batch_size])
            if not batch:
                break
            deleted += TelemetryReading.objects.filter(pk__in=batch).delete()[0]
    return deleted
