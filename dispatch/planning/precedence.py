"""One event per vehicle at a time.

Overlapping events can target the same vehicles (an emergency called over a running peak
event, two programs a car is enrolled in). A vehicle is committed to one of them at a time:
the event that takes precedence — higher ``priority`` first, as the overlap guardrail
(``guardrails.check_overlap``) ranks them; then an emergency over any other type; then the
one scheduled first — gets it:

* planning an event leaves out the vehicles an overlapping event that takes precedence has
  dispatched (excluded, with that reason on the console);
* an event that takes precedence takes the vehicles of the others from the moment its own
  command for them begins: their re-plan drops them, as of that moment, without a restore
  (the winner's command now drives the vehicle), and brings in reserves. M&V counts each
  participant only while the vehicle was committed to its event (``dispatch.measurement``),
  so no kWh — and no $/kWh award — is counted twice;
* a restore never touches a vehicle another live event holds (``held_elsewhere``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from dispatch.models import Event, EventParticipant


def precedence_key(
    *, priority: int, event_type: str, scheduled_at: datetime | None, pk: int
) -> tuple:
    """Greater takes precedence."""
    first = -(scheduled_at.timestamp() if scheduled_at else float("inf"))
    return (priority, event_type == Event.Type.EMERGENCY, first, -pk)


def key_of(event: Event) -> tuple:
    return precedence_key(
        priority=event.priority,
        event_type=event.event_type,
        scheduled_at=event.scheduled_at,
        pk=event.pk,
    )


@dataclass(frozen=True)
class Holder:
    event_id: int
    precedes: bool  # the holding event takes precedence over the one asking
    since: datetime  # when the vehicle became that event's


def holders(*, event: Event, vehicle_ids: Iterable[int]) -> dict[int, Holder]:
    """Vehicle id → the other live event overlapping ``event`` that has it dispatched (the
    one that takes precedence, if several), in one query."""
    rows = (
        EventParticipant.objects.filter(
            vehicle_id__in=list(vehicle_ids),
            role=EventParticipant.Role.SELECTED,
            event__cancelled_at__isnull=True,
            event__scheduled_at__isnull=False,
            event__starts_at__lt=event.ends_at,
            event__ends_at__gt=event.starts_at,
        )
        .exclude(event_id=event.pk)
        .values_list(
            "vehicle_id", "selected_at", "event_id", "event__priority", "event__event_type",
            "event__scheduled_at", "event__starts_at",
        )
    )  # fmt: skip
    mine = key_of(event)
    found: dict[int, tuple[tuple, Holder]] = {}
    for vid, selected_at, eid, priority, event_type, scheduled_at, starts_at in rows:
        key = precedence_key(
            priority=priority, event_type=event_type, scheduled_at=scheduled_at, pk=eid
        )
        since = max(starts_at, selected_at) if selected_at else starts_at
        holder = Holder(event_id=eid, precedes=key > mine, since=since)
        if vid not in found or key > found[vid][0]:
            found[vid] = (key, holder)
    return {vid: holder for vid, (_, holder) in found.items()}


def held_elsewhere(*, event: Event, vehicle_ids: Iterable[int], now: datetime) -> set[int]:
    """Vehicles another live event has dispatched (selected, not over yet): a restore from
    ``event`` must leave them alone."""
    return set(
        EventParticipant.objects.filter(
            vehicle_id__in=list(vehicle_ids),
            role=EventParticipant.Role.SELECTED,
            event__cancelled_at__isnull=True,
            event__scheduled_at__isnull=False,
            event__ends_at__gt=now,
        )
        .exclude(event_id=event.pk)
        .values_list("vehicle_id", flat=True)
    )


def taken_reason(event_id: int) -> str:
    return f"taken by event #{event_id}, which takes precedence"


def blocked_reason(event_id: int) -> str:
    return f"committed to event #{event_id}, which takes precedence"
