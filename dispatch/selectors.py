"""Reads for dispatch pages: event lists, the program's other events, capacity previews."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from devices.limits import LimitSource, limits_for_vehicles
from devices.models import Vehicle
from devices.telemetry import latest_states
from dispatch.guardrails import OtherEvent
from dispatch.models import Event
from enrollment.models import Enrollment, Program
from portal.models import AuditEvent

# Event types that take energy out of the batteries (emergency and test follow the program).
DISCHARGE_TYPES = {Event.Type.V2H_HOME_SUPPLY, Event.Type.V2G_EXPORT}
PROGRAM_DEPENDENT_TYPES = {Event.Type.EMERGENCY, Event.Type.TEST}


def event_list() -> QuerySet[Event]:
    return Event.objects.select_related("program", "created_by")


def other_events(*, program: Program, exclude_pk: int | None = None) -> list[OtherEvent]:
    """The program's non-cancelled, committed events, for the guardrails."""
    query = Event.objects.filter(
        program=program, cancelled_at__isnull=True, scheduled_at__isnull=False
    ).exclude(pk=exclude_pk)
    return [
        OtherEvent(pk, starts_at, ends_at, priority)
        for pk, starts_at, ends_at, priority in query.values_list(
            "pk", "starts_at", "ends_at", "priority"
        )
    ]


def event_history(event: Event) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(
        object_type=Event._meta.label_lower, object_id=str(event.pk)
    ).order_by("created_at", "id")


def discharges(*, event_type: str, program: Program) -> bool:
    if event_type in PROGRAM_DEPENDENT_TYPES:
        return program.kind != Program.Kind.V1G
    return event_type in DISCHARGE_TYPES


def program_limit_source(program: Program) -> LimitSource:
    return LimitSource(
        name="program",
        soc_floor_pct=program.discharge_soc_floor_pct,
        max_hours_per_event=program.max_hours_per_event,
    )


def capacity_preview(
    *,
    program: Program,
    starts_at: datetime,
    duration_minutes: int,
    event_type: str | None = None,
    vehicle_ids: list[int] | None = None,
) -> dict:
    """Capacity the program's dispatchable vehicles offer from their latest state and
    effective limits: ``{"vehicles", "kw", "kwh"}``. Discharge events count what each vehicle
    can export for the whole duration without passing its floor; load reduction counts the
    charging that could be curtailed. A fixed number of queries whatever the fleet size."""
    if event_type is None:
        event_type = (
            Event.Type.LOAD_REDUCTION
            if program.kind == Program.Kind.V1G
            else Event.Type.V2H_HOME_SUPPLY
        )
    vehicles = Vehicle.objects.filter(
        pk__in=Enrollment.objects.filter(
            program=program, status=Enrollment.Status.ACTIVE, excluded_from_events=False
        ).values("vehicle_id"),
        status=Vehicle.Status.ACTIVE,
    )
    if vehicle_ids is not None:
        vehicles = vehicles.filter(pk__in=vehicle_ids)
    vehicles = list(vehicles)
    states = latest_states(vehicle_ids=[v.pk for v in vehicles])
    limits = limits_for_vehicles(vehicles, at=starts_at, program=program_limit_source(program))
    hours = duration_minutes / 60
    discharge = discharges(event_type=event_type, program=program)
    count, total_kw = 0, 0.0
    for vehicle in vehicles:
        state = states.get(vehicle.pk)
        if state is None or not state.plugged_in:
            continue
        limit = limits[vehicle.pk]
        if discharge:
            energy = limit.discharge_energy_kwh(
                soc_pct=state.soc_pct, usable_battery_kwh=vehicle.usable_battery_kwh
            )
            kw = min(limit.max_discharge_kw, energy / hours) if hours > 0 else 0.0
        elif state.power_kw > 0:
            kw = min(state.power_kw, limit.max_charge_kw)
        else:
            kw = limit.max_charge_kw
        if kw > 0:
            count += 1
            total_kw += kw
    return {"vehicles": count, "kw": round(total_kw, 2), "kwh": round(total_kw * hours, 2)}
