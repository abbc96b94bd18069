"""The partner pull adapter: nothing is pushed; the partner fetches its pending commands from
``GET /api/v1/commands`` and acknowledges them with ``POST /api/v1/commands/ack``.

``pull_pending`` is the portal-side hook that endpoint calls: the same claim the webhook
delivery uses, so a command is handed out once, and handed out again only if the partner
did not acknowledge it within ``REDELIVER_AFTER`` (its earlier fetch was lost; the
command id lets the partner recognise the repeat).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from devices.adapters import queue
from devices.adapters.base import (
    Adapter,
    CancelOutcome,
    CancelVerdict,
    Capabilities,
    OutgoingCommand,
    SendResult,
    Verdict,
)
from devices.models import DeviceCommand

REDELIVER_AFTER = timedelta(minutes=10)


class PullAdapter(Adapter):
    kind = "pull"

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            pushes=False,
            cancels=False,
            reports_status=False,
            max_batch_size=self.config.max_batch_size,
        )

    def send(self, batch: Sequence[OutgoingCommand]) -> SendResult:
        """Nothing to do: the commands stay pending until the partner pulls them."""
        return SendResult.for_all(batch, Verdict.QUEUED, "Waiting for the partner to pull it.")

    def cancel(self, batch: Sequence[OutgoingCommand]) -> dict[str, CancelOutcome]:
        """A command the partner already pulled is out of reach: there is no channel to call
        it back (commands still pending are cancelled by ``delivery.cancel_commands`` before
        any adapter is asked)."""
        reason = "The partner already pulled it; only its acknowledgement can end it."
        return {
            c.command_id: CancelOutcome(c.command_id, CancelVerdict.NOT_CANCELLABLE, reason)
            for c in batch
        }


def pull_pending(*, partner_id: int, limit: int, now: datetime) -> list[DeviceCommand]:
    """Hand the partner up to ``limit`` of its commands (each becomes ``sent``), soonest
    window first, with ``vehicle`` loaded. Call inside the scope of the utility (or
    utilities) the partner asked about."""
    return queue.claim(partner_id=partner_id, limit=limit, now=now, redeliver_after=REDELIVER_AFTER)
