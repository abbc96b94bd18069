"""Celery tasks of the devices app: sending commands through partner adapters. (Telemetry
needs none: ``devices.telemetry.ingest`` keeps the latest states and rollups current in the
request that stores readings, and retention is the ``purge_telemetry`` command.)

Tenant tasks take ids (``utility_id`` first, which ``TenantTask`` turns into the scope) and
are idempotent: a redelivered message claims whatever is still deliverable, and the command
id sent is the command's idempotency key. Scheduling the next run (a retry after backoff, the
end of a circuit's cool-down, the rest of a long queue) is the only thing they decide.

A long queue is delivered by several runs at once (``deliveries_for``): each claims its own
chunks (``SKIP LOCKED``), so every worker helps with a large event. They fold back into one
when the partner fails: once its circuit opens, only the run holding the half-open trial
carries on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from django.db.models import Count, Q
from django.utils import timezone
from django_scopes import scopes_disabled

from devices.adapters import conf, delivery, queue
from devices.models import AdapterConfig, DeviceCommand
from portal.celery import app
from portal.models import PartnerAgreement
from portal.tasking import PlatformTask, TenantTask, enqueue_on_commit

__all__ = [
    "cancel_commands",
    "enqueue_delivery",
    "send_pending_commands",
    "sweep_pending_commands",
]

logger = logging.getLogger(__name__)

Status = DeviceCommand.Status


@app.task(bind=True, base=TenantTask, name="devices.send_pending_commands")
def send_pending_commands(self, *, utility_id: int, agreement_id: int, retry: int = 0) -> dict:
    """Push the agreement's pending commands to its partner (webhook agreements only)."""
    report = delivery.deliver_pending(agreement_id=agreement_id, retry=retry)
    if report.run_again_in is not None:
        send_pending_commands.apply_async(
            kwargs={
                "utility_id": utility_id,
                "agreement_id": agreement_id,
                "retry": retry + 1 if report.backed_off else 0,
            },
            countdown=report.run_again_in,
        )
    return report.as_dict()


@app.task(bind=True, base=TenantTask, name="devices.cancel_commands")
def cancel_commands(
    self, *, utility_id: int, agreement_id: int, command_ids: list[int], retry: int = 0
) -> dict:
    """Cancel commands (DeviceCommand ids); those without a definitive answer are asked
    about again with backoff, up to the agreement's ``max_attempts``."""
    report = delivery.cancel_commands(agreement_id=agreement_id, command_pks=command_ids)
    if report.retry_pks:
        max_attempts = (
            AdapterConfig.objects.filter(agreement_id=agreement_id)
            .values_list("max_attempts", flat=True)
            .first()
        )
        if retry + 1 < (max_attempts or 1):
            cancel_commands.apply_async(
                kwargs={
                    "utility_id": utility_id,
                    "agreement_id": agreement_id,
                    "command_ids": report.retry_pks,
                    "retry": retry + 1,
                },
                countdown=delivery.backoff_seconds(retry + 1),
            )
        else:
            logger.warning(
                "Agreement %s: gave up cancelling commands %s", agreement_id, report.retry_pks
            )
    return {"cancelled": report.cancelled, "not_cancellable": report.not_cancellable}


@app.task(bind=True, base=PlatformTask, name="devices.sweep_pending_commands")
def sweep_pending_commands(self) -> int:
    """Start a delivery for every webhook agreement with unanswered commands: a safety net
    for deliveries whose message was lost (and the expiry of what can no longer be sent),
    run by beat every minute or so."""
    now = timezone.now()
    # A platform fan-out: it reads ids across utilities, explicitly, and acts in none.
    with scopes_disabled():
        waiting = _waiting(
            DeviceCommand.objects.filter(
                queue.unanswered(redeliver_before=now - conf.in_flight_lease())
            )
        )
        # An open circuit still cooling down (or a half-open one whose trial is recent) has
        # its next run scheduled already; starting another would only pile up runs.
        cooled = now - timedelta(seconds=conf.circuit_cool_down_seconds())
        agreements = list(
            AdapterConfig.objects.filter(
                Q(circuit_state=AdapterConfig.Circuit.CLOSED) | Q(circuit_opened_at__lte=cooled),
                kind=AdapterConfig.Kind.WEBHOOK,
                agreement__status=PartnerAgreement.Status.ACTIVE,
            ).values_list("utility_id", "agreement_id", "agreement__partner_id", "max_batch_size")
        )
    started = 0
    for utility_id, agreement_id, partner_id, batch_size in agreements:
        for _ in range(deliveries_for(waiting.get((utility_id, partner_id), 0), batch_size)):
            send_pending_commands.delay(utility_id=utility_id, agreement_id=agreement_id)
            started += 1
    return started


def _waiting(commands) -> dict[tuple[int, int], int]:
    """How many of ``commands`` wait, per (utility, partner)."""
    rows = (
        commands.order_by()
        .values_list("utility_id", "partner_id")
        .annotate(waiting=Count("pk"))
        .values_list("utility_id", "partner_id", "waiting")
    )
    return {(utility_id, partner_id): n for utility_id, partner_id, n in rows}


def deliveries_for(waiting: int, batch_size: int) -> int:
    """How many deliveries to start for ``waiting`` commands: one per two chunks, at most
    ``ADAPTER_DELIVERY_PARALLELISM`` (none when nothing waits)."""
    if waiting <= 0:
        return 0
    chunks = -(-waiting // max(1, batch_size))
    return max(1, min(conf.delivery_parallelism(), chunks // 2))


def enqueue_delivery(*, utility_id: int, partner_ids: Iterable[int]) -> None:
    """After new commands are queued: start a delivery for each of these partners' webhook
    agreements in the utility once the transaction commits. Call inside the scope."""
    agreements = list(
        AdapterConfig.objects.filter(
            utility_id=utility_id,
            agreement__partner_id__in=set(partner_ids),
            kind=AdapterConfig.Kind.WEBHOOK,
            agreement__status=PartnerAgreement.Status.ACTIVE,
        ).values_list("agreement_id", "agreement__partner_id", "max_batch_size")
    )
    if not agreements:
        return
    waiting = _waiting(
        DeviceCommand.objects.filter(
            utility_id=utility_id,
            partner_id__in=[partner_id for _, partner_id, _ in agreements],
            status=Status.PENDING,
        )
    )
    for agreement_id, partner_id, batch_size in agreements:
        # At least one: the caller says commands were queued, whatever this count saw.
        runs = max(1, deliveries_for(waiting.get((utility_id, partner_id), 0), batch_size))
        for _ in range(runs):
            enqueue_on_commit(
                send_pending_commands, utility_id=utility_id, agreement_id=agreement_id
            )
