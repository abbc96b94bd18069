"""The simulator's own API credentials, kept the way a partner keeps its secret: in a file
only it reads (``$PORTAL_VAR_DIR/simulator/<partner-slug>.json``, mode 0600).

The portal stores client secrets hashed, so a secret cannot be recovered from the database;
the file is the simulator's only copy. A stored client that no longer exists, no longer
matches its secret, or does not cover a utility asked for is replaced by a new one issued
through ``portal.partners.create_partner_client`` — the same service as the
``create_partner_client`` command.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from django.conf import settings
from django.contrib.auth.hashers import check_password
from oauth2_provider.models import get_application_model

from devices.simulator.portal_client import Credentials
from portal.models import AutomakerPartner, PartnerClient, Utility
from portal.partners import create_partner_client


def credentials_path(partner: AutomakerPartner) -> Path:
    return Path(settings.VAR_DIR) / "simulator" / f"{partner.slug}.json"


def _still_valid(stored: dict, utilities: Sequence[Utility]) -> bool:
    application = get_application_model().objects.filter(client_id=stored.get("client_id")).first()
    if application is None or not check_password(
        stored.get("client_secret", ""), application.client_secret
    ):
        return False
    client = PartnerClient.objects.filter(application=application).first()
    if client is None:
        return False
    covered = set(client.utilities.values_list("pk", flat=True))
    return {u.pk for u in utilities} <= covered


def ensure_credentials(*, partner: AutomakerPartner, utilities: Sequence[Utility]) -> Credentials:
    """Credentials of a client of ``partner`` that may act in ``utilities``."""
    path = credentials_path(partner)
    stored: dict = {}
    if path.exists():
        try:
            stored = json.loads(path.read_text())
        except ValueError:
            stored = {}
        if _still_valid(stored, utilities):
            return Credentials(stored["client_id"], stored["client_secret"])
    slugs = sorted({u.slug for u in utilities} | set(stored.get("utilities", [])))
    slugs = list(Utility.objects.filter(slug__in=slugs).values_list("slug", flat=True))
    issued = create_partner_client(partner_name=partner.name, utility_slugs=slugs)
    application = issued.partner_client.application
    application.name = f"{partner.name} fleet simulator"
    application.save(update_fields=["name"])
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(
            {
                "client_id": issued.client_id,
                "client_secret": issued.client_secret,
                "utilities": slugs,
            },
            handle,
        )
    return Credentials(issued.client_id, issued.client_secret)
