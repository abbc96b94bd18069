"""A grid operator for the demo: an OpenADR 2.0b VTN (OpenLEADR's) on loopback that calls one
emergency event for each VEN that registers, so ``make run`` shows an event arriving over
OpenADR, being planned and dispatched like any other.

``ensure_demo_grid_source`` (from the demo seed) gives a utility a source pointing at it, with
the demo market context calling its peak relief program as an emergency. ``run_demo_vtn`` is
the VTN (``manage.py run_demo_vtn``, started by ``run_portal`` when a source points at it).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from django_scopes import scopes_disabled

from dispatch.models import Event, GridSignalRoute, GridSignalSource
from enrollment.models import Program

logger = logging.getLogger(__name__)

DEMO_VTN_PORT = 8090
DEMO_VTN_PATH = "/OpenADR2/Simple/2.0b"
DEMO_MARKET_CONTEXT = "oadr://demo-iso/peak-relief"
DEMO_SOURCE_NAME = "Demo ISO (OpenLEADR VTN)"
DEMO_PROGRAM_SLUG = "peak-relief-v2h"


def demo_vtn_url(port: int = DEMO_VTN_PORT) -> str:
    return f"http://127.0.0.1:{port}{DEMO_VTN_PATH}"


def ensure_demo_grid_source(*, utility, port: int = DEMO_VTN_PORT) -> GridSignalSource | None:
    """The utility's demo source and its one market context (call inside its scope); None
    when the utility has no peak relief program."""
    program = Program.objects.filter(slug=DEMO_PROGRAM_SLUG).first()
    if program is None:
        return None
    source, _ = GridSignalSource.objects.get_or_create(
        utility=utility,
        name=DEMO_SOURCE_NAME,
        defaults={"vtn_url": demo_vtn_url(port), "ven_name": f"{utility.slug}-portal"},
    )
    GridSignalRoute.objects.get_or_create(
        utility=utility,
        source=source,
        market_context=DEMO_MARKET_CONTEXT,
        defaults={"program": program, "event_type": Event.Type.EMERGENCY},
    )
    return source


def demo_vtn_argv(*, python: str, manage_py: str, port: int = DEMO_VTN_PORT) -> list[str] | None:
    """The command line of the demo VTN, or None when no active source points at it."""
    # A platform-level read: whether any utility listens to the demo VTN.
    with scopes_disabled():
        wanted = GridSignalSource.objects.filter(active=True, vtn_url=demo_vtn_url(port)).exists()
    if not wanted:
        return None
    return [python, manage_py, "run_demo_vtn", "--port", str(port)]


async def run_demo_vtn(
    stop: asyncio.Event,
    *,
    port: int = DEMO_VTN_PORT,
    lead_minutes: int = 10,
    minutes: int = 30,
    kw: float = 60.0,
    poll_seconds: int = 10,
) -> list[tuple[str, str, str]]:
    """Serve until ``stop``; each newly registered VEN gets an event starting ``lead_minutes``
    after its registration. Returns the answers heard: (ven id, event id, optIn / optOut)."""
    from openleadr import OpenADRServer  # the VTN side is only needed here

    answers: list[tuple[str, str, str]] = []
    called: set[str] = set()
    server = OpenADRServer(
        vtn_id="demo-iso",
        http_host="127.0.0.1",
        http_port=port,
        requested_poll_freq=timedelta(seconds=poll_seconds),
        show_fingerprint=False,
    )

    async def opted(ven_id, event_id, opt_type):
        answers.append((ven_id, event_id, opt_type))
        logger.info("Demo VTN: %s answered %s to event %s", ven_id, opt_type, event_id)

    async def register(registration_info):
        ven_id = f"ven-{registration_info['ven_name']}"
        if ven_id not in called:
            called.add(ven_id)
            starts = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(
                minutes=lead_minutes
            )
            server.add_event(
                ven_id=ven_id,
                signal_name="LOAD_DISPATCH",
                signal_type="setpoint",
                intervals=[
                    {
                        "dtstart": starts,
                        "duration": timedelta(minutes=minutes),
                        "signal_payload": kw,
                    }
                ],
                market_context=DEMO_MARKET_CONTEXT,
                callback=opted,
            )
            logger.info("Demo VTN: called %s kW at %s for %s", kw, starts, ven_id)
        return ven_id, f"reg-{ven_id}"

    server.add_handler("on_create_party_registration", register)
    await server.run_async()
    try:
        await stop.wait()
    finally:
        await server.stop()
    return answers
