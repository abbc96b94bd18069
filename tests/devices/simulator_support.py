"""Starting a simulator in the background, for tests and benchmarks: on a free loopback port,
from the database as it is now, optionally reporting to a portal."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from django.utils import timezone

from devices.simulator.cloud import FleetCloud
from devices.simulator.loader import load_agreements
from devices.simulator.portal_client import Credentials, PortalClient
from devices.simulator.runtime import SimulatorRuntime
from devices.simulator.state import Behaviour


@contextmanager
def running_simulator(
    *,
    utility_slugs: Sequence[str],
    partner_names: Sequence[str] = (),
    behaviour: Behaviour | None = None,
    portal_url: str | None = None,
    credentials: Mapping[str, Credentials] | None = None,  # by partner slug
    telemetry_interval: float = 60.0,
    step_seconds: float = 1.0,
    poll_seconds: float = 1.0,
    send_seconds: float = 0.2,
    always_plugged_in: bool = True,
) -> Iterator[SimulatorRuntime]:
    loaded = load_agreements(
        utility_slugs=utility_slugs,
        partner_names=partner_names,
        now=timezone.now(),
        always_plugged_in=always_plugged_in,
    )
    clients = {}
    if portal_url is not None:
        clients = {
            slug: PortalClient(base_url=portal_url, credentials=creds)
            for slug, creds in (credentials or {}).items()
        }
    cloud = FleetCloud([item.sim for item in loaded], behaviour=behaviour or Behaviour())
    runtime = SimulatorRuntime(
        cloud,
        port=0,
        portal=clients,
        telemetry_interval=telemetry_interval,
        step_seconds=step_seconds,
        poll_seconds=poll_seconds,
        send_seconds=send_seconds,
    )
    with runtime:
        yield runtime
