"""After a cancellation or an early end: the event's live commands withdrawn and restores sent
(staggered over ``settings.DISPATCH_RESTORE_STAGGER_MINUTES``)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django_scopes import scope

from devices.models import DeviceCommand
from dispatch.execution.base import ExecutionResult, locked_event
from dispatch.execution.commands import event_commands, issue, restore_specs, withdraw


def cancel_or_end(
    *, utility_id: int, event_id: int, now: datetime | None = None
) -> ExecutionResult:
    """After a cancellation or an early end: withdraw the event's live commands and send a
    restore command, at the event's current revision, to every vehicle that had one."""
    now = now or timezone.now()
    with scope(utility=utility_id), transaction.atomic():
        event = locked_event(utility_id=utility_id, event_id=event_id)
        if event.cancelled_at is None and event.ended_early_at is None:
            return ExecutionResult("not_plannable")
        commands = event_commands(event).exclude(kind=DeviceCommand.Kind.RESTORE)
        vehicle_ids = set(commands.values_list("vehicle_id", flat=True))
        if not vehicle_ids:
            return ExecutionResult("nothing_to_send")
        withdraw(event, commands)
        created = issue(event, restore_specs(event, vehicle_ids, now=now, stagger=True))
        return ExecutionResult("issued", created=created, vehicles=len(vehicle_ids))
