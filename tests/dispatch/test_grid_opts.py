"""Opt schedules from the source page: a planned unavailability window, an opt-out of an event
the VEN opted in to, their cancellation — validated, stale pages refused, audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from dispatch.grid.oadr2b_events import handle_distribute
from dispatch.models import GridEvent, GridOpt
from portal.models import AuditEvent
from portal.roles import Role
from tests.dispatch.events_support import open_program
from tests.dispatch.grid_support import oadr_event, route, source
from tests.portal.factories import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client, utility_a):
    client.force_login(make_member(Role.DR_OPERATOR, utility=utility_a))
    return client


def _url(name, utility, *args):
    return reverse(f"utility:grid_{name}", args=[utility.slug, *args])


def _local(at) -> str:
    return timezone.localtime(at).strftime("%Y-%m-%dT%H:%M")


def test_a_planned_unavailability_window_is_queued_for_the_vtn(operator, utility_a):
    src = source(utility_a)
    starts = timezone.now() + timedelta(days=1)

    backwards = operator.post(
        _url("opt_create", utility_a, src.pk),
        {"starts_at": _local(starts), "ends_at": _local(starts - timedelta(hours=1))},
    )
    assert backwards.status_code == 200 and "must end after it starts" in backwards.content.decode()
    response = operator.post(
        _url("opt_create", utility_a, src.pk),
        {"starts_at": _local(starts), "ends_at": _local(starts + timedelta(hours=3)), "note": "x"},
    )

    assert response.status_code == 302
    with scopes_disabled():
        (opt,) = GridOpt.objects.all()
        assert AuditEvent.objects.filter(action="grid_opt.created").count() == 1
    assert (opt.kind, opt.state, opt.utility_id) == ("unavailable", "pending", utility_a.pk)
    # Cancelled before it was sent: nothing to tell the VTN.
    operator.post(_url("opt_cancel", utility_a, src.pk, opt.pk), {"state": "pending"})
    with scopes_disabled():
        opt.refresh_from_db()
    assert opt.state == GridOpt.State.CANCELLED


def test_an_opt_out_of_an_event_needs_the_page_to_be_current(operator, utility_a):
    src = source(utility_a)
    route(src, open_program(utility_a, name="Peak relief", status="open"))
    starts = (timezone.now() + timedelta(hours=3)).replace(second=0, microsecond=0)
    handle_distribute(src.pk, [oadr_event(event_id="iso-1", starts_at=starts)])
    handle_distribute(src.pk, [oadr_event(event_id="iso-1", starts_at=starts, modification=1,
                                          minutes=90)])  # fmt: skip
    with scopes_disabled():
        grid_event = GridEvent.objects.get(vtn_event_id="iso-1")

    stale = operator.post(
        _url("event_opt_out", utility_a, src.pk, grid_event.pk), {"modification_number": 0}
    )
    assert stale.status_code == 302
    with scopes_disabled():
        assert not GridOpt.objects.exists()
    operator.post(
        _url("event_opt_out", utility_a, src.pk, grid_event.pk),
        {"modification_number": 1, "note": "Customers opted out"},
    )
    with scopes_disabled():
        (opt,) = GridOpt.objects.all()
    assert (opt.kind, opt.vtn_event_id, opt.modification_number) == ("event_opt_out", "iso-1", 1)
