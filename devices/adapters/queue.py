"""The command queue as the adapters use it: claiming commands for delivery, and recording
what a delivery's verdicts mean for each command's status.

Every status change is a compare-and-set on the status the command had when it was claimed
(``sent``): a partner's acknowledgement that lands first (``accepted``, ``completed``) or a
cancellation wins, and the later, staler write simply matches no row. Call everything here
inside the utility's scope.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q, QuerySet

from devices.adapters.base import OutgoingCommand, SendResult, Verdict
from devices.models import AdapterConfig, DeviceCommand, Vehicle
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


def _deliverable(*, partner_id: int, now: datetime, redeliver_after: timedelta) -> QuerySet:
    """Unanswered commands whose window is not over, soonest window first."""
    return (
        _unanswered(partner_id=partner_id, redeliver_before=now - redeliver_after)
        .filter(ends_at__gt=now)
        .order_by("starts_at", "pk")
    )


def deliverable_ids(
    *, partner_id: int, limit: int, now: datetime, redeliver_after: timedelta
) -> list[int]:
    """The ids of up to ``limit`` deliverable commands, soonest window first, claiming
    nothing: the list a delivery run works through chunk by chunk (``claim(among=…)``).

    Ordering the queue means reading all of it (there is no index on the window), so a
    run orders it once for many chunks rather than once per chunk."""
    return list(
        _deliverable(partner_id=partner_id, now=now, redeliver_after=redeliver_after).values_list(
            "pk", flat=True
        )[:limit]
    )


def claim(
    *,
    partner_id: int,
    limit: int,
    now: datetime,
    redeliver_after: timedelta,
    among: Sequence[int] | None = None,
) -> list[OutgoingCommand]:
    """Move up to ``limit`` deliverable commands (of ``among`` only, if given) to ``sent``,
    soonest window first, and return them as the partner will see them. Concurrent callers
    never get the same command."""
    candidates = _deliverable(partner_id=partner_id, now=now, redeliver_after=redeliver_after)
    if among is not None:
        candidates = candidates.filter(pk__in=among)
    claimed = _claim_returning(candidates, limit=limit, now=now)
    return sorted(claimed, key=lambda c: (c.starts_at, c.pk))


def _claim_returning(candidates: QuerySet, *, limit: int, now: datetime) -> list[OutgoingCommand]:
    """One statement: lock the first ``limit`` candidates nobody else holds (``SKIP
    LOCKED``), mark them sent and return what the partner needs, with their vehicles' ids."""
    picked = candidates.select_for_update(skip_locked=True, of=("self",)).values("pk")[:limit]
    command, vehicle = DeviceCommand._meta.db_table, Vehicle._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        picked_sql, picked_params = picked.query.sql_with_params()
        cursor.execute(
            f"""
            WITH picked (id) AS ({picked_sql})
            UPDATE {command} AS c SET status = %s, sent_at = %s, updated_at = %s
            FROM picked, {vehicle} AS v
            WHERE c.id = picked.id AND v.id = c.vehicle_id
            RETURNING c.id, c.idempotency_key, v.partner_vehicle_id, v.vin, c.kind,
                c.setpoint_kw, c.starts_at, c.ends_at, c.source_id
            """,  # noqa: S608 - table names from the models, values as parameters
            [*picked_params, Status.SENT, now, now],
        )
        rows = cursor.fetchall()
    return [
        OutgoingCommand(
            pk=pk,
            command_id=key,
            vehicle_id=vehicle_id,
            vin=vin,
            kind=kind,
            setpoint_kw=setpoint_kw,
            starts_at=starts_at,
            ends_at=ends_at,
            event_id=source_id,
        )
        for pk, key, vehicle_id, vin, kind, setpoint_kw, starts_at, ends_at, source_id in rows
    ]


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
    moved: Mapping[str, str] | None = None,
    extra: dict | None = None,
) -> None:
    """One audit row for a batch of the agreement's commands: ``{command_id: [from, to]}``
    for each of ``pks`` now in one of ``to_states`` (one still elsewhere was not moved by
    this batch) — or for each command in ``moved`` (command id → status), when the caller
    knows. Nothing moved, nothing recorded."""
    if moved is None:
        moved = dict(
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
            "transitions": {key: [from_state, status] for key, status in moved.items()},
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
    moved: dict[str, str] = {}  # command id → the status this answer moved it to
    retrying: set[int] = set()

    def answer(pks: list[int], to: str, reason: str, **kwargs) -> int:
        keys = _answer_sent(pks, config=config, to=to, reason=reason, now=now, **kwargs)
        if to != Status.PENDING:
            moved.update(dict.fromkeys(keys, to))
        return len(keys)

    for (verdict, reason), pks in groups.items():
        if verdict == Verdict.ACCEPTED:
            tally.accepted += answer(pks, Status.ACCEPTED, "", acknowledged=True)
        elif verdict == Verdict.REJECTED:
            tally.rejected += answer(pks, Status.REJECTED, reason, acknowledged=True)
        elif verdict == Verdict.FAILED:
            tally.failed += answer(pks, Status.FAILED, reason)
        elif verdict == Verdict.RETRY:
            # This was the last attempt allowed: give up; otherwise back in the queue.
            gave_up = f"No answer after {max_attempts} attempts: {reason}"
            tally.gave_up += answer(pks, Status.FAILED, gave_up, min_attempts=max_attempts - 1)
            tally.retrying += answer(pks, Status.PENDING, f"Will retry: {reason}")
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
        moved=moved,
        extra={"retrying": sorted(k for k, pk in pk_of.items() if pk in retrying)}
        if retrying
        else None,
    )
    return tally


def _answer_sent(
    pks: Sequence[int],
    *,
    config: AdapterConfig,
    to: str,
    reason: str,
    now: datetime,
    acknowledged: bool = False,
    min_attempts: int = 0,
) -> list[str]:
    """Move those of ``pks`` still ``sent`` (with at least ``min_attempts`` attempts) to
    ``to``, counting the attempt; return the command ids it moved. A command answered in
    the meantime (an acknowledgement, a cancellation) is not ``sent`` any more and stays."""
    reason = reason[:REASON_LENGTH]
    # One statement that says what it moved (RETURNING), with the ids as one array
    # parameter: no second query to find out, no 500 placeholders to bind.
    acknowledged_sql = ", acknowledged_at = %s" if acknowledged else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {DeviceCommand._meta.db_table}
            SET status = %s, status_reason = %s, attempts = attempts + 1,
                updated_at = %s{acknowledged_sql}
            WHERE utility_id = %s AND id = ANY(%s) AND status = %s AND attempts >= %s
            RETURNING idempotency_key
            """,  # noqa: S608 - the table name from the model, values as parameters
            [
                to,
                reason,
                now,
                *([now] if acknowledged else []),
                config.utility_id,
                list(pks),
                Status.SENT,
                min_attempts,
            ],
        )
        return [key for (key,) in cursor.fetchall()]
