"""Fixtures of the partner API's enrollment tests: Kestrel Auto's client in Alpha with a real
token, and the Summer V2H program with its terms."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.enrollment.factories import ProgramFactory, TermsVersionFactory
from tests.enrollment.programs_support import eligible_vehicle

SCOPES = "enrollments:read enrollments:write vehicles:write utilities:read"


@pytest.fixture
def kestrel(issue_client, utility_a):
    return issue_client("Kestrel Auto", utility_a.slug)


@pytest.fixture
def partner(kestrel):
    return kestrel.partner_client.partner


@pytest.fixture
def bearer(obtain_token):
    def make(credentials, scope_names: str = SCOPES) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {obtain_token(credentials, scope_names)}")
        return client

    return make


@pytest.fixture
def api(bearer, kestrel) -> APIClient:
    return bearer(kestrel)


@pytest.fixture
def program(utility_a):
    program = ProgramFactory(utility=utility_a, name="Summer V2H", slug="summer-v2h")
    TermsVersionFactory(program=program, version="2026.1", consent_valid_days=365)
    return program


@pytest.fixture
def vehicle(utility_a, partner):
    return eligible_vehicle(utility_a, partner=partner)
