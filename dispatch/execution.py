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
running any of these again issues nothing new: sequence 0 is a vehicle's event command,
``RESTORE_SEQUENCE`` its restore. All three run inside the event's utility scope, with the
event row locked, so two workers never plan the same event at once.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from devices import tasks as adapter_tasks
from devices.limits import limits_for_vehicles, vehicle_rows
from devices.models import CustomerPreference, DeviceCommand, OptOut, TelemetryRollup
from devices.selectors import LatestState, latest_states
from devices.services.commands import LIVE_COMMAND_STATUSES, CommandSpec, issue_commands
from dispatch import guardrails, planning, selectors
from dispatch.models import Event, EventParticipant, EventPlanRun
from enrollment.models import Enrollment, Program
from portal.audit import record
from portal.bulk import among, bulk_insert
from portal.models import PartnerAgreement
from portal.tasking import enqueue_on_commit

SOURCE_TYPE = "dispatch.event"
PLANNED_ACTION = "event.planned"  # audit row per planning run
REPLANNED_ACTION = "event.replanned"
EVENT_SEQUENCE = 0
RESTORE_SEQUENCE = 1_000_000
RESTORE_MINUTES = 15  # a restore's window when the event's planned end has passed
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
_COMMAND_KIND = {
    planning.EventKind.V2H_HOME_SUPPLY: DeviceCommand.Kind.DISCHARGE,
    planning.EventKind.V2G_EXPORT: DeviceCommand.Kind.DISCHARGE,
    planning.EventKind.EMERGENCY: DeviceCommand.Kind.DISCHARGE,
    planning.EventKind.RESILIENCE_PRECHARGE: DeviceCommand.Kind.CHARGE,
    planning.EventKind.LOAD_REDUCTION: DeviceCommand.Kind.CURTAIL,
}


def offline_after() -> timedelta:
    """A vehicle whose latest state is older than this is offline: not planned, and
    replaced when dispatched."""
    return timedelta(minutes=settings.DISPATCH_OFFLINE_AFTER_MINUTES)


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


def event_commands(event: Event) -> QuerySet[DeviceCommand]:
    return DeviceCommand.objects.filter(source_type=SOURCE_TYPE, source_id=str(event.pk))


# --- Planner inputs ---------------------------------------------------------------------


def _local_midnight(day: date, tz) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def _count_spans(event: Event) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
    """(month, season) of the event's start, in the utility's zone, as [start, end) times.
    Outside every season the "season" is the calendar year."""
    tz = event.utility.tzinfo
    day = event.starts_at.astimezone(tz).date()
    month_start = day.replace(day=1)
    month_after = (month_start + timedelta(days=32)).replace(day=1)
    span = guardrails.season_span(event.program.seasons or [], day)
    if span is None:
        first, after = day.replace(month=1, day=1), day.replace(year=day.year + 1, month=1, day=1)
    else:
        _, first, after = span
    return (
        (_local_midnight(month_start, tz), _local_midnight(month_after, tz)),
        (_local_midnight(first, tz), _local_midnight(after, tz)),
    )


def _event_counts(event: Event, vehicles: QuerySet) -> dict[int, tuple[int, int]]:
    """Per vehicle: (events this season, events this month) it was dispatched in, other
    than this one and cancelled ones, one query."""
    (m0, m1), (s0, s1) = _count_spans(event)
    rows = (
        EventParticipant.objects.filter(
            vehicle_id__in=vehicles.values("pk"),
            selected_at__isnull=False,
            event__cancelled_at__isnull=True,
            event__starts_at__gte=min(m0, s0),
            event__starts_at__lt=max(m1, s1),
        )
        .exclude(event=event)
        .values("vehicle_id")
        .annotate(
            season=Count("event", filter=Q(event__starts_at__gte=s0, event__starts_at__lt=s1)),
            month=Count("event", filter=Q(event__starts_at__gte=m0, event__starts_at__lt=m1)),
        )
        .values_list("vehicle_id", "season", "month")
    )
    return {vid: (season, month) for vid, season, month in rows}


