"""Delivering a partner agreement's commands through its adapter, and cancelling them.

``deliver_pending`` drains the agreement's queue in chunks of at most ``max_batch_size``,
one call per chunk, and says when (and whether) to run again: the task layer only schedules.
It orders the queue once for up to ``CHUNKS_PER_RUN`` chunks and claims each chunk from that
list, so several runs can drain one queue side by side (each claim skips what another holds).
Retries are for calls that got no usable answer (timeouts, connection errors, 5xx, 408 / 425
/ 429, invalid answers), after an exponentially growing, jittered delay, or later if the
partner's ``Retry-After`` says so; any other 4xx fails the chunk's commands at once. A command that reaches ``AdapterConfig.max_attempts`` fails. Call inside the
utility's scope.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.utils import timezone

from devices.adapters import conf, queue
from devices.adapters.base import (
    Adapter,
    CancelVerdict,
    EndpointNotAllowed,
    OutgoingCommand,
    Verdict,
)
from devices.adapters.registry import adapter_for
from devices.models import AdapterConfig, DeviceCommand
from portal.models import PartnerAgreement

logger = logging.getLogger(__name__)

Status = DeviceCommand.Status
CHUNKS_PER_RUN = 20  # then the task re-queues itself, so one agreement cannot hog a worker


def backoff_seconds(retry: int, *, rng: random.Random | None = None) -> float:
    """The delay before retry ``retry`` (1, 2, …): base × 2^(retry−1), capped, then "equal
    jitter" (between half and all of it), so workers that failed together spread out."""
    ceiling = min(conf.retry_max_seconds(), conf.retry_base_seconds() * 2 ** max(0, retry - 1))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


@dataclass
class DeliveryReport:
    tally: queue.Tally = field(default_factory=queue.Tally)
    calls: int = 0
    expired: int = 0
    run_again_in: float | None = None  # seconds; None: nothing left to do
    backed_off: bool = False  # the next run is a retry after a failure (next backoff step)
    error: str = ""

    def as_dict(self) -> dict:
        return {
            **self.tally.__dict__,
            "calls": self.calls,
            "expired": self.expired,
            "run_again_in": self.run_again_in,
            "error": self.error,
        }


def _push_config(agreement_id: int) -> AdapterConfig | None:
    """The agreement's config, if its commands are pushed and it is active."""
    config = (
        AdapterConfig.objects.select_related("utility", "agreement__partner")
        .filter(agreement_id=agreement_id, agreement__status=PartnerAgreement.Status.ACTIVE)
        .first()
    )
    if config is None or not adapter_for(config).capabilities.pushes:
        return None
    return config


def deliver_pending(*, agreement_id: int, retry: int = 0) -> DeliveryReport:
    """Send the agreement's deliverable commands. ``retry`` counts the failed runs before
    this one, for the backoff."""
    report = DeliveryReport()
    config = _push_config(agreement_id)
    if config is None:
        return report
    adapter = adapter_for(config)
    partner_id = config.agreement.partner_id
    # A command still ``sent`` this long after its call started has no recorded answer (the
    # worker died mid-call): it is delivered again.
    lease = conf.in_flight_lease()
    report.expired = queue.expire_overdue(config=config, now=timezone.now(), redeliver_after=lease)

    calls_left = CHUNKS_PER_RUN
    while calls_left:
        # The next commands in order, enough for the calls this run may still make; each
        # chunk claims its share of them (a concurrent run may have taken some already).
        ahead = queue.deliverable_ids(
            partner_id=partner_id,
            limit=config.max_batch_size * calls_left,
            now=timezone.now(),
            redeliver_after=lease,
        )
        claimed_any = False
        for start in range(0, len(ahead), config.max_batch_size):
            claimed = queue.claim(
                partner_id=partner_id,
                limit=config.max_batch_size,
                now=timezone.now(),
                redeliver_after=lease,
                among=ahead[start : start + config.max_batch_size],
            )
            if not claimed:
                continue
            claimed_any = True
            calls_left -= 1
            if not _send_chunk(adapter, claimed, config=config, report=report, retry=retry):
                return report
        if not claimed_any:
            # Nothing left, or all of it held by concurrent runs, which deliver it.
            return report
    report.run_again_in = 0.0  # chunk budget spent; more may be waiting
    return report


