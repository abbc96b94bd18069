"""Helpers for the M&V tests: events, participants, plan runs and telemetry rollups written
directly (not through execution), on local wall-clock times of the utility."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from django.utils import timezone
from django_scopes import scope, scopes_disabled

from devices.models import TelemetryRollup
from dispatch.measurement.run import measure_event
from dispatch.models import Event, EventParticipant, EventPlanRun
from tests.devices.factories import VehicleFactory
from tests.dispatch.events_support import make_event, open_program

QUARTER = timedelta(minutes=15)


def local(utility, day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=utility.tzinfo)


def mv_event(utility, *, starts_at: datetime, duration_minutes: int = 60, **fields) -> Event:
    program = fields.pop("program", None) or open_program(utility)
    # V2G export: the car's delivery counts in full (V2H home supply is capped at the
    # premise's load: see test_v2h_relief).
    fields.setdefault("event_type", Event.Type.V2G_EXPORT)
    return make_event(
        utility,
        program=program,
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        **fields,
    )


def add_participant(event: Event, vehicle=None, *, role="selected", rating_kw=10.0, **fields):
    vehicle = vehicle or VehicleFactory(utility=event.utility)
    with scopes_disabled():
        return EventParticipant.objects.create(
            utility=event.utility,
            event=event,
            vehicle=vehicle,
            role=role,
            rating_kw=rating_kw,
            active_from=fields.pop("active_from", event.starts_at),
            active_until=fields.pop("active_until", event.ends_at),
            **fields,
        )


def add_plan_run(event: Event, *, created_at, starts: list[datetime], committed: list[float],
                 kind="plan", revision=0) -> EventPlanRun:  # fmt: skip
    with scopes_disabled():
        return EventPlanRun.objects.create(
            utility=event.utility,
            event=event,
            revision=revision,
            kind=kind,
            created_at=created_at,
            interval_starts=[s.isoformat().replace("+00:00", "Z") for s in starts],
            committed_kw=committed,
        )


def rollups(vehicle, starts: Iterable[datetime], kw: float) -> None:
    """One rollup per interval start at a constant net kW (+ charge, − export)."""
    kwh = kw * 0.25
    with scopes_disabled():
        TelemetryRollup.objects.bulk_create(
            [
                TelemetryRollup(
                    utility_id=vehicle.utility_id,
                    vehicle=vehicle,
                    interval_start=start,
                    energy_charged_kwh=max(kwh, 0.0),
                    energy_discharged_kwh=max(-kwh, 0.0),
                    mean_power_kw=kw,
                    readings=15,
                )
                for start in starts
            ]
        )


def quarters(start: datetime, end: datetime) -> list[datetime]:
    out, moment = [], start
    while moment < end:
        out.append(moment)
        moment += QUARTER
    return out


def daily(vehicle, days: Iterable[date], *, start: time, end: time, kw: float) -> None:
    """Rollups on each local day from ``start`` to ``end`` (local wall clock) at ``kw``."""
    tz = vehicle.utility.tzinfo
    starts = []
    for day in days:
        starts += quarters(
            datetime.combine(day, start, tzinfo=tz), datetime.combine(day, end, tzinfo=tz)
        )
    rollups(vehicle, starts, kw)


def weekdays_before(day: date, count: int, *, skip: Iterable[date] = ()) -> list[date]:
    """The ``count`` weekdays before ``day``, latest first, leaving out ``skip``."""
    skip, out, moment = set(skip), [], day
    while len(out) < count:
        moment -= timedelta(days=1)
        if moment.weekday() < 5 and moment not in skip:
            out.append(moment)
    return out


def measured_event(utility) -> Event:
    """An event that ended yesterday with one measured participant (for the report pages and
    the isolation cases): the vehicle's VIN is in the CSV, the program's name on the page."""
    yesterday = timezone.localdate(timezone=utility.tzinfo) - timedelta(days=1)
    event = mv_event(utility, starts_at=local(utility, yesterday, 17))
    grid = quarters(event.starts_at, event.ends_at)
    vehicle = VehicleFactory(utility=utility)
    history_like(vehicle, grid, weekdays_before(yesterday, 12), kw=3)
    rollups(vehicle, grid, -5)
    add_participant(event, vehicle)
    with scope(utility=utility.pk):
        measure_event(event.pk)
    event.refresh_from_db()
    return event


def first_vin(event) -> str:
    with scopes_disabled():
        return event.participants.select_related("vehicle").first().vehicle.vin


def history_like(vehicle, grid: list[datetime], days: Iterable[date], *, kw: float) -> None:
    """Rollups at ``kw`` on each of ``days`` at the same local wall-clock times as ``grid``
    (an interval after local midnight lands on the day after), whatever the clock says."""
    tz = vehicle.utility.tzinfo
    event_day = grid[0].astimezone(tz).date()
    starts = []
    for day in days:
        for moment in grid:
            wall = moment.astimezone(tz)
            on = day + timedelta(days=(wall.date() - event_day).days)
            starts.append(datetime.combine(on, wall.time(), tzinfo=tz))
    rollups(vehicle, starts, kw)
