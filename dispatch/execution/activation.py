"""Planning an event: the first plan of each revision, its commands, and the withdrawal of an
earlier revision's (see the package docstring)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django_scopes import scope

from devices.models import DeviceCommand
from devices.selectors import LatestState
from dispatch import selectors
from dispatch.execution.base import (
    PLANNABLE,
    ExecutionResult,
    is_planned,
    locked_event,
    planning_kind,
)
from dispatch.execution.commands import (
    command_specs,
    event_commands,
    issue,
    restore_specs,
    withdraw,
)
from dispatch.execution.participants import (
    Role,
    count_reasons,
    participant_row,
    record_run,
    save_participants,
)
from dispatch.models import EventParticipant, EventPlanRun
from dispatch.planning import planner, precedence
from dispatch.planning.inputs import event_input, vehicle_inputs
from portal.audit import record
from portal.tasking import enqueue_on_commit

PLANNED_ACTION = "event.planned"  # audit row per planning run
Exclusion = planner.Exclusion


def activate_event(
    *,
    utility_id: int,
    event_id: int,
    now: datetime | None = None,
    states: Mapping[int, LatestState] | None = None,
) -> ExecutionResult:
    """Plan a notified or active event and issue its commands, once per modification.
    ``states``: see ``vehicle_inputs``."""
    now = now or timezone.now()
    with scope(utility=utility_id), transaction.atomic():
        event = locked_event(utility_id=utility_id, event_id=event_id)
        if event.status_at(now) not in PLANNABLE:
            return ExecutionResult("not_plannable")
        if is_planned(event):
            return ExecutionResult("already_planned")
        kind = planning_kind(event)
        start = event.starts_at if now < event.starts_at else now.replace(microsecond=0)
        if kind is None:  # a price signal: nothing to command, nothing to plan again
            plan = planner.plan(event_input(event, planner.EventKind.V2G_EXPORT, start=start), [])
            record_run(event, plan, kind=EventPlanRun.Kind.PLAN, now=now, commands=0)
            return ExecutionResult("nothing_to_send")
        participants = EventParticipant.objects.filter(event=event)
        dropped_before = set(
            participants.filter(role=Role.DROPPED).values_list("vehicle_id", flat=True)
        )
        previously_selected = set(
            participants.filter(role=Role.SELECTED).values_list("vehicle_id", flat=True)
        )
        targeted = selectors.targeted_vehicles_for_event(event).values_list("pk", flat=True)
        held = precedence.holders(event=event, vehicle_ids=targeted)
        blocked = {vid: h.event_id for vid, h in held.items() if h.precedes}
        inputs = vehicle_inputs(
            event, kind, now=now, skip=dropped_before | set(blocked), states=states
        )
        plan = planner.plan(event_input(event, kind, start=start), inputs.vehicles)
        rows = [
            participant_row(event, a.vehicle_id, Role.SELECTED, inputs=inputs, now=now, a=a,
                         plan_start=start)
            for a in plan.selected
        ] + [
            participant_row(event, a.vehicle_id, Role.RESERVE, inputs=inputs, now=now, a=a,
                         plan_start=start)
            for a in plan.reserves
        ] + [
            participant_row(event, vid, Role.EXCLUDED, inputs=inputs, now=now, reason=why)
            for vid, why in plan.excluded.items()
        ] + [
            participant_row(event, vid, Role.EXCLUDED, inputs=inputs, now=now,
                         reason=Exclusion.OFFLINE)
            for vid in inputs.offline
        ] + [
            participant_row(event, vid, Role.EXCLUDED, inputs=inputs, now=now,
                         reason=precedence.blocked_reason(holder))
            for vid, holder in blocked.items()
        ]  # fmt: skip
        save_participants(rows)
        # An earlier revision's commands are withdrawn; its vehicles not dispatched now are
        # restored.
        selected_now = {a.vehicle_id for a in plan.selected}
        withdrawn = withdraw(
            event,
            event_commands(event)
            .filter(revision__lt=event.modification_number)
            .exclude(kind=DeviceCommand.Kind.RESTORE),
        )
        specs = command_specs(plan, kind) + restore_specs(
            event, previously_selected - selected_now, now=now
        )
        created = issue(event, specs)
        excluded_reasons = (
            list(plan.excluded.values())
            + [Exclusion.OFFLINE] * len(inputs.offline)
            + [precedence.blocked_reason(holder) for holder in blocked.values()]
        )
        # The events this one takes vehicles from re-plan without them (from when its own
        # commands begin: beat re-plans every minute; at once if that is now).
        for other in sorted({h.event_id for v, h in held.items() if v in selected_now}):
            if not held_precedes(held, other):
                enqueue_on_commit(_replan_task(), utility_id=utility_id, event_id=other)
        record_run(
            event,
            plan,
            kind=EventPlanRun.Kind.PLAN,
            now=now,
            commands=len(specs),
            reasons=count_reasons(excluded_reasons),
            excluded=len(excluded_reasons),
        )
        record(
            action=PLANNED_ACTION,
            utility=event.utility,
            obj=event,
            changes={
                "revision": event.modification_number,
                "selected": len(plan.selected),
                "reserves": len(plan.reserves),
                "excluded": len(excluded_reasons),
                "committed_kw": [round(kw, 2) for kw in plan.committed_kw],
                "commands": len(specs),
                "withdrawn": withdrawn,
            },
        )
        if not specs:
            return ExecutionResult("nothing_to_send")
        return ExecutionResult("issued", created=created, vehicles=len(selected_now))


def held_precedes(held: Mapping[int, precedence.Holder], event_id: int) -> bool:
    """Whether the event ``event_id`` (a holder of some vehicles) takes precedence."""
    return any(h.precedes for h in held.values() if h.event_id == event_id)


def _replan_task():
    from dispatch.tasks import replan_event  # the tasks module imports this one

    return replan_event
