"""Customer opt-outs: recording one (idempotently) cancels the vehicle's live commands it
covers.

Call it inside the vehicle's utility's scope; the opt-out and the commands it cancels are
recorded in the audit trail. ``**audit_actor`` is passed on to ``portal.audit.record``: ``actor=<user>``, or a partner
client's ``client_id=…, partner_name=…`` (``request.partner_access.audit_actor``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from devices.models import DeviceCommand, OptOut, Vehicle
from devices.services.commands import LIVE_COMMAND_STATUSES
from devices.services.errors import ReferenceConflict
from devices.signals import command_outcomes
from portal.audit import record


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
