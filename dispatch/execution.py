"""Turning a committed event into device commands, and keeping the plan whole while it runs
(issue 6, "Planning" and "Execution").

``activate_event`` plans an event once per modification number: it records an
``EventPlanRun`` and one ``EventParticipant`` per vehicle considered (dispatched, reserve or
excluded, with the reason), then issues ONE command per dispatched vehicle — the planner's
constant setpoint over the vehicle's active window (randomized start and hour cap included).
A later revision (an extension) plans again from that moment: the previous revision's live
commands are withdrawn (cancelled through the adapters), vehicles still dispatched get the
new revision's command, the others a restore.

``replan_event`` runs while the event is notified or active (beat every minute, and at once
after an opt-out or a rejected / failed command): dispatched vehicles that opted out, whose
command was rejected or failed, that went offline or unplugged, or whose telemetry shows they
are not delivering are dropped (restore command, live commands withdrawn) and reserves are
brought in, in their fair order, until every interval not yet over meets the goal again.

``cancel_or_end`` sends restore commands after a cancellation or an early end, and withdraws
the event's live commands.

Every command is keyed by (``dispatch.event``, event id, vehicle, revision, sequence), so
running any of these again issues nothing new (``dispatch.commands``). All three take the
caller's ``utility_id`` and run inside that utility's scope, with the event row locked, so
two workers never plan the same event at once and an event id of another utility is refused
(``UnknownEvent``), never acted on in the other utility's scope. The planner's inputs are
read by ``dispatch.plan_inputs``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django_scopes import scope

from devices.models import DeviceCommand
from devices.selectors import LatestState, latest_states
from dispatch import planning, precedence, selectors
from dispatch.commands import (
    SOURCE_TYPE,
    active_window,
    command_specs,
    event_commands,
    issue,
    restore_specs,
    withdraw,
)
from dispatch.models import Event, EventParticipant, EventPlanRun
from dispatch.plan_inputs import (
    Inputs,
    event_input,
    offline_after,
    opted_out_vehicles,
    vehicle_inputs,
)
from enrollment.models import Program
from portal.audit import record
from portal.bulk import bulk_insert
from portal.errors import DomainError
from portal.tasking import enqueue_on_commit

__all__ = ["SOURCE_TYPE", "event_commands", "activate_event", "replan_event", "cancel_or_end"]

PLANNED_ACTION = "event.planned"  # audit row per planning run
REPLANNED_ACTION = "event.replanned"
PLANNABLE = {Event.Status.NOTIFIED, Event.Status.ACTIVE}
# A dispatched vehicle delivering less than this share of its command, this long after its
# command started, is replaced (telemetry shortfall).
SHORTFALL_SHARE = 0.5
SHORTFALL_GRACE = timedelta(minutes=10)

Role = EventParticipant.Role
Exclusion = planning.Exclusion

_KIND_BY_TYPE = {
    Event.Type.V2H_HOME_SUPPLY: planning.EventKind.V2H_HOME_SUPPLY,
    Event.Type.V2G_EXPORT: planning.EventKind.V2G_EXPORT,
    Event.Type.EMERGENCY: planning.EventKind.EMERGENCY,
    Event.Type.LOAD_REDUCTION: planning.EventKind.LOAD_REDUCTION,
    Event.Type.RESILIENCE_PRECHARGE: planning.EventKind.RESILIENCE_PRECHARGE,
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


def planning_kind(event: Event) -> planning.EventKind | None:
    """The planner's kind for the event; None for events that send no commands (price
    signals). Emergency and test events follow the program: curtailment for V1G."""
    v1g = event.program.kind == Program.Kind.V1G
    if event.event_type == Event.Type.PRICE_SIGNAL:
        return None
    if event.event_type == Event.Type.TEST or (event.event_type == Event.Type.EMERGENCY and v1g):
        return planning.EventKind.LOAD_REDUCTION if v1g else planning.EventKind.V2H_HOME_SUPPLY
    return _KIND_BY_TYPE.get(event.event_type)


def is_planned(event: Event) -> bool:
    """The event was planned for its current modification number."""
    return EventPlanRun.objects.filter(event=event, revision=event.modification_number).exists()


def _locked_event(*, utility_id: int, event_id: int) -> Event:
    """The event, row locked, looked up in ``utility_id``'s scope only (call inside it)."""
    try:
        return (
            Event.objects.select_for_update(of=("self",))
            .select_related("program", "utility")
            .get(pk=event_id, utility_id=utility_id)
        )
    except Event.DoesNotExist:
        raise UnknownEvent(f"Utility #{utility_id} has no event #{event_id}.") from None


