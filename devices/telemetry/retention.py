"""Retention of raw readings (run as the ``purge_telemetry`` management command).

Readings older than ``TELEMETRY_LATE_WINDOW_DAYS`` are refused at ingest and
``purge_readings`` refuses to delete readings that young, so late data can never land in a
purged period, where its interval would be summarized from part of the data.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from devices.models import TelemetryReading, Vehicle
from devices.telemetry.readings import late_window
from devices.telemetry.rollups import MAX_HOLD, ROLLUP_INTERVAL
from portal.models import Utility


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
