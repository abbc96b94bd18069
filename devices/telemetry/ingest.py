"""Ingest: one partner's batch of readings (the API's ``POST /api/v1/telemetry``), each bad
reading rejected with its index and a stable code (``devices.telemetry.readings``), and in one
transaction:

* the rest stored — binary COPY into a temporary staging table, then one
  ``INSERT … SELECT … ON CONFLICT (vehicle_id, ts) DO NOTHING RETURNING``. RETURNING tells which readings were
  new, so a re-posted reading is counted as a duplicate and never stored twice;
* ``VehicleState`` (the latest reading per vehicle) kept current with one upsert that only a
  newer reading wins, so a late reading never overwrites a newer state;
* the 15-minute ``TelemetryRollup`` rows kept current, synchronously
  (``devices.telemetry.rollups``).

A transaction-scoped advisory lock per vehicle serializes batches of the same vehicle, so two
batches never both build on a stale view (and never deadlock on each other's rows).
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction

from devices.models import TelemetryReading, VehicleState
from devices.telemetry.readings import (
    IDENTITY_FIELDS,
    Clock,
    Fleet,
    Key,
    Normalization,
    RejectCode,
    Rejected,
    Rejection,
    Row,
    epoch_us_sql,
    lookup_key,
    normalizations_for,
    normalized,
)
from devices.telemetry.rollups import update_rollups
from portal.bulk import bulk_insert
from portal.models import AutomakerPartner

MAX_READINGS_PER_BATCH = 5000
_ADVISORY_LOCK_NAMESPACE = 0x54454C  # "TEL": vehicle ids are the second key


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int
    rejected: list[Rejection]


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
    fleet = Fleet(
        partner=partner,
        utility_ids=utility_ids,
        vehicle_ids={key for vid, _ in identities if (key := lookup_key(vid))},
        vins={key.strip().upper() for _, vin in identities if (key := lookup_key(vin))},
    )
    clock = Clock(received_at)

    rows: dict[Key, Row] = {}
    rejected: list[Rejection] = []
    duplicates = 0
    for index, (reading, (vehicle_id, vin)) in enumerate(zip(readings, identities, strict=True)):
        try:
            if not isinstance(reading, dict):
                raise Rejected(RejectCode.INVALID_VALUE, "Each reading must be an object.")
            vehicle = fleet.find(vehicle_id, vin)
            normalization = normalizations[vehicle.utility_id]
            key, row = normalized(normalization.rename(reading), vehicle, normalization, clock)
        except Rejected as exc:
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


def _store(rows: dict[Key, Row], *, received_at: datetime) -> set[Key]:
    """Store valid, de-duplicated readings; returns the keys of those that were new."""
    with transaction.atomic():
        _lock_vehicles(sorted({vehicle_id for vehicle_id, _ in rows}))
        inserted = bulk_insert(
            TelemetryReading,
            _READING_COLUMNS,
            [(*row, received_at) for row in rows.values()],
            conflict="ON CONFLICT (vehicle_id, ts) DO NOTHING",
            returning=("vehicle_id", epoch_us_sql("ts")),
        )
        new_keys = {(vehicle_id, ts) for vehicle_id, ts in inserted}
        update_rollups({key: rows[key] for key in new_keys})
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


def _update_states(rows: Iterable[Row], *, received_at: datetime) -> None:
    latest: dict[int, Row] = {}
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
