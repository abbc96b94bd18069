"""Device writes: vehicle registration and updates, opt-outs, and the command queue (issue,
pull, acknowledge).

Call these inside a scope covering the utilities involved. Every state change is checked
against the current row — under a row lock, or as a compare-and-set UPDATE — and recorded
in the audit trail. The command queue changes many rows at a time, so it writes one audit
row per utility per batch (pull, acknowledgement, issue), listing the commands and their
transitions, rather than one row per command. ``**audit_actor`` is passed on to
``portal.audit.record``: ``actor=<user>``, or a partner client's
``client_id=…, partner_name=…`` (``request.partner_access.audit_actor``).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django_scopes import scopes_disabled

from devices.models import AdapterConfig, CustomerPreference, DeviceCommand, Mode, OptOut, Vehicle
from devices.signals import command_outcomes
from enrollment.models import ServiceAccount
from portal.audit import record
from portal.bulk import among, bulk_insert
from portal.errors import DomainError
from portal.models import AutomakerPartner, PartnerAgreement, Utility

# --- Errors -------------------------------------------------------------------------------


class DeviceError(DomainError):
    """A refused device action."""


class DeviceNotFound(DeviceError):
    pass


class DeviceConflict(DeviceError):
    pass


class UnknownVehicle(DeviceNotFound):
    code = "unknown_vehicle"


class VinActiveElsewhere(DeviceConflict):
    code = "vin_active_elsewhere"


class VehicleExists(DeviceConflict):
    code = "vehicle_exists"


class AmbiguousVehicle(DeviceConflict):
    code = "ambiguous_vehicle"


class ReferenceConflict(DeviceConflict):
    code = "reference_conflict"


# --- Vehicles -----------------------------------------------------------------------------

MODE_FIELDS = {Mode.V1G: "supports_v1g", Mode.V2H: "supports_v2h", Mode.V2G: "supports_v2g"}
# What a partner may change on a registered vehicle (model field names); the VIN, utility and
# partner are fixed for the life of a registration.
UPDATABLE_FIELDS = (
    "partner_vehicle_id",
    "model",
    "model_year",
    "usable_battery_kwh",
    "max_charge_kw",
    "max_discharge_kw",
    "firmware_version",
    "status",
)


def register_vehicle(
    *,
    utility: Utility,
    partner: AutomakerPartner,
    vin: str,
    partner_vehicle_id: str,
    model: str,
    model_year: int,
    usable_battery_kwh: float,
    modes: Collection[str],
    max_charge_kw: float,
    max_discharge_kw: float = 0,
    firmware_version: str = "",
    account_number: str | None = None,
    **audit_actor: Any,
) -> Vehicle:
    """Register a partner's vehicle in a utility. ``vin`` must be normalized
    (``devices.vin.normalize_vin``). A VIN active anywhere else (another utility or another
    partner) is ``VinActiveElsewhere``; one already registered here, or a taken
    ``partner_vehicle_id``, is ``VehicleExists``; an unknown ``account_number`` is a
    ValidationError on that field (code ``unknown_account``)."""
    vehicle = Vehicle(
        utility=utility,
        partner=partner,
        vin=vin,
        partner_vehicle_id=partner_vehicle_id,
        model=model,
        model_year=model_year,
        usable_battery_kwh=usable_battery_kwh,
        max_charge_kw=max_charge_kw,
        max_discharge_kw=max_discharge_kw,
        firmware_version=firmware_version,
        service_account=_service_account(utility=utility, account_number=account_number),
        **{name: mode in modes for mode, name in MODE_FIELDS.items()},
    )
    vehicle.full_clean(validate_unique=False, validate_constraints=False)
    with transaction.atomic():
        _check_registration_free(vehicle)
        _save_checked(vehicle)
        record(
            action="vehicle.registered",
            utility=utility,
            obj=vehicle,
            to_state=vehicle.status,
            changes={"vin": vin, "vehicle_id": partner_vehicle_id},
            **audit_actor,
        )
    return vehicle


def update_vehicle(*, vehicle: Vehicle, changes: Mapping[str, Any], **audit_actor: Any) -> Vehicle:
    """Change a registered vehicle. ``changes`` holds ``UPDATABLE_FIELDS`` (model names),
    ``modes`` (replaces the capabilities) and ``account_number`` (links another service
    account; None unlinks). Reactivating a vehicle, or giving it a new partner id, is refused
    when that is taken (see ``register_vehicle``)."""
    unknown = set(changes) - {*UPDATABLE_FIELDS, "modes", "account_number"}
    if unknown:
        raise ValueError(f"Not updatable: {sorted(unknown)}")
    with transaction.atomic():
        locked = Vehicle.objects.select_for_update(of=("self",)).get(pk=vehicle.pk)
        before = {name: getattr(locked, name) for name in _AUDITED_FIELDS}
        for name, value in changes.items():
            if name == "modes":
                for mode, field_name in MODE_FIELDS.items():
                    setattr(locked, field_name, mode in value)
            elif name == "account_number":
                locked.service_account = _service_account(
                    utility=locked.utility, account_number=value
                )
            else:
                setattr(locked, name, value)
        after = {name: getattr(locked, name) for name in _AUDITED_FIELDS}
        changed = {
            name: [before[name], after[name]] for name in after if before[name] != after[name]
        }
        if not changed:
            return locked
        locked.full_clean(validate_unique=False, validate_constraints=False)
        if locked.status == Vehicle.Status.ACTIVE and {"status", "partner_vehicle_id"} & set(
            changed
        ):
            _check_registration_free(locked)
        _save_checked(locked, update_fields=[*changed, "updated_at"])
        status_change = changed.get("status", ["", ""])
        if "service_account_id" in changed:
            changed["account_number"] = [
                _account_number(pk) for pk in changed.pop("service_account_id")
            ]
        record(
            action="vehicle.updated",
            utility=locked.utility,
            obj=locked,
            from_state=status_change[0],
            to_state=status_change[1],
            changes=changed,
            **audit_actor,
        )
    return locked


_AUDITED_FIELDS = (*UPDATABLE_FIELDS, *MODE_FIELDS.values(), "service_account_id")


def _account_number(service_account_id: int | None) -> str | None:
    if service_account_id is None:
        return None
    return (
        ServiceAccount.objects.filter(pk=service_account_id)
        .values_list("account_number", flat=True)
        .first()
    )


def _service_account(*, utility: Utility, account_number: str | None) -> ServiceAccount | None:
    if account_number is None or account_number == "":
        return None
    account = ServiceAccount.objects.filter(utility=utility, account_number=account_number).first()
    if account is None:
        raise ValidationError(
            {
                "account_number": ValidationError(
                    "No service account with this number in this utility.",
                    code="unknown_account",
                )
            }
        )
    return account


def _check_registration_free(vehicle: Vehicle) -> None:
    """Raise unless ``vehicle`` may be active: its VIN active nowhere else, its partner id
    unused among the partner's active vehicles in its utility."""
    with scopes_disabled():  # a VIN is active in one utility at most, across all of them
        holder = (
            Vehicle.objects.filter(vin=vehicle.vin, status=Vehicle.Status.ACTIVE)
            .exclude(pk=vehicle.pk)
            .values_list("utility_id", "partner_id")
            .first()
        )
    if holder == (vehicle.utility_id, vehicle.partner_id):
        raise VehicleExists("This VIN is already registered and active.", field="vin")
    if holder is not None:
        # Say nothing of where: another utility's registrations are not this client's business.
        raise VinActiveElsewhere(
            "This VIN is active in another program or with another partner; it must be "
            "released there before it can be registered here."
        )
    taken = (
        Vehicle.objects.filter(
            utility_id=vehicle.utility_id,
            partner_id=vehicle.partner_id,
            partner_vehicle_id=vehicle.partner_vehicle_id,
            status=Vehicle.Status.ACTIVE,
        )
        .exclude(pk=vehicle.pk)
        .exists()
    )
    if taken:
        raise VehicleExists(
            "Another of your active vehicles in this utility has this vehicle_id.",
            field="vehicle_id",
        )


