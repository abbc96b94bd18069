"""Re-planning an event while it runs: dropping the vehicles that can no longer take part and
bringing in reserves for the intervals not over yet (see the package docstring)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django_scopes import scope

from devices.models import DeviceCommand
from devices.selectors import LatestState, latest_states
from dispatch.execution.base import PLANNABLE, ExecutionResult, locked_event, planning_kind
from dispatch.execution.commands import (
    command_specs,
    event_commands,
    issue,
    restore_specs,
    withdraw,
)
from dispatch.execution.participants import Role, assignment_of, count_reasons, record_run
from dispatch.models import Event, EventParticipant, EventPlanRun
from dispatch.planning import planner, precedence, profile
from dispatch.planning.inputs import event_input, offline_after, opted_out_vehicles
from portal.audit import record

REPLANNED_ACTION = "event.replanned"
# A dispatched vehicle delivering less than this share of its command, this long after its
# command started, is replaced (telemetry shortfall).
SHORTFALL_SHARE = 0.5
SHORTFALL_GRACE = timedelta(minutes=10)
Exclusion = planner.Exclusion


def _shortfall(p: EventParticipant, state: LatestState, now: datetime, share: float = 1.0) -> bool:
    """The vehicle's latest reading, taken well into its command, shows it delivering less
    than ``SHORTFALL_SHARE`` of what it was asked (``share``: the part of its planned power
    the target interval running then asks for, ``planner.step_shares``)."""
    if p.active_from is None or p.active_until is None or share <= 0:
        return False
    if not (p.active_from + SHORTFALL_GRACE <= state.ts < p.active_until):
        return False
    power = state.power_kw or 0.0
    if p.power_kw < 0:  # discharge: exporting at least half the setpoint
        return power > p.power_kw * share * SHORTFALL_SHARE
    if p.power_kw > 0:  # pre-charge
        return power < p.power_kw * share * SHORTFALL_SHARE
    # V1G curtailment: less than half the reduction asked for taken off its charging
    baseline = p.baseline_charging_kw
    return baseline > 0 and power > baseline * (1.0 - share * SHORTFALL_SHARE)


def share_at(plan_event: planner.EventInput, committed_kw, moment: datetime) -> float:
    """The share of its planned power a dispatched vehicle is asked for at ``moment``."""
    shares = profile.step_shares(plan_event, tuple(committed_kw))
    for step, share in zip(plan_event.steps, shares, strict=True):
        if step.start <= moment < step.end:
            return share
    return 1.0


def detect_changes(
    event: Event,
    participants: list[EventParticipant],
    *,
    now: datetime,
    active: bool,
    states: Mapping[int, LatestState] | None = None,
    shares: Callable[[datetime], float] | None = None,
) -> dict[int, str]:
    """Why each dispatched or reserve vehicle can no longer take part, if it cannot
    (``shares``: the share of its planned power asked for at a moment, ``share_at``)."""
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
        elif (
            active
            and p.vehicle_id in selected
            and _shortfall(p, state, now, shares(state.ts) if shares else 1.0)
        ):
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
        event = locked_event(utility_id=utility_id, event_id=event_id)
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
        grid = [datetime.fromisoformat(s) for s in run.interval_starts]
        step = timedelta(minutes=run.interval_minutes)
        plan_event = event_input(event, kind, start=grid[0])
        reasons = detect_changes(
            event,
            participants,
            now=now,
            active=status == Event.Status.ACTIVE,
            states=states,
            shares=lambda moment: share_at(plan_event, run.committed_kw, moment),
        )
        if not reasons:
            return ExecutionResult("unchanged")
        if plan_event.interval_count != len(run.committed_kw):  # the end moved: not ours
            return ExecutionResult("not_planned")
        by_vehicle = {p.vehicle_id: p for p in participants}
        selected = [assignment_of(p) for p in participants if p.role == Role.SELECTED]
        reserves = sorted(
            (assignment_of(p) for p in participants if p.role == Role.RESERVE),
            key=planner.fair_key,
        )
        plan = planner.Plan(
            event=plan_event,
            interval_starts=tuple(grid),
            selected=tuple(selected),
            reserves=tuple(reserves),
            committed_kw=tuple(run.committed_kw),
        )
        current = max(0, min(len(grid) - 1, int((now - grid[0]) / step)))
        result = planner.replan(plan, reasons, from_interval=current)
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
        counted = count_reasons(reasons[v] for v in [*dropped, *dropped_reserves])
        record_run(
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