# --- Participants -----------------------------------------------------------------------


_PARTICIPANT_COLUMNS = (
    "utility_id", "event_id", "vehicle_id", "enrollment_id", "role", "reason", "revision",
    "rating_kw", "selected_at", "power_kw", "active_from", "active_until",
    "baseline_charging_kw", "energy_kwh", "plan_offset_minutes", "plan_duration_hours",
    "setpoints_kw", "contribution_kw", "available_kwh", "events_this_season",
)  # fmt: skip
_UPDATED_ON_REPLAN = ", ".join(
    f"{c} = EXCLUDED.{c}"
    for c in _PARTICIPANT_COLUMNS
    if c not in ("utility_id", "event_id", "vehicle_id")
)


def _participant(
    event: Event,
    vehicle_id: int,
    role: str,
    *,
    inputs: Inputs,
    now: datetime,
    reason: str = "",
    a: planning.Assignment | None = None,
    plan_start: datetime | None = None,
) -> tuple:
    """One participant row, in ``_PARTICIPANT_COLUMNS`` order."""
    head = (
        event.utility_id, event.pk, vehicle_id, inputs.enrollment_of.get(vehicle_id), role,
        str(reason)[:80], event.modification_number, inputs.rating_of.get(vehicle_id, 0.0),
        now if role == Role.SELECTED else None,
    )  # fmt: skip
    if a is None:
        return (*head, 0.0, None, None, 0.0, 0.0, 0, 0.0, [], [], 0.0, 0)
    begins, ends = active_window(plan_start, a, event.ends_at)
    return (
        *head, a.power_kw, begins, ends, a.baseline_kw, a.energy_kwh, a.start_offset_minutes,
        a.duration_hours, [round(x, 4) for x in a.setpoints_kw],
        [round(x, 4) for x in a.contribution_kw], a.available_kwh, a.events_this_season,
    )  # fmt: skip


def _save_participants(rows: list[tuple]) -> None:
    """Insert the rows; a vehicle already in the event (an earlier revision) is updated."""
    bulk_insert(
        EventParticipant,
        _PARTICIPANT_COLUMNS,
        rows,
        conflict=f"ON CONFLICT (event_id, vehicle_id) DO UPDATE SET {_UPDATED_ON_REPLAN}",
    )


def _assignment(p: EventParticipant) -> planning.Assignment:
    return planning.Assignment(
        vehicle_id=p.vehicle_id,
        power_kw=p.power_kw,
        start_offset_minutes=p.plan_offset_minutes,
        duration_hours=p.plan_duration_hours,
        setpoints_kw=tuple(p.setpoints_kw),
        contribution_kw=tuple(p.contribution_kw),
        energy_kwh=p.energy_kwh,
        baseline_kw=p.baseline_charging_kw,
        events_this_season=p.events_this_season,
        available_kwh=p.available_kwh,
    )