def _save_checked(vehicle: Vehicle, **save_options: Any) -> None:
    """Save; a concurrent registration that won the race shows up as the constraint
    violation, reported as the conflict it is."""
    try:
        with transaction.atomic():
            vehicle.save(**save_options)
    except IntegrityError:
        _check_registration_free(vehicle)
        raise VehicleExists("This vehicle is already registered.") from None


# --- Opt-outs -------------------------------------------------------------------------------

LIVE_COMMAND_STATUSES = (
    DeviceCommand.Status.PENDING,
    DeviceCommand.Status.SENT,
    DeviceCommand.Status.ACCEPTED,
)


def record_opt_out(
    *,
    vehicle: Vehicle,
    event_ref: str = "",
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    reason: str = "",
    reference: str = "",
    **audit_actor: Any,
) -> tuple[OptOut, bool]:
    """Record that the customer opted out of one event (``event_ref``, the commands'
    ``source_id``) or a time range, and mark the vehicle's live commands it covers
    ``opted_out``. Idempotent on the partner's ``reference``: the same opt-out again returns
    the first one and False; a reference reused for a different opt-out (or one of this
    partner's in another utility) is ``ReferenceConflict``."""
    if bool(event_ref) == (starts_at is not None or ends_at is not None):
        raise ValidationError("Give either an event or a time range.", code="event_or_range")
    if not event_ref and (starts_at is None or ends_at is None or ends_at <= starts_at):
        raise ValidationError({"ends_at": ValidationError("Must be after starts_at.")})
    wanted = {
        "vehicle_id": vehicle.pk,
        "event_ref": event_ref,
        "starts_at": starts_at,
        "ends_at": ends_at,
    }
    if reference:
        existing = OptOut.objects.filter(
            partner_id=vehicle.partner_id, partner_reference=reference
        ).first()
        if existing is not None:
            return _same_opt_out(existing, wanted), False
    with transaction.atomic():
        try:
            with transaction.atomic():
                opt_out = OptOut.objects.create(
                    utility_id=vehicle.utility_id,
                    partner_id=vehicle.partner_id,
                    reason=reason,
                    partner_reference=reference,
                    **wanted,
                )
        except IntegrityError:  # the same reference, posted concurrently or elsewhere
            existing = OptOut.objects.filter(
                partner_id=vehicle.partner_id, partner_reference=reference
            ).first()
            if existing is None:
                raise ReferenceConflict("This reference is used by another opt-out.") from None
            return _same_opt_out(existing, wanted), False
        opted_out, sources = _opt_out_live_commands(opt_out)
        if event_ref:
            sources.add(("", event_ref))
        command_outcomes.send(sender=OptOut, utility_id=vehicle.utility_id, sources=sources)
        record(
            action="vehicle.opted_out",
            utility=vehicle.utility,
            obj=opt_out,
            comment=reason,
            changes={
                "vehicle": vehicle.vin,
                "event": event_ref,
                "starts_at": starts_at.isoformat() if starts_at else None,
                "ends_at": ends_at.isoformat() if ends_at else None,
                "commands_opted_out": opted_out,
            },
            **audit_actor,
        )
    return opt_out, True


