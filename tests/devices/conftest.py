"""Fixtures for the device endpoints of the partner API (the generic API fixtures are in
tests/conftest.py; helpers such as ``reading`` and ``ts`` in tests/devices/partner_api.py)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.devices.factories import VehicleFactory
from tests.devices.partner_api import DEVICE_SCOPES
from tests.portal.factories import AutomakerPartnerFactory, PartnerAgreementFactory


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