def _send_chunk(
    adapter: Adapter,
    batch: list[OutgoingCommand],
    *,
    config: AdapterConfig,
    report: DeliveryReport,
    retry: int,
) -> bool:
    """Send one claimed chunk and record its verdicts; False when the run should stop
    here (``report`` then says whether and when to run again)."""
    try:
        result = adapter.send(batch)
    except EndpointNotAllowed as error:
        # A configuration problem: keep the commands for when someone fixes it.
        queue.release([c.pk for c in batch], now=timezone.now(), reason=str(error))
        logger.error("Agreement %s: %s", config.agreement_id, error)
        report.error = str(error)
        return False
    except BaseException:
        queue.release([c.pk for c in batch], now=timezone.now(), reason="Not sent: error.")
        raise
    tally = queue.record_send_result(batch, result, config=config, now=timezone.now())
    report.tally.add(tally)
    if result.circuit_open:
        # Come back when the cool-down ends; during another worker's trial, not at all:
        # the trial's own run carries on (or the sweep does, should that worker die).
        if result.retry_at is not None:
            wait = (result.retry_at - timezone.now()).total_seconds()
            report.run_again_in = max(0.0, wait)
        return False
    report.calls += 1
    if result.ids(Verdict.RETRY):
        report.error = result.error
        if tally.retrying:  # some are back in the queue: try again after a pause
            wait = backoff_seconds(retry + 1)
            if result.retry_at is not None:  # and not before the partner asked (Retry-After)
                wait = max(wait, (result.retry_at - timezone.now()).total_seconds())
            report.run_again_in = wait
            report.backed_off = True
        return False
    return True


@dataclass
class CancelReport:
    cancelled: int = 0
    not_cancellable: list[str] = field(default_factory=list)  # command ids
    retry_pks: list[int] = field(default_factory=list)


def cancel_commands(*, agreement_id: int, command_pks: Sequence[int]) -> CancelReport:
    """Cancel commands of this agreement's partner. Still pending: cancelled here, the
    partner never hears of them. Accepted by a webhook partner: the partner is asked first.
    Sent and unanswered (in flight): asked again later, since cancelling now could race the
    answer. Already finished: left alone."""
    report = CancelReport()
    agreement = PartnerAgreement.objects.select_related("utility").filter(pk=agreement_id).first()
    if agreement is None:
        return report
    commands = DeviceCommand.objects.filter(pk__in=command_pks, partner_id=agreement.partner_id)
    pending = list(commands.filter(status=Status.PENDING).values_list("pk", flat=True))
    report.cancelled += _cancel(agreement, pending, Status.PENDING, "Cancelled before delivery.")
    report.retry_pks = list(commands.filter(status=Status.SENT).values_list("pk", flat=True))
    held = list(commands.filter(status=Status.ACCEPTED).select_related("vehicle"))
    config = AdapterConfig.objects.select_related("utility").filter(agreement=agreement).first()
    if held and config is None:
        report.not_cancellable += [c.idempotency_key for c in held]
    if not held or config is None:
        return report
    adapter = adapter_for(config)
    size = adapter.capabilities.max_batch_size
    for start in range(0, len(held), size):
        batch = [OutgoingCommand.from_model(c) for c in held[start : start + size]]
        pk_of = {c.command_id: c.pk for c in batch}
        try:
            outcomes = adapter.cancel(batch)
        except EndpointNotAllowed:
            report.retry_pks += list(pk_of.values())
            continue
        done = [
            pk_of[o.command_id]
            for o in outcomes.values()
            if o.verdict in (CancelVerdict.CANCELLED, CancelVerdict.UNKNOWN)
        ]
        report.cancelled += _cancel(agreement, done, Status.ACCEPTED, "Cancelled.")
        for outcome in outcomes.values():
            if outcome.verdict == CancelVerdict.RETRY:
                report.retry_pks.append(pk_of[outcome.command_id])
            elif outcome.verdict == CancelVerdict.NOT_CANCELLABLE:
                report.not_cancellable.append(outcome.command_id)
    return report


def _cancel(agreement: PartnerAgreement, pks: list[int], from_state: str, reason: str) -> int:
    cancelled = DeviceCommand.objects.filter(pk__in=pks, status=from_state).update(
        status=Status.CANCELLED, status_reason=reason, updated_at=timezone.now()
    )
    if cancelled:
        queue.record_transitions(
            agreement,
            action="command.cancelled",
            comment=f"{cancelled} command(s) cancelled",
            pks=pks,
            from_state=from_state,
            to_states={Status.CANCELLED},
        )
    return cancelled
