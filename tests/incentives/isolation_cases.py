"""Tenant-isolation cases for the incentive pages (merged into the suite in
tests/portal/test_tenant_isolation.py); API routes' isolation notes in INCENTIVE_API."""

from __future__ import annotations

from tests.incentives.support import incentive_cases
from tests.isolation import Case

INCENTIVE_CASES: dict[str, Case] = incentive_cases()
INCENTIVE_API: dict[str, str] = {}
