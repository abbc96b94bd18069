"""Rows for the event console tests, as execution and telemetry ingest would leave them:
planned events with participants, plan runs, commands, opt-outs, vehicle states and
telemetry rollups. Written in bulk (a fleet of hundreds in a handful of queries), with
scopes disabled, without depending on execution."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from django.utils import timezone
from django_scopes import scopes_disabled

from devices.models import DeviceCommand, OptOut, TelemetryRollup, Vehicle, VehicleState
from dispatch.measurement.baselines import floor_interval
from dispatch.models import Event, EventParticipant, EventPlanRun
from tests.devices.factories import _vin
from tests.dispatch.events_support import make_event, open_program
from tests.portal.factories import AutomakerPartnerFactory

Participant = EventParticipant.Role
CommandStatus = DeviceCommand.Status
INTERVAL = timedelta(minutes=15)
DISCHARGE_KW = 9.6
_serial = itertools.count(700_000)


def fleet(utility, count: int, *, partner=None) -> list[Vehicle]:
    """``count`` bidirectional vehicles of one automaker, in one INSERT."""
    partner = partner or AutomakerPartnerFactory()
    vehicles = []
    for _ in range(count):
        n = next(_serial)
        vehicles.append(
            Vehicle(
                utility=utility,
                vin=_vin(n),
                partner=partner,
                partner_vehicle_id=f"c-{n}",
                model="F-150 Lightning",
                model_year=2024,
                usable_battery_kwh=131,
                supports_v2h=True,
                supports_v2g=True,
                max_charge_kw=19.2,
                max_discharge_kw=DISCHARGE_KW,
            )  # fmt: skip
        )
    with scopes_disabled():
        return Vehicle.objects.bulk_create(vehicles)


def event_in_status(utility, status: str, *, program=None, **fields) -> Event:
    """An event that is ``status`` now; starts on the 15-minute grid (like M&V's) so tests
    can line telemetry up with its intervals."""
    now = timezone.now()
    program = program or open_program(utility)
    grid_now = floor_interval(now)
    if status == Event.Status.NOTIFIED:
        return make_event(program=program, starts_at=grid_now + timedelta(minutes=45), **fields)
    if status == Event.Status.ACTIVE:
        return make_event(program=program, starts_at=grid_now - timedelta(minutes=30), **fields)
    if status == Event.Status.COMPLETED:
        starts_at = grid_now - timedelta(hours=3)
        return make_event(program=program, starts_at=starts_at, duration_minutes=60, **fields)
    if status == Event.Status.CANCELLED:
        return make_event(program=program, cancelled_at=now, **fields)
    if status == Event.Status.DRAFT:
        return make_event(program=program, scheduled=False, **fields)
    return make_event(program=program, **fields)  # scheduled: tomorrow


def grid(event: Event, since: datetime | None = None) -> list[datetime]:
    start = since or event.starts_at
    count = int((event.ends_at - start) / INTERVAL)
    return [start + i * INTERVAL for i in range(count)]


def add_plan_run(
    event: Event,
    *,
    kind: str = EventPlanRun.Kind.PLAN,
    created_at: datetime | None = None,
    since: datetime | None = None,
    committed_kw: float = 0.0,
    reasons: dict | None = None,
    **counts,
) -> EventPlanRun:
    starts = grid(event, since)
    with scopes_disabled():
        return EventPlanRun.objects.create(
            utility=event.utility, event=event, revision=event.modification_number, kind=kind,
            created_at=created_at or timezone.now(),
            interval_starts=[s.isoformat() for s in starts],
            goal_kw=event.target_kw, committed_kw=[committed_kw] * len(starts),
            reasons=reasons or {}, **counts,
        )  # fmt: skip


def add_participants(
    event: Event, vehicles, role: str, *, reason: str = "", command: str | None = None,
    command_reason: str = "",
) -> list[EventParticipant]:  # fmt: skip
    """One participant per vehicle; dispatched ones get the planned discharge for the whole
    event and, with ``command``, one command in that status."""
    dispatched = role in (Participant.SELECTED, Participant.DROPPED)
    rows = [
        EventParticipant(
            utility=event.utility,
            event=event,
            vehicle=v,
            role=role,
            reason=reason,
            power_kw=-DISCHARGE_KW if dispatched else 0.0,
            active_from=event.starts_at if dispatched else None,
            active_until=event.ends_at if dispatched else None,
            rating_kw=DISCHARGE_KW,
            selected_at=event.notify_at if dispatched else None,
            dropped_at=timezone.now() if role == Participant.DROPPED else None,
        )  # fmt: skip
        for v in vehicles
    ]
    with scopes_disabled():
        created = EventParticipant.objects.bulk_create(rows)
    if command:
        add_commands(event, vehicles, command, reason=command_reason)
    return created


def add_commands(event: Event, vehicles, status: str, *, reason: str = "", kind=None) -> None:
    kind = kind or DeviceCommand.Kind.DISCHARGE
    commands = [
        DeviceCommand(
            utility=event.utility,
            vehicle=v,
            partner_id=v.partner_id,
            kind=kind,
            setpoint_kw=-DISCHARGE_KW if kind == DeviceCommand.Kind.DISCHARGE else 0.0,
            starts_at=event.starts_at,
            ends_at=event.ends_at,
            idempotency_key=f"test:{event.pk}:{v.pk}:{kind}:{next(_serial)}",
            source_type="dispatch.event",
            source_id=str(event.pk),
            revision=event.modification_number,
            status=status,
            status_reason=reason,
        )  # fmt: skip
        for v in vehicles
    ]
    with scopes_disabled():
        DeviceCommand.objects.bulk_create(commands)


def add_opt_out(event: Event, vehicle, *, by_range: bool = False) -> OptOut:
    fields = (
        {"starts_at": event.starts_at - timedelta(hours=1), "ends_at": event.ends_at}
        if by_range
        else {"event_ref": str(event.pk)}
    )
    with scopes_disabled():
        return OptOut.objects.create(
            utility=event.utility, vehicle=vehicle, partner_id=vehicle.partner_id, **fields
        )


def set_states(vehicles, *, soc_pct: float, power_kw: float, plugged_in: bool = True) -> None:
    now = timezone.now()
    with scopes_disabled():
        VehicleState.objects.bulk_create(
            [
                VehicleState(
                    utility=v.utility,
                    vehicle=v,
                    ts=now,
                    soc_pct=soc_pct,
                    power_kw=power_kw,
                    plugged_in=plugged_in,
                    charging_state="discharging",
                    updated_at=now,
                )  # fmt: skip
                for v in vehicles
            ],
            update_conflicts=True,
            unique_fields=["vehicle"],
            update_fields=["ts", "soc_pct", "power_kw", "plugged_in", "updated_at"],
        )


def add_rollups(vehicles, starts, *, power_kw: float) -> None:
    """Telemetry rollups at ``power_kw`` (+ charging, − discharging) for each interval."""
    kwh = abs(power_kw) * INTERVAL.total_seconds() / 3600
    with scopes_disabled():
        TelemetryRollup.objects.bulk_create(
            [
                TelemetryRollup(
                    utility=v.utility,
                    vehicle=v,
                    interval_start=s,
                    mean_power_kw=power_kw,
                    energy_charged_kwh=kwh if power_kw > 0 else 0.0,
                    energy_discharged_kwh=kwh if power_kw < 0 else 0.0,
                    readings=15,
                )  # fmt: skip
                for v in vehicles
                for s in starts
            ]
        )


def idle_history(vehicles, event: Event, *, days: int = 14) -> None:
    """Idle telemetry (0 kW) at the event's times of day on the days before it: a zero
    baseline, so what the vehicles export during the event is what they deliver."""
    tz = event.utility.tzinfo
    # Days back in local wall-clock time, so a DST change in between keeps the time of day.
    starts = [s.astimezone(tz) - timedelta(days=d) for d in range(1, days + 1) for s in grid(event)]
    add_rollups(vehicles, starts, power_kw=0)


def event_this_month(utility) -> Event:
    """An event starting now: on the events calendar's default (current) month."""
    return make_event(utility, starts_at=timezone.now())
