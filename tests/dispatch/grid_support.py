"""Helpers for the grid signal tests: sources, routes, and OpenADR events as the VEN reads them
(``dispatch.grid.oadr2b_xml.VtnEvent``)."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta

from django_scopes import scopes_disabled

from dispatch.grid.oadr2b_xml import Interval, Signal, Targets, VtnEvent
from dispatch.models import GridSignalRoute, GridSignalSource


def source(utility, *, name="ISO VTN", vtn_url="http://127.0.0.1:9/OpenADR2/Simple/2.0b", **kw):
    with scopes_disabled():
        return GridSignalSource.objects.create(
            utility=utility, name=name, vtn_url=vtn_url, ven_name=f"{utility.slug}-portal", **kw
        )


def route(src, program, *, market_context="oadr://iso/peak", **kw) -> GridSignalRoute:
    with scopes_disabled():
        return GridSignalRoute.objects.create(
            utility=src.utility, source=src, market_context=market_context, program=program, **kw
        )


def oadr_event(
    *,
    event_id="evt-1",
    modification=0,
    starts_at: datetime,
    minutes=60,
    market_context="oadr://iso/peak",
    status="far",
    target_kw: float | None = 120.0,
    unit="kW",
    scale="none",
    level: float | None = None,
    test_event=False,
    start_after_minutes: int | None = None,
    priority=0,
    targets: Targets | None = None,
) -> VtnEvent:
    """One modification of a VTN event, as the VEN reads it from an ``oadrDistributeEvent``."""
    span = timedelta(minutes=minutes)
    signals = []
    if target_kw is not None:
        interval = Interval(starts_at=starts_at, duration=span, value=target_kw)
        signals.append(Signal("LOAD_DISPATCH", "setpoint", (interval,), unit, scale))
    if level is not None:
        interval = Interval(starts_at=starts_at, duration=span, value=level)
        signals.append(Signal("SIMPLE", "level", (interval,)))
    return VtnEvent(
        event_id=event_id,
        modification_number=modification,
        market_context=market_context,
        status=status,
        starts_at=starts_at,
        duration=span,
        test_event=test_event,
        priority=priority,
        start_after=timedelta(minutes=start_after_minutes or 0),
        signals=tuple(signals),
        targets=targets or Targets(ven_ids=("ven-1",)),
    )


class Loop:
    """An asyncio loop in a thread, for the VTN and the VEN."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout=30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
