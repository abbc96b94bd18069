"""The demo's simulated automaker clouds: what ``seed_demo`` calls so ``make run`` has a fleet
simulator receiving the demo utilities' commands."""

from __future__ import annotations

from django_scopes import scope

from devices.models import AdapterConfig
from devices.simulator.credentials import ensure_credentials
from devices.simulator.portal_client import Credentials
from portal import audit
from portal.models import AutomakerPartner, PartnerAgreement, Utility

DEMO_SIMULATOR_PORT = 8100


def simulator_endpoint(partner: AutomakerPartner, *, port: int = DEMO_SIMULATOR_PORT) -> str:
    return f"http://127.0.0.1:{port}/{partner.slug}"


def ensure_demo_simulator(
    utility: Utility, partner: AutomakerPartner, *, port: int = DEMO_SIMULATOR_PORT
) -> Credentials:
    """Point the partner's agreement with the utility at the simulator (a webhook adapter
    config, unless one exists: a config someone changed in the demo is theirs to keep) and
    return the simulator's API credentials for the partner. Safe to run again."""
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
    return ensure_credentials(partner=partner, utilities=[utility])