def _departures(event: Event, vehicles: QuerySet) -> dict[int, tuple[datetime, float | None]]:
    """Per vehicle with a departure time set in the driver's app: the first departure at or
    after the event's start (local time), and the SoC wanted then."""
    tz = event.utility.tzinfo
    start_local = event.starts_at.astimezone(tz)
    found = {}
    rows = CustomerPreference.objects.filter(
        vehicle_id__in=vehicles.values("pk"), departure_time__isnull=False
    ).values_list("vehicle_id", "departure_time", "target_soc_pct")
    for vid, departure_time, target in rows:
        at = datetime.combine(start_local.date(), departure_time, tzinfo=tz)
        if at < event.starts_at:
            at = datetime.combine(start_local.date() + timedelta(days=1), departure_time, tzinfo=tz)
        found[vid] = (at, target)
    return found


def _discharged_this_year(event: Event, vehicles: QuerySet) -> dict[int, float]:
    tz = event.utility.tzinfo
    year_start = _local_midnight(event.starts_at.astimezone(tz).date().replace(month=1, day=1), tz)
    rows = (
        TelemetryRollup.objects.filter(
            vehicle_id__in=vehicles.values("pk"),
            interval_start__gte=year_start,
            interval_start__lt=event.starts_at,
        )
        .values("vehicle_id")
        .annotate(kwh=Sum("energy_discharged_kwh"))
        .values_list("vehicle_id", "kwh")
    )
    return {vid: kwh or 0.0 for vid, kwh in rows}


def _opted_out_vehicles(event: Event, vehicle_ids: Iterable[int]) -> set[int]:
    return set(
        among(OptOut.objects.all(), "vehicle_id", list(vehicle_ids))
        .filter(
            Q(event_ref=str(event.pk)) | Q(starts_at__lt=event.ends_at, ends_at__gt=event.starts_at)
        )
        .values_list("vehicle_id", flat=True)
    )


@dataclass
class Inputs:
    vehicles: list[planning.VehicleInput]
    offline: list[int]  # vehicles with no recent state: excluded before planning
    enrollment_of: dict[int, int]
    rating_of: dict[int, float]


def vehicle_inputs(
    event: Event,
    kind: planning.EventKind,
    *,
    now: datetime,
    skip: Iterable[int] = (),
    states: Mapping[int, LatestState] | None = None,
) -> Inputs:
    """One planner input per targeted vehicle (``selectors.targeted_vehicles_for_event``)
    with a recent state, with its limits, opt-outs, events this season and month, departure
    and energy discharged this year, in a fixed number of queries. ``skip``: vehicles left
    out (dropped earlier in the event). ``states``: the states to plan from (replaying a past
    event); by default the latest reported ones."""
    targeted = selectors.targeted_vehicles_for_event(event).order_by()
    skip = set(skip)
    vehicles = [v for v in vehicle_rows(targeted) if v.pk not in skip]
    ids = [v.pk for v in vehicles]
    if states is None:
        states = latest_states(vehicle_ids=ids)
    limits = limits_for_vehicles(
        vehicles, at=event.starts_at, program=selectors.program_limit_source(event.program)
    )
    opted_out = _opted_out_vehicles(event, ids)
    counts = _event_counts(event, targeted)
    departures = _departures(event, targeted)
    discharged = _discharged_this_year(event, targeted) if kind in planning.DISCHARGE_KINDS else {}
    enrollment_of = dict(
        Enrollment.objects.filter(
            program=event.program,
            status=Enrollment.Status.ACTIVE,
            vehicle_id__in=targeted.values("pk"),
        ).values_list("vehicle_id", "pk")
    )
    stale_before = now - offline_after()
    inputs, offline, rating_of = [], [], {}
    for vehicle in vehicles:
        state = states.get(vehicle.pk)
        if state is None or state.ts < stale_before:
            offline.append(vehicle.pk)
            continue
        limit = limits[vehicle.pk]
        rating_of[vehicle.pk] = max(limit.max_charge_kw, limit.max_discharge_kw)
        season, month = counts.get(vehicle.pk, (0, 0))
        departure, target_soc = departures.get(vehicle.pk, (None, None))
        inputs.append(
            planning.VehicleInput(
                vehicle_id=vehicle.pk,
                limits=limit,
                soc_pct=state.soc_pct,
                usable_battery_kwh=vehicle.usable_battery_kwh or 0.0,
                plugged_in=state.plugged_in,
                opted_out=vehicle.pk in opted_out,
                events_this_season=season,
                events_this_month=month,
                charging_kw=max(0.0, state.power_kw or 0.0),
                departure=departure,
                departure_target_soc_pct=target_soc,
                discharged_this_year_kwh=discharged.get(vehicle.pk, 0.0),
            )
        )
    return Inputs(inputs, offline, enrollment_of, rating_of)


