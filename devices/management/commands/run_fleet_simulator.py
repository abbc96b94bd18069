"""``manage.py run_fleet_simulator``: a simulated automaker cloud on 127.0.0.1.

It serves every active agreement of the named partners (all partners if none is named) in
the named utilities: webhook agreements receive signed batches at
``http://127.0.0.1:<port>/<partner-slug>/commands``, pull agreements are polled from the
portal's ``GET /api/v1/commands``. Acknowledgements, telemetry and opt-outs go back to the
portal's partner API with the simulator's own client credentials.
"""

from __future__ import annotations

import logging
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from devices.simulator.cloud import FleetCloud
from devices.simulator.credentials import ensure_credentials
from devices.simulator.loader import SimulatorSetupError, load_agreements
from devices.simulator.portal_client import Credentials, PortalClient
from devices.simulator.runtime import SimulatorRuntime
from devices.simulator.state import Behaviour


def _rate(value: str) -> float:
    rate = float(value)
    if not 0 <= rate <= 1:
        raise ValueError(value)
    return rate


def _positive(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = "Run the fleet simulator: a fake automaker cloud that receives the portal's commands."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8100)
        parser.add_argument(
            "--bind", default="127.0.0.1", help="Address to listen on (keep it loopback)."
        )
        parser.add_argument(
            "--utility", action="append", required=True, help="Utility slug (repeatable)."
        )
        parser.add_argument(
            "--partner", action="append", default=[], help="Partner name or slug (repeatable)."
        )
        parser.add_argument("--portal-url", default=None, help="Default: settings.SITE_URL.")
        parser.add_argument("--client-id", default=None)
        parser.add_argument("--client-secret", default=None)
        parser.add_argument(
            "--signing-secret",
            default=None,
            help="Verify webhook signatures with this secret (default: the AdapterConfig's).",
        )
        parser.add_argument("--reject-rate", type=_rate, default=0.05)
        parser.add_argument("--offline-rate", type=_rate, default=0.0)
        parser.add_argument("--offline-seconds", type=_positive, default=120.0)
        parser.add_argument("--opt-out-rate", type=_rate, default=0.02)
        parser.add_argument("--telemetry-interval", type=_positive, default=60.0)
        parser.add_argument(
            "--speed", type=_positive, default=1.0, help="Energy flows this many times faster."
        )
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--always-plugged-in",
            action="store_true",
            help="Vehicles never leave home (no daily plug-in schedule).",
        )

    def handle(self, *args, **options):
        logging.basicConfig(level=logging.INFO if options["verbosity"] > 1 else logging.WARNING)
        given = options["client_id"], options["client_secret"]
        if any(given) and not all(given):
            raise CommandError("Give both --client-id and --client-secret, or neither.")
        try:
            loaded = load_agreements(
                utility_slugs=options["utility"],
                partner_names=options["partner"],
                seed=options["seed"],
                now=timezone.now(),
                speed=options["speed"],
                signing_secret=options["signing_secret"],
                always_plugged_in=options["always_plugged_in"],
            )
        except SimulatorSetupError as error:
            raise CommandError(str(error)) from None
        partners = {item.partner.slug: item.partner for item in loaded}
        if all(given) and len(partners) != 1:
            raise CommandError(
                "--client-id/--client-secret serve one partner; name it with --partner."
            )
        if options["signing_secret"] and len(loaded) != 1:
            raise CommandError(
                "--signing-secret serves one agreement; name one utility and partner."
            )

        portal_url = options["portal_url"] or settings.SITE_URL
        clients = {}
        for slug, partner in partners.items():
            if all(given):
                credentials = Credentials(*given)
            else:
                utilities = [item.utility for item in loaded if item.partner.slug == slug]
                credentials = ensure_credentials(partner=partner, utilities=utilities)
            clients[slug] = PortalClient(base_url=portal_url, credentials=credentials)

        cloud = FleetCloud(
            [item.sim for item in loaded],
            behaviour=Behaviour(
                reject_rate=options["reject_rate"],
                offline_rate=options["offline_rate"],
                offline_seconds=options["offline_seconds"],
                opt_out_rate=options["opt_out_rate"],
                seed=options["seed"],
            ),
        )
        try:
            runtime = SimulatorRuntime(
                cloud,
                host=options["bind"],
                port=options["port"],
                portal=clients,
                telemetry_interval=options["telemetry_interval"],
            )
        except OSError as error:
            raise CommandError(
                f"Cannot listen on {options['bind']}:{options['port']}: {error}"
            ) from None

        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        with runtime:
            self.stdout.write(f"Fleet simulator on {runtime.url} reporting to {portal_url}")
            for item in loaded:
                how = (
                    "pulls from the portal"
                    if item.sim.pulls
                    else runtime.endpoint(item.partner.slug)
                )
                configured = item.config.endpoint_url if item.config else "no adapter configured"
                self.stdout.write(
                    f"  {item.utility.slug} × {item.partner.name}: "
                    f"{len(item.sim.fleet.vehicles)} vehicles; {how} (AdapterConfig: {configured})"
                )
            self.stdout.write(
                f"  faults: POST {runtime.url}/_admin/faults; state: GET {runtime.url}/_admin/state"
            )
            stop.wait()
            self.stdout.write("Stopping the fleet simulator…")
