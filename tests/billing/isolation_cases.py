"""Tenant-isolation cases for the billing pages (merged into tests/portal/test_tenant_isolation.py).
Each billing area keeps its own block."""

from __future__ import annotations

from itertools import count

from tests.billing.factories import make_assignment, make_tariff
from tests.isolation import Case, pk_kwargs

# --- rates (tariffs and their assignments) ---------------------------------------------------
_tariff_serial = count(1)


def _tariff(utility):
    # A make may run several times for one utility in one test: each tariff is its own.
    return make_tariff(utility, name=f"{utility.name} Marker Tariff {next(_tariff_serial)}")


def _assignment(utility):
    return make_assignment(utility, tariff=_tariff(utility))


def _tariff_name(tariff) -> str:
    return tariff.name


def _assigned_tariff_name(assignment) -> str:
    return assignment.tariff.name


TARIFF_CASES: dict[str, Case] = {
    "utility:tariff_list": Case(make=_tariff, marker=_tariff_name),
    "utility:tariff_import": Case(),
    "utility:tariff_detail": Case(make=_tariff, kwargs=pk_kwargs, marker=_tariff_name),
    "utility:tariff_assign": Case(make=_tariff, kwargs=pk_kwargs, marker=_tariff_name),
    "utility:tariff_assignment_list": Case(make=_assignment, marker=_assigned_tariff_name),
    "utility:tariff_assignment_end": Case(
        make=_assignment, kwargs=pk_kwargs, marker=_assigned_tariff_name
    ),
}

BILLING_CASES: dict[str, Case] = {**TARIFF_CASES}
