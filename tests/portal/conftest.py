"""Kestrel Auto's client in Alpha Power, for the portal's API tests (the generic API
fixtures are in tests/conftest.py)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient


@pytest.fixture
def kestrel(issue_client, utility_a):
    """Kestrel Auto's client, allowed in Alpha Power only."""
    return issue_client("Kestrel Auto", utility_a.slug)


@pytest.fixture
def kestrel_api(api_client, obtain_token, kestrel) -> APIClient:
    """An API client holding a Kestrel token with the utilities:read scope."""
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {obtain_token(kestrel)}")
    return api_client
