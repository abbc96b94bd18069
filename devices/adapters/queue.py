"""The command queue as the adapters use it: claiming commands for delivery, and recording
what a delivery's verdicts mean for each command's status.

Every status change is a compare-and-set on the status the command had when it was claimed
(``sent``): a partner's acknowledgement that lands first (``accepted``, ``completed``) or a
cancellation wins, and the later, staler write simply matches no row. Call everything here
inside the utility's scope.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import F, Q, QuerySet

from devices.adapters.base import OutgoingCommand, SendResult, Verdict
from devices.models import AdapterConfig, DeviceCommand
from portal import audit
from portal.models import PartnerAgreement

Status = DeviceCommand.Status
REASON_LENGTH = 250


def unanswered(*, redeliver_before: datetime) -> Q:
    """Pending commands, and commands sent before ``redeliver_before`` that nobody answered
    (the worker that sent them died before it could record the answer)."""
    return Q(status=Status.PENDING) | Q(status=Status.SENT, sent_at__lt=redeliver_before)


def _unanswered(*, partner_id: int, redeliver_before: datetime) -> QuerySet:
    return DeviceCommand.objects.filter(
        unanswered(redeliver_before=redeliver_before), partner_id=partner_id
    )


def claim(
    *, partner_id: int, limit: int, now: datetime, redeliver_after: timedelta
) -> list[DeviceCommand]:
    """Move up to ``limit`` deliverable commands to ``sent`` (soonest window first) and return
    them with their vehicles. Concurrent callers never get the same command."""
    candidates = (
        _unanswered(partner_id=partner_id, redeliver_before=now - redeliver_after)
        .filter(ends_at__gt=now)
        .order_by("starts_at", "pk")
    )
    if connection.features.has_select_for_update_skip_locked:
        with transaction.atomic():
            pks = list(
                candidates.select_for_update(skip_locked=True, of=("self",)).values_list(
                    "pk", flat=True
                )[:limit]
            )
            DeviceCommand.objects.filter(pk__in=pks).update(
                status=Status.SENT, sent_at=now, updated_at=now
            )
    else:
        # No row locks to skip (SQLite): claim row by row, each only if still as we read it.
        pks = [
            pk
            for pk, status, sent_at in candidates.values_list("pk", "status", "sent_at")[:limit]
            if DeviceCommand.objects.filter(pk=pk, status=status, sent_at=sent_at).update(
                status=Status.SENT, sent_at=now, updated_at=now
            )
        ]
    return list(
        DeviceCommand.objects.filter(pk__in=pks)
        .select_related("vehicle")
        .order_by("starts_at", "pk")
    )


def release(pks: Sequence[int], *, now: datetime, reason: str) -> int:
    """Claimed commands that were not sent after all go back to pending, uncounted."""
    return DeviceCommand.objects.filter(pk__in=pks, status=Status.SENT).update(
        status=Status.PENDING, status_reason=reason[:REASON_LENGTH], updated_at=now
    )


def expire_overdue(*, config: AdapterConfig, now: datetime, redeliver_after: timedelta) -> int:
    """Commands whose window ended before they could be delivered (pending, or sent with
    no answer recorded) fail."""
    overdue = _unanswered(
        partner_id=config.agreement.partner_id, redeliver_before=now - redeliver_after
    ).filter(ends_at__lte=now)
    pks = list(overdue.values_list("pk", flat=True))
    expired = overdue.filter(pk__in=pks).update(
        status=Status.FAILED,
        status_reason="The window ended before the command could be delivered.",
        updated_at=now,
    )
    if expired:
        record_transitions(
            config,
            action="command.expired",
            comment=f"{expired} command(s) expired before delivery",
            pks=pks,
            from_state=Status.PENDING,
            to_states={Status.FAILED},
        )
    return expired


def record_transitions(
    obj: AdapterConfig | PartnerAgreement,
    *,
    action: str,
    comment: str,
    pks: Sequence[int],
    from_state: str,
    to_states: set[str],
    extra: dict | None = None,
) -> None:
    """One audit row for a batch of the agreement's commands: ``{command_id: [from, to]}``
    for each of ``pks`` now in one of ``to_states`` (one still elsewhere was not moved by
    this batch). Nothing moved, nothing recorded."""
    moved = list(
        DeviceCommand.objects.filter(pk__in=pks, status__in=to_states).values_list(
            "idempotency_key", "status"
        )
    )
    if not moved:
        return
    audit.record(
        action=action,
        utility=obj.utility,
        obj=obj,
        comment=comment,
        changes={
            "transitions": {key: [from_state, status] for key, status in moved},
            **(extra or {}),
        },
    )


@dataclass
class Tally:
    accepted: int = 0
    rejected: int = 0
    failed: int = 0
    retrying: int = 0
    gave_up: int = 0

    def add(self, other: Tally) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def record_send_result(
    batch: Sequence[OutgoingCommand], result: SendResult, *, config: AdapterConfig, now: datetime
) -> Tally:
    """Apply one send's verdicts to the claimed (``sent``) commands, and audit the batch."""
    pk_of = {c.command_id: c.pk for c in batch}
    tally = Tally()
    if result.circuit_open:
        release(list(pk_of.values()), now=now, reason="Waiting: the partner's circuit is open.")
        tally.retrying = len(batch)
        return tally

    max_attempts = config.max_attempts
    groups: dict[tuple[Verdict, str], list[int]] = defaultdict(list)
    for outcome in result.outcomes.values():
        groups[(outcome.verdict, outcome.reason[:REASON_LENGTH])].append(pk_of[outcome.command_id])
    counted = {"attempts": F("attempts") + 1, "updated_at": now}
    retrying: set[int] = set()
    for (verdict, reason), pks in groups.items():
        in_flight = DeviceCommand.objects.filter(pk__in=pks, status=Status.SENT)
        if verdict == Verdict.ACCEPTED:
            tally.accepted += in_flight.update(
                status=Status.ACCEPTED, status_reason="", acknowledged_at=now, **counted
            )
        elif verdict == Verdict.REJECTED:
            tally.rejected += in_flight.update(
                status=Status.REJECTED, status_reason=reason, acknowledged_at=now, **counted
            )
        elif verdict == Verdict.FAILED:
            tally.failed += in_flight.update(status=Status.FAILED, status_reason=reason, **counted)
        elif verdict == Verdict.RETRY:
            # This was the last attempt allowed: give up; otherwise back in the queue.
            tally.gave_up += in_flight.filter(attempts__gte=max_attempts - 1).update(
                status=Status.FAILED,
                status_reason=f"No answer after {max_attempts} attempts: {reason}"[:REASON_LENGTH],
                **counted,
            )
            tally.retrying += in_flight.update(
                status=Status.PENDING,
                status_reason=f"Will retry: {reason}"[:REASON_LENGTH],
                **counted,
            )
            retrying.update(pks)
        else:  # QUEUED: nothing was sent
            release(pks, now=now, reason=reason)
    record_transitions(
        config,
        action="command.sent",
        comment=(
            f"{len(batch)} command(s) sent to the partner's webhook: {tally.accepted} accepted, "
            f"{tally.rejected} rejected, {tally.failed + tally.gave_up} failed, "
            f"{tally.retrying} to retry"
        ),
        pks=list(pk_of.values()),
        from_state=Status.SENT,
        to_states={Status.ACCEPTED, Status.REJECTED, Status.FAILED},
        extra={"retrying": sorted(k for k, pk in pk_of.items() if pk in retrying)}
        if retrying
        else None,
    )
    return tally
