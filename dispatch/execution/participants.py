"""What an execution step records: one ``EventParticipant`` row per vehicle it considered
(inserted in bulk, updated for a vehicle an earlier revision already had) and one
``EventPlanRun`` per planning or re-planning run."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime

from dispatch.execution.commands import active_window
from dispatch.models import Event, EventParticipant, EventPlanRun
from dispatch.planning import planner
from dispatch.planning.inputs import Inputs
from portal.bulk import bulk_insert

Role = EventParticipant.Role

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


def participant_row(
    event: Event,
    vehicle_id: int,
    role: str,
    *,
    inputs: Inputs,
    now: datetime,
    reason: str = "",
    a: planner.Assignment | None = None,
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


def save_participants(rows: list[tuple]) -> None:
    """Insert the rows; a vehicle already in the event (an earlier revision) is updated."""
    bulk_insert(
        EventParticipant,
        _PARTICIPANT_COLUMNS,
        rows,
        conflict=f"ON CONFLICT (event_id, vehicle_id) DO UPDATE SET {_UPDATED_ON_REPLAN}",
    )


def assignment_of(p: EventParticipant) -> planner.Assignment:
    return planner.Assignment(
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


def record_run(
    event: Event,
    plan: planner.Plan,
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


def count_reasons(reasons: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for r in reasons:
        counts[str(r)] += 1
    return dict(counts)
