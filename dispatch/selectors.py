"""Reads for dispatch pages: event lists, the program's other events, capacity previews, and
which vehicles an event targets (whole program, dispatch groups, feeders, named vehicles)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db.models import Count, Q, QuerySet

from devices.limits import LimitSource, limits_for_vehicles, vehicle_rows
from devices.models import Vehicle
from devices.selectors import latest_states
from dispatch.guardrails import OtherEvent
from dispatch.models import DispatchGroup, Event
from enrollment.models import Enrollment, Program
from portal.bulk import among  # one array parameter for thousands of ids
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
    targeting: str = Event.Targeting.WHOLE_PROGRAM,
    vehicle_ids: Iterable[int] | QuerySet = (),
    group_ids: Iterable[int] | QuerySet = (),
    feeders: Iterable[str] = (),
) -> dict:
    """Capacity the targeted vehicles (``targeted_vehicles``: the same set the event will
    dispatch) offer from their latest state and effective limits: ``{"vehicles", "kw", "kwh"}``. Discharge events count what each vehicle
    can export for the whole duration without passing its floor; load reduction counts the
    charging that could be curtailed. A fixed number of queries whatever the fleet size."""
    if event_type is None:
        event_type = (
            Event.Type.LOAD_REDUCTION
            if program.kind == Program.Kind.V1G
            else Event.Type.V2H_HOME_SUPPLY
        )
    vehicles = vehicle_rows(
        targeted_vehicles(
            program=program,
            targeting=targeting,
            vehicle_ids=vehicle_ids,
            group_ids=group_ids,
            feeders=feeders,
        ).order_by()
    )
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


# --- Targeting ------------------------------------------------------------------------------


def _dispatchable_enrollments(program: Program) -> QuerySet[Enrollment]:
    return Enrollment.objects.filter(
        program=program, status=Enrollment.Status.ACTIVE, excluded_from_events=False
    )


def targeted_vehicles(
    *,
    program: Program,
    targeting: str,
    vehicle_ids: Iterable[int] | QuerySet = (),
    group_ids: Iterable[int] | QuerySet = (),
    feeders: Iterable[str] = (),
) -> QuerySet[Vehicle]:
    """The program's dispatchable vehicles (active enrollment, not excluded from events,
    active vehicle) narrowed by the targeting: members of any of ``group_ids``, vehicles whose
    enrolled service account is on one of ``feeders``, or ``vehicle_ids``. Targets of the other
    modes are ignored. One query, built from subqueries (ids may be given as a values()
    queryset), so the database does the work however large the fleet. Call inside the
    utility's scope: groups and vehicles of another utility match nothing."""
    enrollments = _dispatchable_enrollments(program)
    if targeting == Event.Targeting.FEEDERS:
        enrollments = enrollments.filter(service_account__feeder__in=list(feeders))
    vehicles = Vehicle.objects.filter(
        pk__in=enrollments.values("vehicle_id"), status=Vehicle.Status.ACTIVE
    )
    if targeting == Event.Targeting.GROUPS:
        members = DispatchGroup.objects.filter(pk__in=group_ids).values("vehicles")
        return vehicles.filter(pk__in=members)
    if targeting == Event.Targeting.NAMED_VEHICLES:
        return vehicles.filter(pk__in=vehicle_ids)
    if targeting not in (Event.Targeting.WHOLE_PROGRAM, Event.Targeting.FEEDERS):
        raise ValueError(f"Unknown targeting {targeting!r}.")
    return vehicles


def targeted_vehicles_for_event(event: Event) -> QuerySet[Vehicle]:
    """The vehicles ``event`` targets, as one query (its groups and named vehicles are read
    as subqueries, never loaded into Python)."""
    return targeted_vehicles(
        program=event.program,
        targeting=event.targeting,
        vehicle_ids=Event.vehicles.through.objects.filter(event_id=event.pk).values("vehicle_id"),
        group_ids=Event.groups.through.objects.filter(event_id=event.pk).values("dispatchgroup_id"),
        feeders=event.feeders or [],
    )


def groups_with_counts() -> QuerySet[DispatchGroup]:
    """The utility's dispatch groups, each with ``vehicle_count`` (its members)."""
    return DispatchGroup.objects.annotate(vehicle_count=Count("vehicles")).order_by("name")


def feeder_counts(*, program: Program | None = None) -> list[tuple[str, int]]:
    """``(feeder, dispatchable vehicles)`` for each feeder of the service accounts actively
    enrolled in ``program`` (or, without one, in any of the utility's non-draft programs),
    in feeder order. A feeder whose vehicles are all excluded counts 0 but is listed."""
    enrollments = Enrollment.objects.filter(status=Enrollment.Status.ACTIVE).exclude(
        service_account__feeder=""
    )
    if program is not None:
        enrollments = enrollments.filter(program=program)
    else:
        enrollments = enrollments.exclude(program__status=Program.Status.DRAFT)
    dispatchable = Q(excluded_from_events=False, vehicle__status=Vehicle.Status.ACTIVE)
    return list(
        enrollments.order_by()
        .values_list("service_account__feeder")
        .annotate(n=Count("vehicle_id", filter=dispatchable, distinct=True))
        .order_by("service_account__feeder")
    )