def event_input(
    event: Event, kind: planning.EventKind, *, start: datetime | None = None
) -> planning.EventInput:
    return planning.EventInput(
        kind=kind,
        start=start or event.starts_at,
        end=event.ends_at,
        target_kw=event.target_kw,
        randomize_start_minutes=event.randomize_start_minutes,
        seed=event.pk,
    )


# --- Commands ---------------------------------------------------------------------------


def _window(
    plan_start: datetime, a: planning.Assignment, end: datetime
) -> tuple[datetime, datetime]:
    begins = plan_start + timedelta(minutes=a.start_offset_minutes)
    return begins, min(begins + timedelta(hours=a.duration_hours), end)


def toward_zero(kw: float, places: int = 3) -> float:
    """``kw`` to ``places`` decimals, rounded toward zero: a command never asks for more than
    the plan allowed (a vehicle planned down to its floor stays above it)."""
    scale = 10**places
    # The nudge keeps float noise (9.6 × 1000 = 9599.999…) from costing a whole watt.
    return math.trunc(kw * scale + math.copysign(1e-6, kw)) / scale


def command_specs(
    plan: planning.Plan,
    kind: planning.EventKind,
    assignments: Iterable[planning.Assignment] | None = None,
    *,
    not_before: datetime | None = None,
) -> list[CommandSpec]:
    """One command per assignment over its active window (from ``not_before`` at the
    earliest: a reserve brought in mid-event starts now); none for a window already over."""
    command_kind = _COMMAND_KIND[kind]
    specs = []
    for a in plan.selected if assignments is None else assignments:
        begins, ends = _window(plan.event.start, a, plan.event.end)
        if not_before is not None:
            begins = max(begins, not_before)
        if ends <= begins:
            continue
        specs.append(
            CommandSpec(
                vehicle_id=a.vehicle_id,
                kind=command_kind,
                setpoint_kw=toward_zero(a.power_kw),
                starts_at=begins,
                ends_at=ends,
                sequence=EVENT_SEQUENCE,
            )
        )
    return specs


def restore_specs(event: Event, vehicle_ids: Iterable[int], *, now: datetime) -> list[CommandSpec]:
    """A restore command for each of ``vehicle_ids`` whose customer has not opted out of the
    event (an opt-out already hands the vehicle back: there is nothing to restore)."""
    vehicle_ids = set(vehicle_ids)
    if vehicle_ids:
        vehicle_ids -= _opted_out_vehicles(event, vehicle_ids)
    planned_end = event.starts_at + timedelta(
        minutes=event.duration_minutes + event.extended_minutes
    )
    end = max(planned_end, now + timedelta(minutes=RESTORE_MINUTES))
    return [
        CommandSpec(
            vehicle_id=vid,
            kind=DeviceCommand.Kind.RESTORE,
            setpoint_kw=0.0,
            starts_at=now,
            ends_at=end,
            sequence=RESTORE_SEQUENCE,
        )
        for vid in sorted(vehicle_ids)
    ]


def _issue(event: Event, specs: list[CommandSpec]) -> int:
    if not specs:
        return 0
    issued = issue_commands(
        source_type=SOURCE_TYPE,
        source_id=str(event.pk),
        revision=event.modification_number,
        specs=specs,
        with_commands=False,
    )
    if issued.pending_partner_ids:
        adapter_tasks.enqueue_delivery(
            utility_id=event.utility_id, partner_ids=issued.pending_partner_ids
        )
    return issued.created


