"""Helpers for the device endpoints of the partner API: readings, timestamps and what is
stored. Their fixtures (clients, tokens, vehicles) are in tests/devices/conftest.py."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from django_scopes import scopes_disabled

from devices.models import DeviceCommand, TelemetryReading, TelemetryRollup, VehicleState

DEVICE_SCOPES = "vehicles:read vehicles:write telemetry:write commands:read commands:write"


def _quarter_hour_an_hour_ago() -> datetime:
    now = datetime.now(UTC)
    return now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0) - timedelta(
        hours=1
    )


# Fixed once per test session: a module that computes ``ts(0)`` at import and a test that
# calls ``ts(5)`` later must agree on the base even when a quarter-hour passes in between.
SESSION_BASE = _quarter_hour_an_hour_ago()


def ts(minutes: float = 0, *, base: datetime | None = None) -> datetime:
    """A time ``minutes`` after a fixed quarter-hour about an hour before the session began."""
    return (base or SESSION_BASE) + timedelta(minutes=minutes)


def reading(vehicle_id: str = "veh-1", at: datetime | None = None, **fields) -> dict:
    """One reading in wire form (portal names and units)."""
    return {
        "vehicle_id": vehicle_id,
        "ts": (at or ts()).isoformat(),
        "soc": 50.0,
        "power_kw": 7.2,
        "plugged_in": True,
        "charging_state": "charging",
        **fields,
    }


def readings_of(vehicle) -> list[TelemetryReading]:
    with scopes_disabled():
        return list(TelemetryReading.objects.filter(vehicle=vehicle).order_by("ts"))


def state_of(vehicle) -> VehicleState | None:
    with scopes_disabled():
        return VehicleState.objects.filter(vehicle=vehicle).first()


def rollups_of(vehicle) -> dict[datetime, TelemetryRollup]:
    with scopes_disabled():
        return {
            rollup.interval_start: rollup
            for rollup in TelemetryRollup.objects.filter(vehicle=vehicle).order_by("interval_start")
        }


_command_numbers = itertools.count(1)


def command(vehicle, **fields) -> DeviceCommand:
    """A command to ``vehicle`` straight into the queue (pending, running for the next hour)."""
    now = datetime.now(UTC)
    defaults = {
        "utility_id": vehicle.utility_id,
        "partner_id": vehicle.partner_id,
        "vehicle": vehicle,
        "kind": DeviceCommand.Kind.DISCHARGE,
        "setpoint_kw": -7.2,
        "starts_at": now + timedelta(minutes=10),
        "ends_at": now + timedelta(hours=1),
        "source_type": "dispatch.event",
        "source_id": "evt-1",
    }
    defaults.update(fields)
    defaults.setdefault("idempotency_key", f"cmd-{next(_command_numbers)}")
    with scopes_disabled():
        return DeviceCommand.objects.create(**defaults)
