"""Fixtures and helpers for the device endpoints of the partner API. The test modules
(tests/devices/test_api_*.py, test_telemetry*.py) take the fixtures with ``import *`` and
the helpers by name.

Clients are issued by the real service and their tokens come from the real /o/token/, as in
tests/portal/test_api_utilities.py; the fixtures below reuse tests/portal/conftest.py's.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from django_scopes import scopes_disabled
from rest_framework.test import APIClient

from devices.models import DeviceCommand, TelemetryReading, TelemetryRollup, VehicleState
from tests.factories import AutomakerPartnerFactory, PartnerAgreementFactory, VehicleFactory
from tests.portal.conftest import (
    _assert_api_error,
    api_client,
    issue_client,
    oauth_post,
    obtain_token,
)

DEVICE_SCOPES = "vehicles:read vehicles:write telemetry:write commands:read commands:write"

__all__ = [
    "DEVICE_SCOPES",
    "api_client",
    "assert_api_error",
    "bearer",
    "command",
    "issue_client",
    "kestrel",
    "kestrel_api",
    "kestrel_partner",
    "oauth_post",
    "obtain_token",
    "other_partner_vehicle",
    "other_utility_vehicle",
    "reading",
    "readings_of",
    "rollups_of",
    "state_of",
    "ts",
    "vehicle",
]


@pytest.fixture
def assert_api_error():
    return _assert_api_error


@pytest.fixture
def kestrel(issue_client, utility_a):
    """Kestrel Auto's client, allowed in Alpha Power only."""
    return issue_client("Kestrel Auto", utility_a.slug)


@pytest.fixture
def kestrel_partner(kestrel):
    return kestrel.partner_client.partner


@pytest.fixture
def bearer(obtain_token):
    """``bearer(credentials, scope=DEVICE_SCOPES)``: an APIClient holding a fresh token."""

    def make(credentials, scope: str = DEVICE_SCOPES) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {obtain_token(credentials, scope)}")
        return client

    return make


@pytest.fixture
def kestrel_api(bearer, kestrel) -> APIClient:
    """Kestrel's client holding every device scope."""
    return bearer(kestrel)


@pytest.fixture
def vehicle(kestrel_partner, utility_a):
    """Kestrel's vehicle veh-1 in Alpha: 11.5 kW charge, 9.6 kW discharge."""
    return VehicleFactory(
        utility=utility_a,
        partner=kestrel_partner,
        partner_vehicle_id="veh-1",
        max_charge_kw=11.5,
        max_discharge_kw=9.6,
    )


@pytest.fixture
def other_partner_vehicle(utility_a):
    """Another partner's vehicle in Alpha, which Kestrel's client must never see."""
    partner = AutomakerPartnerFactory(name="Osprey Motors", slug="osprey-motors")
    PartnerAgreementFactory(utility=utility_a, partner=partner)
    return VehicleFactory(utility=utility_a, partner=partner, partner_vehicle_id="osp-1")


@pytest.fixture
def other_utility_vehicle(kestrel_partner, utility_b):
    """Kestrel's own vehicle in Bravo, where this client was not issued for (Kestrel has
    an agreement there, so only the client's reach hides it)."""
    PartnerAgreementFactory(utility=utility_b, partner=kestrel_partner)
    return VehicleFactory(utility=utility_b, partner=kestrel_partner, partner_vehicle_id="veh-b")


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
