"""What every execution step shares: the event row locked in the task's utility, the
planner's kind for an event, and the result each step returns."""

from __future__ import annotations

from dataclasses import dataclass

from dispatch.models import Event, EventPlanRun
from dispatch.planning import planner
from enrollment.models import Program
from portal.errors import DomainError

PLANNABLE = {Event.Status.NOTIFIED, Event.Status.ACTIVE}

_KIND_BY_TYPE = {
    Event.Type.V2H_HOME_SUPPLY: planner.EventKind.V2H_HOME_SUPPLY,
    Event.Type.V2G_EXPORT: planner.EventKind.V2G_EXPORT,
    Event.Type.EMERGENCY: planner.EventKind.EMERGENCY,
    Event.Type.LOAD_REDUCTION: planner.EventKind.LOAD_REDUCTION,
    Event.Type.RESILIENCE_PRECHARGE: planner.EventKind.RESILIENCE_PRECHARGE,
}


class UnknownEvent(DomainError):
    """The task's utility has no such event: an id from another utility (or a stale one)
    is refused, never acted on in that other utility's scope."""

    code = "event_unknown"


@dataclass(frozen=True)
class ExecutionResult:
    # "issued", "already_planned", "not_plannable", "nothing_to_send", "not_planned",
    # "unchanged", "replanned"
    status: str
    created: int = 0
    vehicles: int = 0
    added: int = 0
    dropped: int = 0


def planning_kind(event: Event) -> planner.EventKind | None:
    """The planner's kind for the event; None for events that send no commands (price
    signals). Emergency and test events follow the program: curtailment for V1G."""
    v1g = event.program.kind == Program.Kind.V1G
    if event.event_type == Event.Type.PRICE_SIGNAL:
        return None
    if event.event_type == Event.Type.TEST or (event.event_type == Event.Type.EMERGENCY and v1g):
        return planner.EventKind.LOAD_REDUCTION if v1g else planner.EventKind.V2H_HOME_SUPPLY
    return _KIND_BY_TYPE.get(event.event_type)


def is_planned(event: Event) -> bool:
    """The event was planned for its current modification number."""
    return EventPlanRun.objects.filter(event=event, revision=event.modification_number).exists()


def locked_event(*, utility_id: int, event_id: int) -> Event:
    """The event, row locked, looked up in ``utility_id``'s scope only (call inside it)."""
    try:
        return (
            Event.objects.select_for_update(of=("self",))
            .select_related("program", "utility")
            .get(pk=event_id, utility_id=utility_id)
        )
    except Event.DoesNotExist:
        raise UnknownEvent(f"Utility #{utility_id} has no event #{event_id}.") from None
