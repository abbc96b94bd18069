"""Tenant-isolation cases for the billing pages (merged into tests/portal/test_tenant_isolation.py).
Each billing area keeps its own block."""

from __future__ import annotations

from itertools import count

from django_scopes import scopes_disabled

from billing.models import SettlementDispute, SettlementLine, SettlementRun
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

# --- settle: program impact and settlement runs ----------------------------------------------

_run_serial = count(1)


def _run(utility) -> SettlementRun:
    """A computed run (draft) with one line, its customer named after the utility."""
    from tests.billing import settle_support as s

    program = s.program(utility, name=f"{utility.name} Marker Program {next(_run_serial)}")
    enrollment = s.enrolled(
        program, customer_name=f"{utility.name} Marker Customer {next(_run_serial)}"
    )
    run = s.settle(program)
    with scopes_disabled():
        run.line = SettlementLine.objects.get(run=run, enrollment=enrollment)
    return run


def _exported_run(utility) -> SettlementRun:
    run = _run(utility)
    with scopes_disabled():
        SettlementRun.objects.filter(pk=run.pk).update(status=SettlementRun.Status.EXPORTED)
    return run


def _line(utility) -> SettlementLine:
    return _run(utility).line


def _dispute(utility) -> SettlementDispute:
    line = _line(utility)
    with scopes_disabled():
        return SettlementDispute.objects.create(
            utility=utility, line=line, note=f"{line.customer_name} disputes the credit"
        )


def _customer(run) -> str:
    return run.line.customer_name


SETTLE_CASES: dict[str, Case] = {
    "utility:billing_dashboard": Case(make=_run),
    "utility:billing_statement": Case(
        make=_line, kwargs=pk_kwargs, marker=lambda line: line.customer_name
    ),
    "utility:settlement_list": Case(make=_run, marker=lambda r: r.program.name),
    "utility:settlement_start": Case(),
    "utility:settlement_detail": Case(make=_run, kwargs=pk_kwargs, marker=_customer),
    "utility:settlement_review": Case(make=_run, kwargs=pk_kwargs, marker=lambda r: r.program.name),
    "utility:settlement_approve": Case(
        make=_run, kwargs=pk_kwargs, marker=lambda r: r.program.name
    ),
    "utility:settlement_export": Case(make=_run, kwargs=pk_kwargs, marker=lambda r: r.program.name),
    "utility:settlement_rerun": Case(make=_run, kwargs=pk_kwargs, marker=lambda r: r.program.name),
    "utility:settlement_resume": Case(make=_run, kwargs=pk_kwargs, marker=lambda r: r.program.name),
    "utility:settlement_download": Case(
        make=_exported_run, kwargs=lambda r: {"pk": r.pk, "kind": "bill-credits"}
    ),
    "utility:settlement_dispute_open": Case(
        make=_line, kwargs=pk_kwargs, marker=lambda line: line.customer_name
    ),
    "utility:settlement_dispute_resolve": Case(
        make=_dispute, kwargs=pk_kwargs, marker=lambda d: d.note
    ),
}

BILLING_CASES: dict[str, Case] = {**TARIFF_CASES, **SETTLE_CASES}
