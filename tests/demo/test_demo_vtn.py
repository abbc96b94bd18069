"""The demo's grid operator: its OpenADR VTN calls an emergency for each VEN that registers;
the seeded source maps its market context to peak relief; ``run_portal`` starts the VTN only
when a source points at it. End to end: the portal's VEN schedules the event and opts in."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from demo.grid_operator import (
    DEMO_MARKET_CONTEXT,
    demo_vtn_argv,
    ensure_demo_grid_source,
    run_demo_vtn,
)
from dispatch.grid.ven import VenRunner
from dispatch.models import Event, GridSignalRoute
from tests.dispatch.events_support import open_program
from tests.dispatch.grid_support import Loop
from tests.net import free_port
from tests.worker import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def loop():
    loop = Loop()
    yield loop
    loop.close()


def test_the_seeded_source_maps_the_demo_context_to_peak_relief_once(utility_a):
    with scope(utility=utility_a.pk):
        assert ensure_demo_grid_source(utility=utility_a) is None  # no peak relief program
    program = open_program(utility_a, slug="peak-relief-v2h", status="open")
    with scope(utility=utility_a.pk):
        first = ensure_demo_grid_source(utility=utility_a)
        again = ensure_demo_grid_source(utility=utility_a)
    assert first.pk == again.pk
    with scopes_disabled():
        (route,) = GridSignalRoute.objects.filter(source=first)
    assert (route.market_context, route.program_id, route.event_type) == (
        DEMO_MARKET_CONTEXT,
        program.pk,
        Event.Type.EMERGENCY,
    )
    argv = demo_vtn_argv(python="py", manage_py="manage.py")
    assert argv == ["py", "manage.py", "run_demo_vtn", "--port", "8090"]
    assert demo_vtn_argv(python="py", manage_py="manage.py", port=8091) is None


def test_the_demo_vtn_calls_an_emergency_that_the_portal_schedules(utility_a, loop):
    port = free_port()
    open_program(utility_a, slug="peak-relief-v2h", status="open", name="Peak relief")
    with scope(utility=utility_a.pk):
        ensure_demo_grid_source(utility=utility_a, port=port)
    vtn_stop, ven_stop = asyncio.Event(), asyncio.Event()
    vtn = asyncio.run_coroutine_threadsafe(
        run_demo_vtn(vtn_stop, port=port, lead_minutes=10, minutes=30, kw=60.0, poll_seconds=1),
        loop.loop,
    )
    ven = asyncio.run_coroutine_threadsafe(VenRunner(reload_seconds=1.0).run(ven_stop), loop.loop)
    try:

        def scheduled():
            with scopes_disabled():
                return Event.objects.filter(
                    utility=utility_a, source=Event.Source.GRID_PROTOCOL
                ).first()

        event = wait_for(scheduled, timeout=30, message="the demo VTN's event never arrived")
        assert event.event_type == Event.Type.EMERGENCY and event.target_kw == 60.0
        assert event.duration_minutes == 30
        assert timedelta(minutes=8) < event.starts_at - timezone.now() <= timedelta(minutes=10)
    finally:
        loop.loop.call_soon_threadsafe(ven_stop.set)
        ven.result(30)
        loop.loop.call_soon_threadsafe(vtn_stop.set)
        answers = vtn.result(30)
    assert [opt for _, _, opt in answers] == ["optIn"]
