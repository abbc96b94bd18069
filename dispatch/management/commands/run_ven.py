"""``manage.py run_ven``: the OpenADR 2.0b VEN of every active grid signal source, until
stopped (Ctrl-C or SIGTERM)."""

from __future__ import annotations

import asyncio
import signal

from django.core.management.base import BaseCommand

from dispatch.grid.ven import VenRunner


class Command(BaseCommand):
    help = (
        "Poll each active grid signal source's OpenADR VTN and turn its events into events; "
        "sources added or changed in the portal are picked up within --reload seconds."
    )

    def add_arguments(self, parser):
        parser.add_argument("--reload", type=float, default=30.0, help="Seconds between checks.")

    def handle(self, *args, reload: float, **options):
        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await VenRunner(reload_seconds=reload).run(stop)

        self.stdout.write("OpenADR VEN running (Ctrl-C stops it).")
        asyncio.run(main())
