"""Tenant-isolation cases for the enrollment and incentive pages (merged into the suite in
tests/portal/test_tenant_isolation.py). Programs/enrollment pages go in PROGRAM_CASES,
incentive pages in INCENTIVE_CASES; API routes' isolation notes in the *_API dicts."""

from __future__ import annotations

from tests.enrollment.incentives_support import incentive_cases
from tests.enrollment.programs_support import API_NOTES, isolation_cases
from tests.isolation import Case

PROGRAM_CASES: dict[str, Case] = isolation_cases()
INCENTIVE_CASES: dict[str, Case] = incentive_cases()
PROGRAM_API: dict[str, str] = API_NOTES
INCENTIVE_API: dict[str, str] = {}
