"""``manage.py run_demo_vtn``: the demo grid operator's OpenADR VTN, until stopped."""

from __future__ import annotations

import asyncio
import signal

from django.core.management.base import BaseCommand

from demo.grid_operator import DEMO_VTN_PORT, run_demo_vtn


class Command(BaseCommand):
    help = (
        "Run an OpenADR 2.0b VTN on 127.0.0.1 that calls one emergency event for each VEN "
        "that registers (the demo's grid operator)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=DEMO_VTN_PORT)
        parser.add_argument("--lead", type=int, default=10, help="Minutes until the event.")
        parser.add_argument("--minutes", type=int, default=30, help="The event's length.")
        parser.add_argument("--kw", type=float, default=60.0, help="The kW asked for.")

    def handle(self, *args, port: int, lead: int, minutes: int, kw: float, **options):
        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await run_demo_vtn(stop, port=port, lead_minutes=lead, minutes=minutes, kw=kw)

        self.stdout.write(f"Demo OpenADR VTN on 127.0.0.1:{port} (Ctrl-C stops it).")
        asyncio.run(main())
