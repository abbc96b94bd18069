"""Helpers for the grid signal tests: sources, routes, and OpenADR events shaped as OpenLEADR
hands them to a VEN's ``on_event`` handler."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta

from django_scopes import scopes_disabled

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
    level: float | None = None,
    test_event=False,
    start_after_minutes: int | None = None,
) -> dict:
    signals = []
    if target_kw is not None:
        signals.append(
            {
                "signal_name": "LOAD_DISPATCH",
                "signal_type": "setpoint",
                "signal_id": f"{event_id}-dispatch",
                "measurement": {"name": "realPower", "unit": unit, "scale": "none"},
                "intervals": [
                    {
                        "dtstart": starts_at,
                        "duration": timedelta(minutes=minutes),
                        "signal_payload": target_kw,
                    }
                ],
            }
        )
    if level is not None:
        signals.append(
            {
                "signal_name": "simple",
                "signal_type": "level",
                "signal_id": f"{event_id}-simple",
                "intervals": [
                    {
                        "dtstart": starts_at,
                        "duration": timedelta(minutes=minutes),
                        "signal_payload": level,
                    }
                ],
            }
        )
    active_period = {"dtstart": starts_at, "duration": timedelta(minutes=minutes)}
    if start_after_minutes is not None:
        active_period["tolerance"] = {"startafter": timedelta(minutes=start_after_minutes)}
    return {
        "event_descriptor": {
            "event_id": event_id,
            "modification_number": modification,
            "market_context": market_context,
            "event_status": status,
            "test_event": test_event,
            "priority": 0,
        },
        "active_period": active_period,
        "event_signals": signals,
        "targets": [{"ven_id": "ven-1"}],
    }


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
