"""The 15-minute ``TelemetryRollup`` rows, kept current by each ingested batch.

Each reading's power holds until the next reading, for at most ``MAX_HOLD``; charged energy is
the positive part, discharged the negative part (as a positive kWh). A batch changes only the
intervals around its new readings, by exactly ``energy(stored + new) − energy(stored)``
computed over the stored readings next to the new ones: for readings after the vehicle's
latest state that is the state itself (no reading is read back); late or out-of-order
readings read the stored readings within ``MAX_HOLD`` of them.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import reduce

from django.db.models import Q
from django.db.models.expressions import RawSQL

from devices.models import TelemetryReading, TelemetryRollup, VehicleState
from devices.telemetry.readings import EPOCH, MICROSECOND, Key, Row, epoch_us, epoch_us_sql
from portal.bulk import among, bulk_insert

ROLLUP_INTERVAL = timedelta(minutes=15)
# A reading stands for the vehicle's power until the next one, but no longer than this: a
# vehicle that stopped reporting is not assumed to go on charging for hours.
MAX_HOLD = timedelta(minutes=15)
_INTERVAL_US = ROLLUP_INTERVAL // MICROSECOND
_HOLD_US = MAX_HOLD // MICROSECOND
_US_PER_HOUR = 3_600_000_000
_INTERVAL_HOURS = _INTERVAL_US / _US_PER_HOUR
_ROLLUP_COLUMNS = (
    "utility_id",
    "vehicle_id",
    "interval_start",
    "energy_charged_kwh",
    "energy_discharged_kwh",
    "mean_power_kw",
    "readings",
)
_Point = tuple[int, float]  # (microseconds since the epoch, kW)


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


def update_rollups(new_rows: Mapping[Key, Row]) -> None:
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
            EPOCH + interval * MICROSECOND,
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
        .annotate(at=RawSQL(epoch_us_sql(f"{VehicleState._meta.db_table}.ts"), ()))  # noqa: S611
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
                    ts__gte=EPOCH + (points[0][0] - _HOLD_US) * MICROSECOND,
                    ts__lte=EPOCH + (points[-1][0] + _HOLD_US) * MICROSECOND,
                )
            )
    new = {(vehicle_id, at) for vehicle_id, points in new_points.items() for at, _ in points}
    # A few hundred windows per query keeps each statement's plan small.
    for start in range(0, len(windows), _WINDOWS_PER_QUERY):
        rows = TelemetryReading.objects.filter(
            reduce(operator.or_, windows[start : start + _WINDOWS_PER_QUERY])
        ).values_list("vehicle_id", "ts", "power_kw")
        for vehicle_id, ts, power_kw in rows.order_by("vehicle_id", "ts"):
            point = (epoch_us(ts), power_kw)
            if (vehicle_id, point[0]) not in new:
                stored.setdefault(vehicle_id, []).append(point)
    return stored


_WINDOWS_PER_QUERY = 200