def _run(
    event: Event,
    plan: planning.Plan,
    *,
    kind: str,
    now: datetime,
    commands: int,
    added: int = 0,
    dropped: int = 0,
    reasons: Mapping[str, int] | None = None,
    excluded: int | None = None,
) -> EventPlanRun:
    return EventPlanRun.objects.create(
        utility_id=event.utility_id,
        event=event,
        revision=event.modification_number,
        kind=kind,
        created_at=now,
        interval_minutes=plan.event.interval_minutes,
        interval_starts=[s.isoformat() for s in plan.interval_starts],
        goal_kw=plan.goal_kw,
        committed_kw=[round(kw, 3) for kw in plan.committed_kw],
        selected=len(plan.selected),
        reserves=len(plan.reserves),
        excluded=len(plan.excluded) if excluded is None else excluded,
        added=added,
        dropped=dropped,
        commands=commands,
        reasons=dict(reasons or {}),
    )


def _count_reasons(reasons: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for r in reasons:
        counts[str(r)] += 1
    return dict(counts)


# --- Planning an event (first plan of each revision) ------------------------------------


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
        event = _locked_event(utility_id=utility_id, event_id=event_id)
        if event.status_at(now) not in PLANNABLE:
            return ExecutionResult("not_plannable")
        if is_planned(event):
            return ExecutionResult("already_planned")
        kind = planning_kind(event)
        start = event.starts_at if now < event.starts_at else now.replace(microsecond=0)
        if kind is None:  # a price signal: nothing to command, nothing to plan again
            plan = planning.plan(event_input(event, planning.EventKind.V2G_EXPORT, start=start), [])
            _run(event, plan, kind=EventPlanRun.Kind.PLAN, now=now, commands=0)
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
        plan = planning.plan(event_input(event, kind, start=start), inputs.vehicles)
        rows = [
            _participant(event, a.vehicle_id, Role.SELECTED, inputs=inputs, now=now, a=a,
                         plan_start=start)
            for a in plan.selected
        ] + [
            _participant(event, a.vehicle_id, Role.RESERVE, inputs=inputs, now=now, a=a,
                         plan_start=start)
            for a in plan.reserves
        ] + [
            _participant(event, vid, Role.EXCLUDED, inputs=inputs, now=now, reason=why)
            for vid, why in plan.excluded.items()
        ] + [
            _participant(event, vid, Role.EXCLUDED, inputs=inputs, now=now,
                         reason=Exclusion.OFFLINE)
            for vid in inputs.offline
        ] + [
            _participant(event, vid, Role.EXCLUDED, inputs=inputs, now=now,
                         reason=precedence.blocked_reason(holder))
            for vid, holder in blocked.items()
        ]  # fmt: skip
        _save_participants(rows)
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
        _run(
            event,
            plan,
            kind=EventPlanRun.Kind.PLAN,
            now=now,
            commands=len(specs),
            reasons=_count_reasons(excluded_reasons),
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


# --- Re-planning during the event --------------------------------------------------------


def _shortfall(p: EventParticipant, state: LatestState, now: datetime) -> bool:
    """The vehicle's latest reading, taken well into its command, shows it delivering less
    than ``SHORTFALL_SHARE`` of what it was asked."""
    if p.active_from is None or p.active_until is None:
        return False
    if not (p.active_from + SHORTFALL_GRACE <= state.ts < p.active_until):
        return False
    power = state.power_kw or 0.0
    if p.power_kw < 0:  # discharge: exporting at least half the setpoint
        return power > p.power_kw * SHORTFALL_SHARE
    if p.power_kw > 0:  # pre-charge
        return power < p.power_kw * SHORTFALL_SHARE
    # V1G curtailment: still charging at more than half the curtailed rate
    return p.baseline_charging_kw > 0 and power > p.baseline_charging_kw * SHORTFALL_SHARE


def detect_changes(
    event: Event,
    participants: list[EventParticipant],
    *,
    now: datetime,
    active: bool,
    states: Mapping[int, LatestState] | None = None,
) -> dict[int, str]:
    """Why each dispatched or reserve vehicle can no longer take part, if it cannot."""
    ids = [p.vehicle_id for p in participants]
    selected = {p.vehicle_id: p for p in participants if p.role == Role.SELECTED}
    reasons: dict[int, str] = {}
    if states is None:
        states = latest_states(vehicle_ids=ids)
    stale_before = now - offline_after()
    for p in participants:
        state = states.get(p.vehicle_id)
        if state is None or state.ts < stale_before:
            reasons[p.vehicle_id] = Exclusion.OFFLINE
        elif active and not state.plugged_in:
            reasons[p.vehicle_id] = Exclusion.NOT_PLUGGED_IN
        elif active and p.vehicle_id in selected and _shortfall(p, state, now):
            reasons[p.vehicle_id] = Exclusion.UNDERDELIVERING
    command_states = (
        event_commands(event)
        .filter(revision=event.modification_number, vehicle_id__in=list(selected))
        .exclude(kind=DeviceCommand.Kind.RESTORE)
        .values_list("vehicle_id", "status")
    )
    by_status = {
        DeviceCommand.Status.REJECTED: Exclusion.REJECTED,
        DeviceCommand.Status.FAILED: Exclusion.COMMAND_FAILED,
        DeviceCommand.Status.OPTED_OUT: Exclusion.OPTED_OUT_DURING_EVENT,
    }
    for vid, status in command_states:
        if status in by_status:
            reasons[vid] = by_status[status]
    for vid in opted_out_vehicles(event, ids):
        reasons[vid] = Exclusion.OPTED_OUT_DURING_EVENT
    for vid, holder in precedence.holders(event=event, vehicle_ids=ids).items():
        if holder.precedes and holder.since <= now:
            reasons[vid] = precedence.taken_reason(holder.event_id)
    return reasons


def replan_event(
    *,
    utility_id: int,
    event_id: int,
    now: datetime | None = None,
    states: Mapping[int, LatestState] | None = None,
) -> ExecutionResult:
    """Drop dispatched and reserve vehicles that can no longer take part and bring in
    reserves for the intervals not over yet (see the module docstring). ``states``: see
    ``vehicle_inputs``."""
    now = now or timezone.now()
    with scope(utility=utility_id), transaction.atomic():
        event = _locked_event(utility_id=utility_id, event_id=event_id)
        status = event.status_at(now)
        if status not in PLANNABLE:
            return ExecutionResult("not_plannable")
        kind = planning_kind(event)
        run = (
            EventPlanRun.objects.filter(event=event, revision=event.modification_number)
            .order_by("-created_at", "-id")
            .first()
        )
        if run is None or kind is None:
            return ExecutionResult("not_planned")
        participants = list(
            EventParticipant.objects.filter(
                event=event,
                revision=event.modification_number,
                role__in=[Role.SELECTED, Role.RESERVE],
            ).order_by("selected_at", "pk")
        )
        reasons = detect_changes(
            event, participants, now=now, active=status == Event.Status.ACTIVE, states=states
        )
        if not reasons:
            return ExecutionResult("unchanged")
        grid = [datetime.fromisoformat(s) for s in run.interval_starts]
        step = timedelta(minutes=run.interval_minutes)
        plan_event = event_input(event, kind, start=grid[0])
        if plan_event.interval_count != len(run.committed_kw):  # the end moved: not ours
            return ExecutionResult("not_planned")
        by_vehicle = {p.vehicle_id: p for p in participants}
        selected = [_assignment(p) for p in participants if p.role == Role.SELECTED]
        reserves = sorted(
            (_assignment(p) for p in participants if p.role == Role.RESERVE),
            key=planning.fair_key,
        )
        plan = planning.Plan(
            event=plan_event,
            interval_starts=tuple(grid),
            selected=tuple(selected),
            reserves=tuple(reserves),
            committed_kw=tuple(run.committed_kw),
        )
        current = max(0, min(len(grid) - 1, int((now - grid[0]) / step)))
        result = planning.replan(plan, reasons, from_interval=current)
        dropped = list(result.restore)
        dropped_reserves = [
            vid
            for vid, p in by_vehicle.items()
            if p.role == Role.RESERVE and vid in reasons and vid not in result.added
        ]
        # A vehicle another event took counts here until that event's command began.
        taken = {
            vid: h.since
            for vid, h in precedence.holders(event=event, vehicle_ids=dropped).items()
            if h.precedes and h.since <= now
        }
        for vid in dropped:
            p = by_vehicle[vid]
            p.role, p.reason = Role.DROPPED, str(reasons[vid])[:80]
            p.dropped_at = taken.get(vid, now)
        for vid in dropped_reserves:
            p = by_vehicle[vid]
            p.role, p.reason = Role.EXCLUDED, str(reasons[vid])[:80]
        added = [a for a in result.plan.selected if a.vehicle_id in set(result.added)]
        for a in added:
            p = by_vehicle[a.vehicle_id]
            p.role, p.selected_at = Role.SELECTED, now
            p.active_from = max(p.active_from, now)  # its command starts now at the earliest
        EventParticipant.objects.bulk_update(
            [by_vehicle[v] for v in [*dropped, *dropped_reserves, *result.added]],
            ["role", "reason", "dropped_at", "selected_at", "active_from"],
            batch_size=2000,
        )
        withdraw(
            event,
            event_commands(event)
            .filter(vehicle_id__in=dropped)
            .exclude(kind=DeviceCommand.Kind.RESTORE),
        )
        specs = command_specs(result.plan, kind, added, not_before=now) + restore_specs(
            event, dropped, now=now
        )
        created = issue(event, specs)
        counted = _count_reasons(reasons[v] for v in [*dropped, *dropped_reserves])
        _run(
            event,
            result.plan,
            kind=EventPlanRun.Kind.REPLAN,
            now=now,
            commands=len(specs),
            added=len(added),
            dropped=len(dropped),
            reasons=counted,
        )
        record(
            action=REPLANNED_ACTION,
            utility=event.utility,
            obj=event,
            comment=", ".join(f"{n} {why}" for why, n in sorted(counted.items())),
            changes={
                "revision": event.modification_number,
                "dropped": len(dropped),
                "added": len(added),
                "reserves_left": len(result.plan.reserves),
                "committed_kw": [round(kw, 2) for kw in result.plan.committed_kw],
                "commands": len(specs),
            },
        )
        return ExecutionResult("replanned", created=created, added=len(added), dropped=len(dropped))


# --- Cancellation and early end ---------------------------------------------------------


def cancel_or_end(
    *, utility_id: int, event_id: int, now: datetime | None = None
) -> ExecutionResult:
    """After a cancellation or an early end: withdraw the event's live commands and send a
    restore command, at the event's current revision, to every vehicle that had one."""
    now = now or timezone.now()
    with scope(utility=utility_id), transaction.atomic():
        event = _locked_event(utility_id=utility_id, event_id=event_id)
        if event.cancelled_at is None and event.ended_early_at is None:
            return ExecutionResult("not_plannable")
        commands = event_commands(event).exclude(kind=DeviceCommand.Kind.RESTORE)
        vehicle_ids = set(commands.values_list("vehicle_id", flat=True))
        if not vehicle_ids:
            return ExecutionResult("nothing_to_send")
        withdraw(event, commands)
        created = issue(event, restore_specs(event, vehicle_ids, now=now, stagger=True))
        return ExecutionResult("issued", created=created, vehicles=len(vehicle_ids))


def held_precedes(held: Mapping[int, precedence.Holder], event_id: int) -> bool:
    """Whether the event ``event_id`` (a holder of some vehicles) takes precedence."""
    return any(h.precedes for h in held.values() if h.event_id == event_id)


def _replan_task():
    from dispatch.tasks import replan_event  # the tasks module imports this one

    return replan_event
