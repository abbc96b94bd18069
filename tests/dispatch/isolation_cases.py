"""Tenant-isolation cases for dispatch pages (merged into tests/portal/test_tenant_isolation.py)."""

from __future__ import annotations

import itertools

from django_scopes import scopes_disabled

from dispatch.services.grid_messages import record_message
from tests.dispatch.console_support import event_this_month
from tests.dispatch.events_support import make_event, open_program
from tests.dispatch.grid_support import route, source
from tests.dispatch.mv_support import first_vin, measured_event
from tests.dispatch.targeting_support import make_group
from tests.isolation import Case, pk_kwargs


def _program_name(event) -> str:
    return event.program.name


def _group_name(group) -> str:
    return group.name


def _source_name(src) -> str:
    return src.name


_serial = itertools.count(1)


def _make_route(utility):
    src = _make_source(utility)
    return route(src, open_program(utility, status="open"))


def _route_kwargs(r) -> dict:
    return {"pk": r.source_id, "route_pk": r.pk}


def _make_source(utility):
    return source(utility, name=f"{utility.name} VTN {next(_serial)}")


def _make_message(utility):
    src = _make_source(utility)
    return record_message(
        source=src,
        direction="in",
        message_type="oadrDistributeEvent",
        body=f"<oadrPayload>{utility.slug}-message-marker</oadrPayload>",
        summary=f"{utility.name} message",
    )


def _message_kwargs(message) -> dict:
    return {"pk": message.source_id, "message_pk": message.pk}


def _message_source_kwargs(message) -> dict:
    return {"pk": message.source_id}


def _message_marker(message) -> str:
    return message.summary


def _make_opt(utility):
    from datetime import timedelta

    from django.utils import timezone
    from django_scopes import scope

    from dispatch.services.grid_opts import plan_unavailability

    src = _make_source(utility)
    with scope(utility=utility.pk):
        starts = timezone.now() + timedelta(hours=1)
        return plan_unavailability(
            source=src, starts_at=starts, ends_at=starts + timedelta(hours=2), note="", actor=None
        )


def _opt_kwargs(opt) -> dict:
    return {"pk": opt.source_id, "opt_pk": opt.pk}


def _make_grid_event(utility):
    from datetime import timedelta

    from django.utils import timezone

    from dispatch.grid.oadr2b_events import handle_distribute
    from dispatch.models import GridEvent
    from tests.dispatch.grid_support import oadr_event

    src = _make_source(utility)
    route(src, open_program(utility, status="open"))
    starts = (timezone.now() + timedelta(hours=3)).replace(second=0, microsecond=0)
    handle_distribute(src.pk, [oadr_event(event_id=f"iso-{src.pk}", starts_at=starts)])
    with scopes_disabled():
        return GridEvent.objects.get(source=src)


def _grid_event_kwargs(grid_event) -> dict:
    return {"pk": grid_event.source_id, "event_pk": grid_event.pk}


DISPATCH_CASES: dict[str, Case] = {
    "utility:event_list": Case(make=make_event, marker=_program_name),
    "utility:event_create": Case(make=make_event, marker=_program_name),
    "utility:event_detail": Case(make=make_event, kwargs=pk_kwargs, marker=_program_name),
    "utility:event_cancel": Case(make=make_event, kwargs=pk_kwargs, method="post"),
    "utility:event_end_early": Case(make=make_event, kwargs=pk_kwargs, method="post"),
    "utility:event_end_early_confirm": Case(make=make_event, kwargs=pk_kwargs),
    "utility:event_extend": Case(make=make_event, kwargs=pk_kwargs, method="post"),
    "utility:event_live": Case(make=make_event, kwargs=pk_kwargs),
    "utility:event_report": Case(make=measured_event, kwargs=pk_kwargs, marker=_program_name),
    "utility:event_report_csv": Case(make=measured_event, kwargs=pk_kwargs, marker=first_vin),
    "utility:event_measure": Case(make=make_event, kwargs=pk_kwargs, method="post"),
    "utility:event_calendar": Case(make=event_this_month, marker=_program_name),
    "utility:dispatch_group_list": Case(make=make_group, marker=_group_name),
    "utility:dispatch_group_create": Case(),
    "utility:dispatch_group_detail": Case(make=make_group, kwargs=pk_kwargs, marker=_group_name),
    "utility:dispatch_group_edit": Case(make=make_group, kwargs=pk_kwargs, marker=_group_name),
    "utility:grid_source_list": Case(make=_make_source, marker=_source_name),
    "utility:grid_source_create": Case(),
    "utility:grid_source_detail": Case(make=_make_source, kwargs=pk_kwargs, marker=_source_name),
    "utility:grid_source_edit": Case(make=_make_source, kwargs=pk_kwargs, marker=_source_name),
    "utility:grid_route_add": Case(make=_make_source, kwargs=pk_kwargs, method="post"),
    "utility:grid_route_remove": Case(make=_make_route, kwargs=_route_kwargs),
    "utility:grid_source_register_again": Case(make=_make_source, kwargs=pk_kwargs, method="post"),
    "utility:grid_opt_create": Case(make=_make_source, kwargs=pk_kwargs, method="post"),
    "utility:grid_opt_cancel": Case(make=_make_opt, kwargs=_opt_kwargs, method="post"),
    "utility:grid_event_opt_out": Case(
        make=_make_grid_event, kwargs=_grid_event_kwargs, method="post"
    ),
    "utility:grid_message_list": Case(
        make=_make_message, kwargs=_message_source_kwargs, marker=_message_marker
    ),
    "utility:grid_message_csv": Case(
        make=_make_message, kwargs=_message_source_kwargs, marker=_message_marker
    ),
    "utility:grid_message_detail": Case(
        make=_make_message, kwargs=_message_kwargs, marker=_message_marker
    ),
}

# Routes outside any utility: the OpenADR 3 webhook names its source by an unguessable token
# and checks that source's own bearer token.
DISPATCH_NOT_TENANT_DATA: dict[str, str] = {
    "openadr3_callback": "OpenADR 3 VTN callbacks; another source's bearer token is 401 "
    "(test_openadr3_callbacks::test_bad_callbacks_get_a_clear_4xx_change_nothing_and_are_logged)",
}
