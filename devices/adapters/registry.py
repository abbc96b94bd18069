"""Which adapter carries a partner agreement's commands: its ``AdapterConfig.kind`` decides."""

from __future__ import annotations

from devices.adapters.base import Adapter
from devices.adapters.pull import PullAdapter
from devices.adapters.webhook import WebhookAdapter
from devices.models import AdapterConfig
from portal.models import PartnerAgreement

ADAPTERS: dict[str, type[Adapter]] = {
    AdapterConfig.Kind.WEBHOOK: WebhookAdapter,
    AdapterConfig.Kind.PULL: PullAdapter,
}


def adapter_for(config: AdapterConfig) -> Adapter:
    try:
        adapter_class = ADAPTERS[config.kind]
    except KeyError:
        raise ValueError(f"No adapter for kind {config.kind!r}.") from None
    return adapter_class(config)


def adapter_for_agreement(agreement: PartnerAgreement) -> Adapter | None:
    """The agreement's adapter, or None when none is configured (call inside its scope)."""
    config = (
        AdapterConfig.objects.select_related("utility", "agreement__partner")
        .filter(agreement=agreement)
        .first()
    )
    return adapter_for(config) if config is not None else None
