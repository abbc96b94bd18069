"""Running a ``FleetCloud``: the HTTP server, a ticker that moves the fleet, a sender that
drains the outbox to the portal, and a poller for pull partners — each a daemon thread.

``SimulatorRuntime`` is what the management command runs in the foreground and what tests
and benchmarks start in the background (``with SimulatorRuntime(...) as sim: sim.url``).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Mapping

from devices.simulator.cloud import FleetCloud
from devices.simulator.portal_client import PortalClient, PortalRefused, PortalUnavailable
from devices.simulator.server import SimulatorHTTPServer

logger = logging.getLogger(__name__)

ACKS_PER_POST = 500
READINGS_PER_POST = 5000  # the API's limit
PULL_LIMIT = 500
MAX_SEND_BACKOFF_SECONDS = 30.0


class SimulatorRuntime:
    def __init__(
        self,
        cloud: FleetCloud,
        *,
        host: str = "127.0.0.1",
        port: int = 8100,
        portal: Mapping[str, PortalClient] | None = None,  # by partner slug
        telemetry_interval: float = 60.0,
        step_seconds: float = 5.0,
        poll_seconds: float = 5.0,
        send_seconds: float = 1.0,
    ):
        self.cloud = cloud
        self.portal = dict(portal or {})
        self.telemetry_interval = telemetry_interval
        self.step_seconds = min(step_seconds, telemetry_interval)
        self.poll_seconds = poll_seconds
        self.send_seconds = send_seconds
        self.server = SimulatorHTTPServer((host, port), cloud)
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def endpoint(self, partner_slug: str) -> str:
        """What ``AdapterConfig.endpoint_url`` should say for this partner."""
        return f"{self.url}/{partner_slug}"

    def start(self) -> SimulatorRuntime:
        loops = [
            ("http", lambda: self.server.serve_forever(poll_interval=0.2)),
            ("ticker", self._tick_loop),
        ]
        if self.portal:
            loops.append(("sender", self._send_loop))
            if any(a.pulls for a in self.cloud.agreements):
                loops.append(("poller", self._poll_loop))
        for name, target in loops:
            thread = threading.Thread(target=target, name=f"fleet-simulator-{name}", daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        for thread in self.threads:
            thread.join(timeout=5)
        if self.portal:
            self.flush()
            for client in self.portal.values():
                client.close()

    def __enter__(self) -> SimulatorRuntime:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # --- Loops --------------------------------------------------------------------------------

    def _tick_loop(self) -> None:
        since_telemetry = self.telemetry_interval  # report once right away
        while not self.stopping.is_set():
            report = since_telemetry >= self.telemetry_interval
            try:
                self.cloud.tick(post_telemetry=report)
            except Exception:
                logger.exception("Simulator tick failed")
            since_telemetry = 0.0 if report else since_telemetry + self.step_seconds
            self.stopping.wait(self.step_seconds)

    def _send_loop(self) -> None:
        delay = self.send_seconds
        while not self.stopping.wait(delay):
            delay = self.send_seconds if self.flush() else min(MAX_SEND_BACKOFF_SECONDS, delay * 2)

    def _poll_loop(self) -> None:
        while not self.stopping.wait(self.poll_seconds):
            for agreement in self.cloud.agreements:
                client = self.portal.get(agreement.partner)
                if not agreement.pulls or client is None:
                    continue
                try:
                    items = client.pull_commands(utility=agreement.utility, limit=PULL_LIMIT)
                except (PortalUnavailable, PortalRefused) as error:
                    logger.warning("Pulling commands for %s failed: %s", agreement.partner, error)
                    continue
                if items:
                    with self.cloud.lock:
                        self.cloud.receive(agreement, items)

    # --- Reporting to the portal -----------------------------------------------------------

    def flush(self) -> bool:
        """Post what the outbox holds; False if the portal could not be reached (what was
        not posted stays queued)."""
        outbox = self.cloud.outbox
        try:
            self._drain("acks", ACKS_PER_POST, lambda client, items: client.post_acks(items))
            self._drain("opt_outs", 1, lambda client, items: client.post_opt_out(items[0]))
            self._drain("readings", READINGS_PER_POST, self._post_readings)
        except PortalUnavailable as error:
            logger.warning("Portal unreachable; keeping %s queued: %s", outbox.sizes(), error)
            return False
        return True

    def _drain(self, queue_name: str, limit: int, post) -> None:
        outbox = self.cloud.outbox
        while taken := outbox.take(queue_name, limit=limit):
            by_partner: dict[str, list[dict]] = defaultdict(list)
            for partner, item in taken:
                by_partner[partner].append(item)
            posted: set[str] = set()
            for partner, items in by_partner.items():
                client = self.portal.get(partner)
                try:
                    if client is not None:
                        post(client, items)
                except PortalRefused as error:
                    # Refused data would be refused again: say so and move on.
                    logger.warning(
                        "Portal refused %d %s from %s: %s", len(items), queue_name, partner, error
                    )
                except PortalUnavailable:
                    outbox.put_back(queue_name, [(p, i) for p, i in taken if p not in posted])
                    raise
                posted.add(partner)

    def _post_readings(self, client: PortalClient, readings: list[dict]) -> None:
        answer = client.post_telemetry(readings)
        rejected = answer.get("rejected") if isinstance(answer, dict) else None
        if rejected:
            logger.warning(
                "Portal rejected %d of %d readings, e.g. %s",
                len(rejected),
                len(readings),
                rejected[:3],
            )
