"""``manage.py run_ven3``: the OpenADR 3 VEN of every active OpenADR 3 grid signal source,
until stopped (Ctrl-C or SIGTERM). A process of its own beside ``run_ven`` (OpenADR 2.0b):
``run_portal`` starts both."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand

from dispatch.grid.openadr3.runner import Ven3Runner


class Command(BaseCommand):
    help = (
        "Poll each active OpenADR 3 source's VTN (every OPENADR3_POLL_SECONDS, backing off from "
        "a failing one), keep its subscriptions, turn its events into events and post reports."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--poll", type=float, default=None, help="Seconds between polls (default: setting)."
        )

    def handle(self, *args, poll: float | None, **options):
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        self.stdout.write("OpenADR 3 VEN running (Ctrl-C stops it).")
        Ven3Runner(poll_seconds=poll).run(stop)