def withdraw(event: Event, commands: QuerySet[DeviceCommand]) -> int:
    """Cancel these live commands through their partners' adapters once the transaction
    commits (pending ones never leave; accepted ones are cancelled at the partner)."""
    rows = list(commands.filter(status__in=LIVE_COMMAND_STATUSES).values_list("pk", "partner_id"))
    if not rows:
        return 0
    by_partner: dict[int, list[int]] = defaultdict(list)
    for pk, partner_id in rows:
        by_partner[partner_id].append(pk)
    agreements = PartnerAgreement.objects.filter(
        utility_id=event.utility_id, partner_id__in=by_partner
    ).values_list("pk", "partner_id")
    for agreement_id, partner_id in agreements:
        enqueue_on_commit(
            adapter_tasks.cancel_commands,
            utility_id=event.utility_id,
            agreement_id=agreement_id,
            command_ids=by_partner[partner_id],
        )
    return len(rows)


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
    begins, ends = _window(plan_start, a, event.ends_at)
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
    event_id: int,
    now: datetime | None = None,
    states: Mapping[int, LatestState] | None = None,
) -> ExecutionResult:
    """Plan a notified or active event and issue its commands, once per modification.
    ``states``: see ``vehicle_inputs``."""
    now = now or timezone.now()
    utility_id = _utility_of(event_id)
    with scope(utility=utility_id), transaction.atomic():
        event = (
            Event.objects.select_for_update(of=("self",))
            .select_related("program", "utility")
            .get(pk=event_id)
        )
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
        inputs = vehicle_inputs(event, kind, now=now, skip=dropped_before, states=states)
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
        created = _issue(event, specs)
        excluded_reasons = list(plan.excluded.values()) + [Exclusion.OFFLINE] * len(inputs.offline)
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
                "excluded": len(plan.excluded) + len(inputs.offline),
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
    for vid in _opted_out_vehicles(event, ids):
        reasons[vid] = Exclusion.OPTED_OUT_DURING_EVENT
    return reasons


def replan_event(
    *,
    event_id: int,
    now: datetime | None = None,
    states: Mapping[int, LatestState] | None = None,
) -> ExecutionResult:
    """Drop dispatched and reserve vehicles that can no longer take part and bring in
    reserves for the intervals not over yet (see the module docstring). ``states``: see
    ``vehicle_inputs``."""
    now = now or timezone.now()
    utility_id = _utility_of(event_id)
    with scope(utility=utility_id), transaction.atomic():
        event = (
            Event.objects.select_for_update(of=("self",))
            .select_related("program", "utility")
            .get(pk=event_id)
        )
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
        for vid in dropped:
            p = by_vehicle[vid]
            p.role, p.reason, p.dropped_at = Role.DROPPED, str(reasons[vid])[:80], now
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
        created = _issue(event, specs)
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


def cancel_or_end(*, event_id: int, now: datetime | None = None) -> ExecutionResult:
    """After a cancellation or an early end: withdraw the event's live commands and send a
    restore command, at the event's current revision, to every vehicle that had one."""
    now = now or timezone.now()
    utility_id = _utility_of(event_id)
    with scope(utility=utility_id), transaction.atomic():
        event = Event.objects.select_for_update().get(pk=event_id)
        if event.cancelled_at is None and event.ended_early_at is None:
            return ExecutionResult("not_plannable")
        commands = event_commands(event).exclude(kind=DeviceCommand.Kind.RESTORE)
        vehicle_ids = set(commands.values_list("vehicle_id", flat=True))
        if not vehicle_ids:
            return ExecutionResult("nothing_to_send")
        withdraw(event, commands)
        created = _issue(event, restore_specs(event, vehicle_ids, now=now))
        return ExecutionResult("issued", created=created, vehicles=len(vehicle_ids))


def _utility_of(event_id: int) -> int:
    with scopes_disabled():
        return Event.objects.values_list("utility_id", flat=True).get(pk=event_id)
