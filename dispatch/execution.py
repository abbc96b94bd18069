"""Turning a committed event into device commands (issue 6, "Execution").

``activate_event`` plans an event once per modification number and issues its commands;
``cancel_or_end`` sends restore commands after a cancellation or an early end. Both run inside
the event's utility scope and are idempotent: commands are keyed by (``dispatch.event``,
event id, vehicle, revision = the event's ``modification_number``, sequence), so running
either again issues nothing new.

Commands: one per vehicle and planning interval in which its setpoint is worth sending
(``|setpoint| ≥ MIN_SETPOINT_KW``; for V1G curtailment every active interval), with
``sequence`` = the interval index. A restore command uses ``RESTORE_SEQUENCE`` so that it never
shares a key with an interval command of the same revision.

Every planning run appends an ``event.planned`` audit row (revision, selected / reserve /
excluded counts, committed kW per interval). An event planned with nothing worth sending is
therefore not planned again, nor picked by the due-events task, until it is modified.

Not yet modelled (the planner accepts them; the inputs default): season / month event
counts, departure times and the year's discharged energy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from devices.adapters.tasks import enqueue_delivery
from devices.limits import limits_for_vehicles
from devices.models import DeviceCommand, OptOut, Vehicle
from devices.services import CommandSpec, issue_commands
from devices.telemetry import latest_states
from dispatch import planning, selectors
from dispatch.models import Event
from enrollment.models import Enrollment, Program
from portal.audit import record
from portal.models import AuditEvent

SOURCE_TYPE = "dispatch.event"
PLANNED_ACTION = "event.planned"  # audit row per planned revision
RESTORE_SEQUENCE = 1_000_000  # far above any interval index
RESTORE_MINUTES = 15  # a restore's window when the event's planned end has passed
PLANNABLE = {Event.Status.NOTIFIED, Event.Status.ACTIVE}

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


@dataclass(frozen=True)
class ExecutionResult:
    status: str  # "issued", "already_planned", "not_plannable", "nothing_to_send"
    created: int = 0
    vehicles: int = 0


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
    """Commands exist for the event's current revision (the brief's check), or it was
    planned for that revision and nothing was worth sending (the audit row)."""
    return DeviceCommand.objects.filter(
        source_type=SOURCE_TYPE, source_id=str(event.pk), revision=event.modification_number
    ).exists() or event.modification_number in planned_revisions([event.pk]).get(event.pk, ())


def planned_revisions(event_ids) -> dict[int, set[int]]:
    """The revisions each event was planned for, from the audit trail (call inside a scope
    or with scopes disabled)."""
    found: dict[int, set[int]] = {}
    rows = AuditEvent.objects.filter(
        action=PLANNED_ACTION,
        object_type=Event._meta.label_lower,
        object_id__in=[str(pk) for pk in event_ids],
    ).values_list("object_id", "changes")
    for object_id, changes in rows:
        found.setdefault(int(object_id), set()).add((changes or {}).get("revision"))
    return found


def _planned_end(event: Event) -> datetime:
    return event.starts_at + timedelta(minutes=event.duration_minutes + event.extended_minutes)


def event_input(event: Event, kind: planning.EventKind) -> planning.EventInput:
    return planning.EventInput(
        kind=kind,
        start=event.starts_at,
        end=event.ends_at,
        target_kw=event.target_kw,
        randomize_start_minutes=event.randomize_start_minutes,
        seed=event.pk,
    )


def vehicle_inputs(event: Event) -> list[planning.VehicleInput]:
    """One input per dispatchable vehicle (active enrollment in the program, not excluded
    from events, active vehicle; the named vehicles for targeted events), with a fixed number
    of queries. Vehicles that never reported a state are left out."""
    vehicles = Vehicle.objects.filter(
        pk__in=Enrollment.objects.filter(
            program=event.program, status=Enrollment.Status.ACTIVE, excluded_from_events=False
        ).values("vehicle_id"),
        status=Vehicle.Status.ACTIVE,
    )
    if event.targeting == Event.Targeting.NAMED_VEHICLES:
        vehicles = vehicles.filter(pk__in=event.vehicles.values("pk"))
    vehicles = list(vehicles)
    ids = [v.pk for v in vehicles]
    states = latest_states(vehicle_ids=ids)
    limits = limits_for_vehicles(
        vehicles, at=event.starts_at, program=selectors.program_limit_source(event.program)
    )
    opted_out = set(
        OptOut.objects.filter(vehicle_id__in=ids)
        .filter(
            Q(event_ref=str(event.pk)) | Q(starts_at__lt=event.ends_at, ends_at__gt=event.starts_at)
        )
        .values_list("vehicle_id", flat=True)
    )
    inputs = []
    for vehicle in vehicles:
        state = states.get(vehicle.pk)
        if state is None:
            continue
        inputs.append(
            planning.VehicleInput(
                vehicle_id=vehicle.pk,
                limits=limits[vehicle.pk],
                soc_pct=state.soc_pct,
                usable_battery_kwh=vehicle.usable_battery_kwh or 0.0,
                plugged_in=state.plugged_in,
                opted_out=vehicle.pk in opted_out,
                charging_kw=max(0.0, state.power_kw or 0.0),
            )
        )
    return inputs


def command_specs(plan: planning.Plan, kind: planning.EventKind) -> list[CommandSpec]:
    command_kind = _COMMAND_KIND[kind]
    step = timedelta(minutes=plan.event.interval_minutes)
    specs = []
    for a in plan.selected:
        for i, setpoint in enumerate(a.setpoints_kw):
            if kind is planning.EventKind.LOAD_REDUCTION:
                if a.contribution_kw[i] <= 0:
                    continue
            elif abs(setpoint) < planning.MIN_SETPOINT_KW:
                continue
            start = plan.interval_starts[i]
            specs.append(
                CommandSpec(
                    vehicle_id=a.vehicle_id,
                    kind=command_kind,
                    setpoint_kw=round(setpoint, 3),
                    starts_at=start,
                    ends_at=min(start + step, plan.event.end),
                    sequence=i,
                )
            )
    return specs


def _partners(commands) -> set[int]:
    return {c.partner_id for c in commands if c.status == DeviceCommand.Status.PENDING}


def activate_event(*, event_id: int, now: datetime | None = None) -> ExecutionResult:
    """Plan a notified or active event and issue its commands, once per modification."""
    now = now or timezone.now()
    utility_id = _utility_of(event_id)
    with scope(utility=utility_id), transaction.atomic():
        event = Event.objects.select_for_update().select_related("program").get(pk=event_id)
        if event.status_at(now) not in PLANNABLE:
            return ExecutionResult("not_plannable")
        if is_planned(event):
            return ExecutionResult("already_planned")
        kind = planning_kind(event)
        if kind is None:
            return ExecutionResult("nothing_to_send")
        plan = planning.plan(event_input(event, kind), vehicle_inputs(event))
        specs = command_specs(plan, kind)
        record(
            action=PLANNED_ACTION,
            utility=event.utility,
            obj=event,
            changes={
                "revision": event.modification_number,
                "selected": len(plan.selected),
                "reserves": len(plan.reserves),
                "excluded": len(plan.excluded),
                "committed_kw": [round(kw, 2) for kw in plan.committed_kw],
                "commands": len(specs),
            },
        )
        if not specs:
            return ExecutionResult("nothing_to_send")
        issued = issue_commands(
            source_type=SOURCE_TYPE,
            source_id=str(event.pk),
            revision=event.modification_number,
            specs=specs,
        )
        enqueue_delivery(utility_id=utility_id, partner_ids=_partners(issued.commands))
        return ExecutionResult(
            "issued", created=issued.created, vehicles=len({s.vehicle_id for s in specs})
        )


def cancel_or_end(*, event_id: int, now: datetime | None = None) -> ExecutionResult:
    """After a cancellation or an early end: a restore command, at the event's current
    revision, for every vehicle that had commands from the event."""
    now = now or timezone.now()
    utility_id = _utility_of(event_id)
    with scope(utility=utility_id), transaction.atomic():
        event = Event.objects.select_for_update().get(pk=event_id)
        if event.cancelled_at is None and event.ended_early_at is None:
            return ExecutionResult("not_plannable")
        vehicle_ids = sorted(
            set(
                DeviceCommand.objects.filter(source_type=SOURCE_TYPE, source_id=str(event.pk))
                .exclude(kind=DeviceCommand.Kind.RESTORE)
                .values_list("vehicle_id", flat=True)
            )
        )
        if not vehicle_ids:
            return ExecutionResult("nothing_to_send")
        start = now
        end = max(_planned_end(event), now + timedelta(minutes=RESTORE_MINUTES))
        specs = [
            CommandSpec(
                vehicle_id=vid,
                kind=DeviceCommand.Kind.RESTORE,
                setpoint_kw=0.0,
                starts_at=start,
                ends_at=end,
                sequence=RESTORE_SEQUENCE,
            )
            for vid in vehicle_ids
        ]
        issued = issue_commands(
            source_type=SOURCE_TYPE,
            source_id=str(event.pk),
            revision=event.modification_number,
            specs=specs,
        )
        enqueue_delivery(utility_id=utility_id, partner_ids=_partners(issued.commands))
        return ExecutionResult("issued", created=issued.created, vehicles=len(vehicle_ids))


def _utility_of(event_id: int) -> int:
    with scopes_disabled():
        return Event.objects.values_list("utility_id", flat=True).get(pk=event_id)
