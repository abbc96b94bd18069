"""The command queue: issue, pull and acknowledge.

Call these inside a scope covering the utilities involved. Every state change is checked
against the current row — under a row lock, or as a compare-and-set UPDATE — and recorded
in the audit trail. The queue changes many rows at a time, so it writes one audit row per
utility per batch (pull, acknowledgement, issue), listing the commands and their
transitions, rather than one row per command. ``**audit_actor`` is passed on to ``portal.audit.record``: ``actor=<user>``, or a partner
client's ``client_id=…, partner_name=…`` (``request.partner_access.audit_actor``).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from devices.models import AdapterConfig, DeviceCommand, OptOut, Vehicle
from devices.services.errors import UnknownVehicle
from devices.signals import command_outcomes
from portal.audit import record
from portal.bulk import among, bulk_insert
from portal.models import AutomakerPartner, PartnerAgreement, Utility

LIVE_COMMAND_STATUSES = (
    DeviceCommand.Status.PENDING,
    DeviceCommand.Status.SENT,
    DeviceCommand.Status.ACCEPTED,
)


_COMMAND_KEY_NAMESPACE = uuid.UUID("0b8f8a52-5d1e-4c55-9a43-6d3c2f6f9e10")


def command_key(
    *, source_type: str, source_id: str, vehicle_id: int, revision: int, sequence: int = 0
) -> str:
    """The idempotency key (the partner's ``command_id``) of one command: the same source,
    vehicle, revision and sequence always give the same key."""
    name = f"{source_type}\x1f{source_id}\x1f{vehicle_id}\x1f{revision}\x1f{sequence}"
    return str(uuid.uuid5(_COMMAND_KEY_NAMESPACE, name))


@dataclass(frozen=True)
class CommandSpec:
    """One command to issue. ``sequence`` tells apart several commands to the same vehicle
    from the same source revision (a schedule of setpoints)."""

    vehicle_id: int
    kind: str  # DeviceCommand.Kind
    setpoint_kw: float
    starts_at: datetime
    ends_at: datetime
    sequence: int = 0


@dataclass(frozen=True)
class IssuedCommands:
    created: int
    # In the order of the specs, new or already there (empty with ``with_commands=False``).
    commands: list[DeviceCommand]
    # Partners with commands created ``pending`` by this call (to start their delivery).
    pending_partner_ids: frozenset[int] = frozenset()


_COMMAND_COLUMNS = (
    "utility_id", "partner_id", "vehicle_id", "kind", "setpoint_kw", "starts_at", "ends_at",
    "idempotency_key", "source_type", "source_id", "revision", "status", "status_reason",
    "attempts", "created_at", "updated_at",
)  # fmt: skip


def issue_commands(
    *,
    source_type: str,
    source_id: str,
    revision: int,
    specs: Sequence[CommandSpec],
    with_commands: bool = True,
    **audit_actor: Any,
) -> IssuedCommands:
    """Create the commands in bulk, each keyed by ``command_key``. Re-issuing the same
    source revision creates nothing new (conflicts are ignored). A command whose vehicle has
    already opted out of the source event (``OptOut.event_ref == source_id``) or of a range
    overlapping it is created ``opted_out``, never to be sent. Unknown vehicles (outside the
    current scope) raise ``UnknownVehicle``. ``with_commands=False`` skips reading the
    commands back (100,000 model instances) when the caller needs only the counts."""
    kinds = set(DeviceCommand.Kind.values)
    for spec in specs:
        if spec.kind not in kinds:
            raise ValueError(f"Unknown command kind {spec.kind!r}.")
        if timezone.is_naive(spec.starts_at) or timezone.is_naive(spec.ends_at):
            raise ValueError("Command times must be aware.")
        if spec.ends_at <= spec.starts_at:
            raise ValueError("A command must end after it starts.")
    if not specs:
        return IssuedCommands(created=0, commands=[])
    vehicle_ids = {spec.vehicle_id for spec in specs}
    vehicles = {
        pk: (utility_id, partner_id)
        for pk, utility_id, partner_id in among(
            Vehicle.objects.order_by(), "id", vehicle_ids
        ).values_list("pk", "utility_id", "partner_id")
    }
    if missing := vehicle_ids - vehicles.keys():
        raise UnknownVehicle(f"No vehicle with id(s) {sorted(missing)} here.")
    keys = [
        command_key(
            source_type=source_type,
            source_id=source_id,
            vehicle_id=spec.vehicle_id,
            revision=revision,
            sequence=spec.sequence,
        )
        for spec in specs
    ]
    opt_outs = _opt_outs_by_vehicle(vehicle_ids, event_ref=source_id, specs=specs)
    now = timezone.now()
    rows = []
    for spec, key in zip(specs, keys, strict=True):
        utility_id, partner_id = vehicles[spec.vehicle_id]
        opted = _opted_out_fields(opt_outs.get(spec.vehicle_id, ()), spec, source_id)
        rows.append(
            (
                utility_id, partner_id, spec.vehicle_id, spec.kind, spec.setpoint_kw,
                spec.starts_at, spec.ends_at, key, source_type, source_id, revision,
                opted.get("status", DeviceCommand.Status.PENDING), opted.get("status_reason", ""),
                0, now, now,
            )
        )  # fmt: skip
    with transaction.atomic():
        inserted = bulk_insert(
            DeviceCommand,
            _COMMAND_COLUMNS,
            rows,
            conflict="ON CONFLICT (idempotency_key) DO NOTHING",
            returning=("idempotency_key", "utility_id", "partner_id", "status"),
        )
        created_by_utility: dict[int, list[str]] = defaultdict(list)
        pending_partners = set()
        for key, utility_id, partner_id, status in inserted:
            created_by_utility[utility_id].append(key)
            if status == DeviceCommand.Status.PENDING:
                pending_partners.add(partner_id)
        for utility_id, created in created_by_utility.items():
            record(
                action="command.issued",
                utility=Utility.objects.get(pk=utility_id),
                to_state=DeviceCommand.Status.PENDING,
                changes={
                    "source_type": source_type,
                    "source_id": source_id,
                    "revision": revision,
                    "command_ids": sorted(created),
                },
                **audit_actor,
            )
        commands = []
        if with_commands:
            by_key = {
                command.idempotency_key: command
                for command in among(DeviceCommand.objects.all(), "idempotency_key", keys)
            }
            commands = [by_key[key] for key in keys]
    return IssuedCommands(
        created=len(inserted), commands=commands, pending_partner_ids=frozenset(pending_partners)
    )


def _opt_outs_by_vehicle(
    vehicle_ids: Collection[int], *, event_ref: str, specs: Sequence[CommandSpec]
) -> dict[int, list[OptOut]]:
    earliest = min(spec.starts_at for spec in specs)
    latest = max(spec.ends_at for spec in specs)
    found: dict[int, list[OptOut]] = defaultdict(list)
    for opt_out in among(OptOut.objects.all(), "vehicle_id", vehicle_ids).filter(
        Q(event_ref=event_ref) | Q(starts_at__lt=latest, ends_at__gt=earliest)
    ):
        found[opt_out.vehicle_id].append(opt_out)
    return found


def _opted_out_fields(
    opt_outs: Sequence[OptOut], spec: CommandSpec, event_ref: str
) -> dict[str, Any]:
    for opt_out in opt_outs:
        if (opt_out.event_ref and opt_out.event_ref == event_ref) or (
            opt_out.starts_at is not None
            and opt_out.starts_at < spec.ends_at
            and opt_out.ends_at > spec.starts_at
        ):
            return {"status": DeviceCommand.Status.OPTED_OUT, "status_reason": "Customer opted out"}
    return {}


def pull_commands(
    *,
    partner: AutomakerPartner,
    utility_ids: Sequence[int],
    limit: int,
    now: datetime | None = None,
    **audit_actor: Any,
) -> list[DeviceCommand]:
    """Hand the partner its oldest pending commands (still running or to come) in the
    utilities where it pulls (agreements without a webhook adapter), marking them ``sent``.
    Rows another pull holds are skipped (``SKIP LOCKED``), so two concurrent pulls never get
    the same command."""
    now = now or timezone.now()
    pending = DeviceCommand.Status.PENDING
    with transaction.atomic():
        ids = list(
            DeviceCommand.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                partner=partner,
                utility_id__in=_pull_utility_ids(partner=partner, utility_ids=utility_ids),
                status=pending,
                ends_at__gt=now,
            )
            .order_by("created_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return []
        DeviceCommand.objects.filter(pk__in=ids, status=pending).update(
            status=DeviceCommand.Status.SENT,
            sent_at=now,
            updated_at=now,
            attempts=F("attempts") + 1,
        )
        commands = list(
            DeviceCommand.objects.filter(pk__in=ids, status=DeviceCommand.Status.SENT, sent_at=now)
            .select_related("vehicle", "utility")
            .order_by("created_at", "pk")
        )
        by_utility: dict[Utility, list[str]] = defaultdict(list)
        for command in commands:
            by_utility[command.utility].append(command.idempotency_key)
        for utility, keys in by_utility.items():
            record(
                action="command.sent",
                utility=utility,
                from_state=pending,
                to_state=DeviceCommand.Status.SENT,
                comment=f"{len(keys)} command(s) pulled by the partner",
                changes={"command_ids": keys},
                **audit_actor,
            )
    return commands


def _pull_utility_ids(*, partner: AutomakerPartner, utility_ids: Sequence[int]) -> list[int]:
    """Commands to a partner with a webhook adapter are pushed to it, never pulled."""
    return list(
        PartnerAgreement.objects.filter(partner=partner, utility_id__in=utility_ids)
        .exclude(adapter_config__kind=AdapterConfig.Kind.WEBHOOK)
        .values_list("utility_id", flat=True)
    )


ACKNOWLEDGED_STATUSES = (
    DeviceCommand.Status.ACCEPTED,
    DeviceCommand.Status.REJECTED,
    DeviceCommand.Status.COMPLETED,
    DeviceCommand.Status.FAILED,
)


@dataclass(frozen=True)
class CommandAck:
    command_id: str
    status: str  # one of ACKNOWLEDGED_STATUSES
    reason: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class AckResult:
    command_id: str
    ok: bool
    changed: bool = False
    status: str | None = None  # the command's status after this acknowledgement
    code: str = ""  # when not ok: unknown_command or invalid_transition
    message: str = ""


def acknowledge_commands(
    *,
    partner: AutomakerPartner,
    utility_ids: Sequence[int],
    acks: Sequence[CommandAck],
    now: datetime | None = None,
    **audit_actor: Any,
) -> list[AckResult]:
    """Apply the partner's acknowledgements in order, one result each. A command of
    another partner or utility is ``unknown_command``; a move ``DeviceCommand.ALLOWED``
    does not allow (e.g. completed → accepted) is ``invalid_transition``; repeating the
    status a command already has is ok and changes nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        commands = {
            command.idempotency_key: command
            for command in DeviceCommand.objects.select_for_update(of=("self",))
            .filter(
                partner=partner,
                utility_id__in=utility_ids,
                idempotency_key__in={ack.command_id for ack in acks},
            )
            .select_related("utility")
            .order_by("pk")
        }
        first_status: dict[str, str] = {}
        results = [_apply_ack(commands.get(ack.command_id), ack, now, first_status) for ack in acks]
        changed = [
            commands[key] for key, status in first_status.items() if commands[key].status != status
        ]
        DeviceCommand.objects.bulk_update(
            changed, ["status", "status_reason", "acknowledged_at", "updated_at"]
        )
        transitions: dict[Utility, dict[str, list[str]]] = defaultdict(dict)
        for command in changed:
            key = command.idempotency_key
            transitions[command.utility][key] = [first_status[key], command.status]
        settled = {
            DeviceCommand.Status.OPTED_OUT,
            DeviceCommand.Status.REJECTED,
            DeviceCommand.Status.FAILED,
        }
        outcomes: dict[int, set[tuple[str, str]]] = defaultdict(set)
        for command in changed:
            if command.status in settled:
                outcomes[command.utility_id].add((command.source_type, command.source_id))
        for utility_id, sources in outcomes.items():
            command_outcomes.send(sender=DeviceCommand, utility_id=utility_id, sources=sources)
        for utility, moves in transitions.items():
            record(
                action="command.acknowledged",
                utility=utility,
                comment=f"{len(moves)} command(s) acknowledged by the partner",
                changes={"transitions": moves},
                **audit_actor,
            )
    return results


def _apply_ack(
    command: DeviceCommand | None, ack: CommandAck, now: datetime, first_status: dict[str, str]
) -> AckResult:
    if command is None:
        return AckResult(
            command_id=ack.command_id,
            ok=False,
            code="unknown_command",
            message="No command of yours with this command_id.",
        )
    if command.status == ack.status:
        return AckResult(command_id=ack.command_id, ok=True, status=command.status)
    if ack.status not in DeviceCommand.ALLOWED.get(command.status, ()):
        return AckResult(
            command_id=ack.command_id,
            ok=False,
            status=command.status,
            code="invalid_transition",
            message=f"A {command.status} command cannot become {ack.status}.",
        )
    first_status.setdefault(command.idempotency_key, command.status)
    command.status = ack.status
    command.status_reason = ack.reason[:250]
    command.acknowledged_at = min(ack.at, now) if ack.at else now
    command.updated_at = now
    return AckResult(command_id=ack.command_id, ok=True, changed=True, status=command.status)
