"""The planner's inputs for an event, read in bulk: one ``planner.VehicleInput`` per targeted
vehicle (limits, latest state, opt-outs, events this season and month, departure, energy
discharged this year) in a fixed number of queries whatever the fleet size."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum

from devices.limits import limits_for_vehicles, vehicle_rows
from devices.models import CustomerPreference, OptOut, TelemetryRollup
from devices.selectors import LatestState, latest_states
from dispatch import guardrails, selectors
from dispatch.models import Event, EventParticipant
from dispatch.planning import planner
from enrollment.models import Enrollment
from portal.bulk import among


def offline_after() -> timedelta:
    """A vehicle whose latest state is older than this is offline: not planned, and
    replaced when dispatched."""
    return timedelta(minutes=settings.DISPATCH_OFFLINE_AFTER_MINUTES)


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


def opted_out_vehicles(event: Event, vehicle_ids: Iterable[int]) -> set[int]:
    return set(
        among(OptOut.objects.all(), "vehicle_id", list(vehicle_ids))
        .filter(
            Q(event_ref=str(event.pk)) | Q(starts_at__lt=event.ends_at, ends_at__gt=event.starts_at)
        )
        .values_list("vehicle_id", flat=True)
    )


@dataclass
class Inputs:
    vehicles: list[planner.VehicleInput]
    offline: list[int]  # vehicles with no recent state: excluded before planning
    enrollment_of: dict[int, int]
    rating_of: dict[int, float]


def vehicle_inputs(
    event: Event,
    kind: planner.EventKind,
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
    opted_out = opted_out_vehicles(event, ids)
    counts = _event_counts(event, targeted)
    departures = _departures(event, targeted)
    discharged = _discharged_this_year(event, targeted) if kind in planner.DISCHARGE_KINDS else {}
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
            planner.VehicleInput(
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
    event: Event, kind: planner.EventKind, *, start: datetime | None = None
) -> planner.EventInput:
    return planner.EventInput(
        kind=kind,
        start=start or event.starts_at,
        end=event.ends_at,
        target_kw=event.target_kw,
        randomize_start_minutes=event.randomize_start_minutes,
        seed=event.pk,
        steps=profile_of(event),
    )


def profile_of(event: Event) -> tuple[planner.Step, ...]:
    """The planner's steps for an event of several target intervals; () for one target."""
    steps = event.profile_steps()
    if len(steps) < 2:
        return ()
    return tuple(planner.Step(s.starts_at, s.ends_at, s.target_kw) for s in steps)