def _same_opt_out(existing: OptOut, wanted: Mapping[str, Any]) -> OptOut:
    if any(getattr(existing, name) != value for name, value in wanted.items()):
        raise ReferenceConflict("This reference is used by a different opt-out.")
    return existing


def _opt_out_live_commands(opt_out: OptOut) -> tuple[list[str], set[tuple[str, str]]]:
    """Mark the vehicle's live commands the opt-out covers; returns their command ids and
    their sources."""
    covered = (
        Q(source_id=opt_out.event_ref)
        if opt_out.event_ref
        else Q(starts_at__lt=opt_out.ends_at, ends_at__gt=opt_out.starts_at)
    )
    rows = list(
        DeviceCommand.objects.select_for_update(of=("self",))
        .filter(covered, vehicle_id=opt_out.vehicle_id, status__in=LIVE_COMMAND_STATUSES)
        .order_by("pk")
        .values_list("pk", "idempotency_key", "source_type", "source_id")
    )
    commands = {pk: key for pk, key, _, _ in rows}
    sources = {(source_type, source_id) for _, _, source_type, source_id in rows}
    if commands:
        DeviceCommand.objects.filter(pk__in=commands, status__in=LIVE_COMMAND_STATUSES).update(
            status=DeviceCommand.Status.OPTED_OUT,
            status_reason=(opt_out.reason or "Customer opted out")[:250],
            updated_at=timezone.now(),
        )
    return sorted(commands.values()), sources


# --- Commands: issue ----------------------------------------------------------------------

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


# --- Commands: pull and acknowledge ---------------------------------------------------------


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


PREFERENCE_FIELDS = (
    "reserve_soc_pct",
    "reserve_miles",
    "miles_per_kwh",
    "departure_time",
    "target_soc_pct",
)


def set_preferences(*, vehicle: Vehicle, values: Mapping[str, Any], **audit_actor: Any):
    """Replace the driver's app preferences for a vehicle (fields not given are cleared to
    their defaults), audited with before and after."""

    with transaction.atomic():
        preference, _ = CustomerPreference.objects.select_for_update().get_or_create(
            vehicle=vehicle, defaults={"utility": vehicle.utility}
        )
        defaults = {f.name: f.get_default() for f in CustomerPreference._meta.fields}
        before = {name: getattr(preference, name) for name in PREFERENCE_FIELDS}
        for name in PREFERENCE_FIELDS:
            setattr(preference, name, values.get(name, defaults[name]))
        preference.full_clean(exclude=["vehicle", "utility"])
        preference.save()
        after = {name: getattr(preference, name) for name in PREFERENCE_FIELDS}
        changed = {
            name: [str(before[name]), str(after[name])]
            for name in PREFERENCE_FIELDS
            if before[name] != after[name]
        }
        if changed:
            record(
                action="vehicle.preferences_set",
                utility=vehicle.utility,
                obj=vehicle,
                changes=changed,
                **audit_actor,
            )
    return preference
