"""Tenant-isolation cases for the enrollment pages (merged into the suite in
tests/portal/test_tenant_isolation.py): pages in PROGRAM_CASES, API routes' isolation notes
in PROGRAM_API."""

from __future__ import annotations

from tests.enrollment.programs_support import API_NOTES, isolation_cases
from tests.isolation import Case

PROGRAM_CASES: dict[str, Case] = isolation_cases()
PROGRAM_API: dict[str, str] = API_NOTES
