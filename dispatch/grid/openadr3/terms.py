"""What the portal would schedule for one version of an OpenADR 3 event (``Terms``): the
event type, the kW of each interval (``profile``) and of the one in force (``kw_at``), the
portal's priority, the randomization and the targets — or None when the version asks for no
dispatch (``why_nothing`` says why). See ``mapping`` for how payloads are read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Sum

from devices.models import Vehicle
from dispatch import selectors
from dispatch.grid.openadr3 import mapping
from dispatch.grid.openadr3.mapping import Called3
from dispatch.models import DispatchGroup, Event
from dispatch.services.errors import EventError
from enrollment.models import Program

_TYPE_BY_KIND = {
    Program.Kind.V1G: Event.Type.LOAD_REDUCTION,
    Program.Kind.V2H: Event.Type.V2H_HOME_SUPPLY,
    Program.Kind.V2G: Event.Type.V2G_EXPORT,
}


@dataclass(frozen=True)
class Terms:
    """What the portal would schedule for a version of a VTN event."""

    event_type: str
    starts_at: datetime
    duration_minutes: int
    target_kw: float | None
    profile: list[dict]  # per interval: {"start", "minutes", "kw"} (kw None: all available)
    priority: int
    randomize_minutes: int
    targeting: str
    group_ids: tuple[int, ...] = ()
    vehicle_ids: tuple[int, ...] = ()


def why_nothing(link, called: Called3) -> str:
    if mapping.PRICE in called.payload_types and not link.dispatch_prices:
        return "Price signal recorded for planning; the route does not dispatch prices."
    if called.max_level == 0:
        return "SIMPLE level 0 (normal operation): nothing to dispatch."
    return "No payload the portal dispatches (IMPORT/EXPORT_CAPACITY_LIMIT, SIMPLE, PRICE)."


def kw_at(profile: list[dict], moment: datetime) -> float | None:
    """The kW of the profile's interval in force at ``moment`` (the first one before it
    starts, the last one after it ends)."""
    current = profile[0]
    for interval in profile:
        if datetime.fromisoformat(interval["start"]) <= moment:
            current = interval
    return current["kw"]


def portal_priority(vtn_priority: int | None) -> int:
    """OpenADR 3's priority (0 the highest, a lower number wins) as the portal's (a higher
    number wins an overlap): 100 − priority; none given ranks as a staff event's default, 0."""
    if vtn_priority is None:
        return 0
    return 100 - min(vtn_priority, 99)


def fleet_charge_kw(program: Program) -> float:
    """The program's worst-case charging: every dispatchable vehicle at its maximum rate."""
    vehicles = selectors.targeted_vehicles(program=program, targeting=Event.Targeting.WHOLE_PROGRAM)
    return float(vehicles.aggregate(kw=Sum("max_charge_kw"))["kw"] or 0.0)


def _interval_kw(link, called: Called3, interval, *, charge_kw: float | None):
    """(dispatch?, kW) for one interval: kW None means all available."""
    if (kw := called.kw(interval, mapping.EXPORT_LIMIT)) is not None:
        return True, kw
    if (limit := called.kw(interval, mapping.IMPORT_LIMIT)) is not None:
        return True, max(0.0, (charge_kw or 0.0) - limit)
    level = interval.number(mapping.SIMPLE)
    if level is not None:
        return level > 0, None if level > 0 else 0.0
    if interval.number(mapping.PRICE) is not None and link.dispatch_prices:
        return True, None
    return False, 0.0


def terms_for(source, link, route, called: Called3, *, now: datetime) -> Terms | None:
    """The portal's terms for the event, None when it asks for no dispatch; ``EventError``
    when its targets cannot be honoured."""
    if why := mapping.refused_targets(called, ven_name=source.ven_name):
        raise EventError(why)
    charge_kw = (
        fleet_charge_kw(route.program) if mapping.IMPORT_LIMIT in called.payload_types else None
    )
    profile, dispatching = [], False
    for interval in called.intervals:
        wanted, kw = _interval_kw(link, called, interval, charge_kw=charge_kw)
        dispatching = dispatching or wanted
        profile.append(
            {"start": interval.starts_at.isoformat(), "minutes": interval.minutes,
             "kw": round(kw, 3) if kw is not None else None}
        )  # fmt: skip
    if not dispatching:
        return None
    types = called.payload_types
    if (called.max_level or 0) >= 3:
        event_type = Event.Type.EMERGENCY
    elif types & {mapping.IMPORT_LIMIT, mapping.EXPORT_LIMIT, mapping.SIMPLE}:
        if mapping.IMPORT_LIMIT in types and mapping.EXPORT_LIMIT not in types:
            event_type = route.event_type or Event.Type.LOAD_REDUCTION
        else:
            event_type = route.event_type or _TYPE_BY_KIND[route.program.kind]
    else:
        event_type = Event.Type.PRICE_SIGNAL
    targeting, group_ids, vehicle_ids = _targets(called)
    return Terms(
        event_type=event_type,
        starts_at=called.starts_at,
        duration_minutes=called.duration_minutes,
        # The interval in force (the first before the start); ``follow_intervals`` moves the
        # event's target to each next interval's as it begins.
        target_kw=kw_at(profile, now),
        profile=profile,
        priority=portal_priority(called.priority),
        randomize_minutes=called.randomize_minutes,
        targeting=targeting,
        group_ids=group_ids,
        vehicle_ids=vehicle_ids,
    )


def _targets(called: Called3) -> tuple[str, tuple[int, ...], tuple[int, ...]]:
    if names := called.targets.get("GROUP"):
        groups = dict(DispatchGroup.objects.filter(name__in=names).values_list("name", "pk"))
        if missing := sorted(set(names) - set(groups)):
            raise EventError(f"No dispatch group is named {', '.join(missing[:10])}.")
        return Event.Targeting.GROUPS, tuple(sorted(groups.values())), ()
    if vins := called.targets.get("RESOURCE_NAME"):
        wanted = {v.strip().upper() for v in vins}
        found = dict(Vehicle.objects.filter(vin__in=wanted).values_list("vin", "pk"))
        if missing := sorted(wanted - set(found)):
            raise EventError(f"No vehicle has the VIN {', '.join(missing[:10])}.")
        return Event.Targeting.NAMED_VEHICLES, (), tuple(sorted(found.values()))
    return Event.Targeting.WHOLE_PROGRAM, (), ()
