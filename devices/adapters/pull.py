"""The partner pull adapter: nothing is pushed; the partner fetches its pending commands from
``GET /api/v1/commands`` (``devices.services.commands.pull_commands`` hands them out, skipping
agreements with a webhook adapter) and acknowledges them with ``POST /api/v1/commands/ack``.
"""

from __future__ import annotations

from collections.abc import Sequence

from devices.adapters.base import (
    Adapter,
    CancelOutcome,
    CancelVerdict,
    Capabilities,
    OutgoingCommand,
    SendResult,
    Verdict,
)


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
