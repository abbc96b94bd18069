"""Tenant-isolation cases for the enrollment and incentive pages (merged into the suite in
tests/portal/test_tenant_isolation.py). Programs/enrollment pages go in PROGRAM_CASES,
incentive pages in INCENTIVE_CASES; API routes' isolation notes in the *_API dicts."""

from __future__ import annotations

from tests.isolation import Case

PROGRAM_CASES: dict[str, Case] = {}
INCENTIVE_CASES: dict[str, Case] = {}
PROGRAM_API: dict[str, str] = {}
INCENTIVE_API: dict[str, str] = {}
