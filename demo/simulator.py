"""The demo's simulated automaker clouds: ``seed_demo`` points the demo agreements at the
simulator (``ensure_demo_simulator``) and ``run_portal`` starts it with the argv from
``demo_simulator_argv``, so ``make run`` has a fleet receiving the demo utilities' commands."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from django_scopes import scope, scopes_disabled

from devices.models import AdapterConfig
from devices.simulator.credentials import ensure_credentials
from devices.simulator.portal_client import Credentials
from portal import audit
from portal.models import AutomakerPartner, PartnerAgreement, Utility

DEMO_SIMULATOR_PORT = 8100


DEMO_OPT_OUT_RATE = 0.1


def simulator_endpoint(partner: AutomakerPartner, *, port: int = DEMO_SIMULATOR_PORT) -> str:
    return f"http://127.0.0.1:{port}/{partner.slug}"


def ensure_demo_simulator(
    *, partner: AutomakerPartner, utilities: Sequence[Utility], port: int = DEMO_SIMULATOR_PORT
) -> Credentials:
    """Point the partner's agreement with each utility at the simulator (a webhook adapter
    config, unless one exists: a config someone changed in the demo is theirs to keep) and
    return the simulator's API credentials for the partner, one client for all of them.
    Safe to run again."""
    for utility in utilities:
        with scope(utility=utility.pk):
            agreement = PartnerAgreement.objects.get(utility=utility, partner=partner)
            config, created = AdapterConfig.objects.get_or_create(
                agreement=agreement,
                defaults={
                    "utility": utility,
                    "kind": AdapterConfig.Kind.WEBHOOK,
                    "endpoint_url": simulator_endpoint(partner, port=port),
                },
            )
            if created:
                audit.record(
                    action="adapter_config.created",
                    utility=utility,
                    obj=config,
                    changes={"kind": config.kind, "endpoint_url": config.endpoint_url},
                )
    return ensure_credentials(partner=partner, utilities=utilities)


def demo_simulator_argv(
    *, python: str, manage_py: str, portal_url: str, port: int = DEMO_SIMULATOR_PORT
) -> list[str] | None:
    """The command line that runs the simulator for every active webhook agreement pointed
    at ``127.0.0.1:<port>``, or None when there is none (no demo seeded)."""
    # A platform-level read: which utilities and partners the simulator serves, nothing more.
    with scopes_disabled():
        configs = AdapterConfig.objects.filter(
            kind=AdapterConfig.Kind.WEBHOOK, agreement__status=PartnerAgreement.Status.ACTIVE
        ).values_list("endpoint_url", "utility__slug", "agreement__partner__slug")
        served = [
            (utility, partner)
            for url, utility, partner in configs
            if (urlsplit(url).hostname, urlsplit(url).port) == ("127.0.0.1", port)
        ]
    if not served:
        return None
    argv = [python, manage_py, "run_fleet_simulator", "--port", str(port)]
    for utility in sorted({utility for utility, _ in served}):
        argv += ["--utility", utility]
    for partner in sorted({partner for _, partner in served}):
        argv += ["--partner", partner]
    # One customer in ten opts out of an event in the demo, so the console shows the plan
    # bringing in reserves.
    return [*argv, "--opt-out-rate", str(DEMO_OPT_OUT_RATE), "--portal-url", portal_url]
