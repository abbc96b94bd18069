"""Tenant-isolation cases for the billing pages (merged into the suite in
tests/portal/test_tenant_isolation.py). Each area keeps its own block."""

from __future__ import annotations

from itertools import count

from django_scopes import scopes_disabled

from billing.models import SettlementDispute, SettlementLine, SettlementRun
from tests.isolation import Case, pk_kwargs

# --- settle: program impact and settlement runs ----------------------------------------------

_serial = count(1)


def _run(utility) -> SettlementRun:
    """A computed run (draft) with one line, its customer named after the utility."""
    from tests.billing import settle_support as s

    program = s.program(utility, name=f"{utility.name} Marker Program {next(_serial)}")
    enrollment = s.enrolled(
        program, customer_name=f"{utility.name} Marker Customer {next(_serial)}"
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

BILLING_CASES: dict[str, Case] = {**SETTLE_CASES}
