"""Tenant-isolation cases for dispatch pages (merged into tests/portal/test_tenant_isolation.py)."""

from __future__ import annotations

from tests.dispatch.events_support import make_event
from tests.isolation import Case, pk_kwargs


def _program_name(event) -> str:
    return event.program.name


DISPATCH_CASES: dict[str, Case] = {
    "utility:event_list": Case(make=make_event, marker=_program_name),
    "utility:event_create": Case(make=make_event, marker=_program_name),
    "utility:event_detail": Case(make=make_event, kwargs=pk_kwargs, marker=_program_name),
    "utility:event_cancel": Case(make=make_event, kwargs=pk_kwargs, method="post"),
    "utility:event_end_early": Case(make=make_event, kwargs=pk_kwargs, method="post"),
    "utility:event_extend": Case(make=make_event, kwargs=pk_kwargs, method="post"),
}