def known_feeders(*, program: Program, feeders: Iterable[str]) -> set[str]:
    """Those of ``feeders`` that serve at least one account actively enrolled in ``program``."""
    return set(
        Enrollment.objects.filter(
            program=program,
            status=Enrollment.Status.ACTIVE,
            service_account__feeder__in=list(feeders),
        )
        .order_by()
        .values_list("service_account__feeder", flat=True)
        .distinct()
    )


NO_VEHICLE = "no vehicle with this VIN"
INACTIVE = "the vehicle is inactive"
NOT_ENROLLED = "not actively enrolled in the program"
EXCLUDED = "excluded from events (medical need)"


def vehicles_by_vin(vins: Sequence[str]) -> dict[str, int]:
    """VIN → the utility's vehicle with that VIN (its active row when an older, inactive row
    has the same VIN), for the VINs found."""
    found: dict[str, tuple[bool, int]] = {}
    rows = among(Vehicle.objects.order_by(), "vin", vins).values_list("vin", "pk", "status")
    for vin, pk, status in rows:
        candidate = (status == Vehicle.Status.ACTIVE, pk)
        if candidate > found.get(vin, (False, 0)):
            found[vin] = candidate
    return {vin: pk for vin, (_, pk) in found.items()}


def named_vehicle_problems(*, program: Program, vehicle_ids: Iterable[int]) -> dict[int, str]:
    """Why each of ``vehicle_ids`` cannot be named in an event of ``program`` (absent: it
    can), in two queries whatever their number."""
    ids = set(vehicle_ids)
    active = dict(among(Vehicle.objects.order_by(), "id", ids).values_list("pk", "status"))
    enrollments = Enrollment.objects.filter(program=program, status=Enrollment.Status.ACTIVE)
    excluded = dict(
        among(enrollments.order_by(), "vehicle_id", ids).values_list(
            "vehicle_id", "excluded_from_events"
        )
    )
    problems = {}
    for pk in ids:
        if pk not in active:
            problems[pk] = NO_VEHICLE
        elif active[pk] != Vehicle.Status.ACTIVE:
            problems[pk] = INACTIVE
        elif pk not in excluded:
            problems[pk] = NOT_ENROLLED
        elif excluded[pk]:
            problems[pk] = EXCLUDED
    return problems


def vins_of(vehicle_ids: Iterable[int]) -> dict[int, str]:
    return dict(among(Vehicle.objects.order_by(), "id", vehicle_ids).values_list("pk", "vin"))


MAX_LISTED_TARGETS = 5


def targets_display(event: Event) -> str:
    """A short text saying what ``event`` targets, for its page (two queries at most):
    "Whole program", "Groups: Depot A, Pilot", "Feeders: F-12, F-13",
    "1,200 named vehicles: 1FT…, … and 1,195 more"."""
    if event.targeting == Event.Targeting.GROUPS:
        names = list(event.groups.order_by("name").values_list("name", flat=True))
        return f"Group{'s' if len(names) != 1 else ''}: {_listing(names)}"
    if event.targeting == Event.Targeting.FEEDERS:
        feeders = sorted(event.feeders or [])
        return f"Feeder{'s' if len(feeders) != 1 else ''}: {_listing(feeders)}"
    if event.targeting == Event.Targeting.NAMED_VEHICLES:
        named = Event.vehicles.through.objects.filter(event_id=event.pk)
        count = named.count()
        vins = list(
            Vehicle.objects.filter(pk__in=named.values("vehicle_id"))
            .order_by("vin")
            .values_list("vin", flat=True)[:MAX_LISTED_TARGETS]
        )
        return f"{count:,} named vehicle{'s' if count != 1 else ''}: {_listing(vins, count)}"
    return Event.Targeting(event.targeting).label


def _listing(items: Sequence[str], total: int | None = None) -> str:
    if not items:
        return "none"
    total = len(items) if total is None else total
    shown = ", ".join(items[:MAX_LISTED_TARGETS])
    more = total - min(len(items), MAX_LISTED_TARGETS)
    return f"{shown} and {more:,} more" if more > 0 else shown


VEHICLE_SEARCH_LIMIT = 25


def search_dispatchable_vehicles(*, program: Program, query: str) -> list[Vehicle]:
    """The first of ``program``'s dispatchable vehicles whose VIN or model contains
    ``query``, or whose enrolled account number is ``query`` (the schedule form's vehicle
    picker); at most ``VEHICLE_SEARCH_LIMIT``, by VIN."""
    query = query.strip()
    if not query:
        return []
    by_account = _dispatchable_enrollments(program).filter(service_account__account_number=query)
    return list(
        targeted_vehicles(program=program, targeting=Event.Targeting.WHOLE_PROGRAM)
        .filter(
            Q(vin__icontains=query)
            | Q(model__icontains=query)
            | Q(pk__in=by_account.values("vehicle_id"))
        )
        .order_by("vin")
        .only("pk", "vin", "model", "model_year")[:VEHICLE_SEARCH_LIMIT]
    )
