"""Events called by a grid operator's system over OpenADR 2.0b (``Event.source =
grid_protocol``): one modification of a VTN event (``oadr2b_xml.VtnEvent``) becomes, changes or
cancels one of the utility's events, through the same services and guardrails as an
operator's event.

``receive_openadr_event(source_id, vtn_event)`` returns the ``Answer`` for the VTN: ``optIn``
when the portal does what the event asks (schedules it, follows its change or cancellation,
records a test event, or has nothing to dispatch), ``optOut`` with the reason when it cannot —
no program for its market context, a guardrail refusing it, targets the portal cannot honour.
Every (event id, modification number) is recorded once (``GridSignal``): a repeated delivery
gets the same answer and changes nothing.

Mapping: the ``market_context`` picks the program (``GridSignalRoute``); the event type is
the route's, else the program kind's. The target follows the event's intervals
(``Event.target_profile``, one row per stretch of the event where the signals hold still):
the ``LOAD_DISPATCH`` setpoint in kW — its ``itemUnits`` (W) times its ``siScaleCode``
(k = ×1000) — where it is given, else all available where ``SIMPLE`` is above level 0 (or a
signal other than a price calls), nothing where ``SIMPLE`` is level 0 or only prices are
sent. ``SIMPLE`` level 3 is the portal's emergency for that interval only: an event that is
level 3 throughout is an emergency event; one with some level-3 intervals keeps its type,
records the level per interval and is an emergency while such an interval runs
(``Event.emergency_at``; the guardrails' emergency waivers apply to it, as they decide
whether it can be scheduled at all). An event that asks for nothing in any interval
dispatches nothing (answered optIn, as the VEN follows it: normal operation). A test event is answered and recorded, never actuated.
The start is the active period's ``dtstart`` (an event called to start now begins at the next
minute), ``tolerance/startafter`` is each vehicle's randomized-start window, the OpenADR
priority (the lower the number the higher the priority, 0 = none) becomes the portal's
``100 − priority`` so the lower number wins an overlap. Targets: ``groupID`` names a dispatch
group, ``resourceID`` a vehicle's VIN; other kinds, or both at once, are refused with the
reason.

A later modification that only lengthens the event extends it; a cancellation cancels it (or
ends it now when it is running); any other change — a new target, start or shorter end, even
inside the notice period or while the event runs — replaces it: the old event is cancelled
(or ended now, its vehicles restored) and a new one carries the new terms for what is left.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from dispatch import selectors
from dispatch.grid.oadr2b_profile import (
    Malformed,
    shifted_profile,
    target_profile,
    whole_minutes,
)
from dispatch.grid.oadr2b_xml import VtnEvent
from dispatch.models import (
    EMERGENCY_LEVEL,
    DispatchGroup,
    Event,
    GridSignal,
    GridSignalRoute,
    GridSignalSource,
)
from dispatch.services import events as event_services
from dispatch.services.errors import EventError
from enrollment.models import Program
from portal.audit import record

OPT_IN, OPT_OUT = GridSignal.Response.OPT_IN, GridSignal.Response.OPT_OUT
MAX_NOTICE_MINUTES = 24 * 60
_TYPE_BY_KIND = {
    Program.Kind.V1G: Event.Type.LOAD_REDUCTION,
    Program.Kind.V2H: Event.Type.V2H_HOME_SUPPLY,
    Program.Kind.V2G: Event.Type.V2G_EXPORT,
}


@dataclass(frozen=True)
class Answer:
    response: str  # optIn / optOut
    reason: str
    event_id: int | None = None
    signal_id: int | None = None


@dataclass(frozen=True)
class Called:
    """What an OpenADR event asks of the portal."""

    event_id: str
    modification_number: int
    market_context: str
    status: str
    test_event: bool
    starts_at: datetime
    duration_minutes: int
    randomize_minutes: int
    target_kw: float | None  # the highest setpoint of the profile
    level: float | None
    profile: tuple[dict, ...]  # Event.target_profile rows, offsets from starts_at
    dispatches: bool  # False: only level 0 or price signals
    priority: int  # the portal's priority (higher wins)
    group_names: tuple[str, ...]
    resource_ids: tuple[str, ...]
    unhonoured_targets: tuple[str, ...]

    @property
    def cancelled(self) -> bool:
        return self.status == "cancelled"

    @property
    def emergency_throughout(self) -> bool:
        """Every interval that dispatches is SIMPLE level 3."""
        calling = [row for row in self.profile if row["target_kw"] != 0]
        return bool(calling) and all((row["level"] or 0) >= EMERGENCY_LEVEL for row in calling)


def portal_priority(oadr_priority: int) -> int:
    return 0 if oadr_priority <= 0 else 100 - min(oadr_priority, 99)


def read_event(vtn_event: VtnEvent) -> Called:
    """The event's terms for the portal; ``Malformed`` names what is wrong."""
    duration = whole_minutes(vtn_event.duration)
    if duration <= 0 and not vtn_event.cancelled:
        raise Malformed("The event has no duration.")
    profile = target_profile(vtn_event)
    targets_kw = [row["target_kw"] for row in profile if row["target_kw"]]
    levels = [row["level"] for row in profile if row["level"] is not None]
    targets = vtn_event.targets
    unhonoured = [f"{kind} targets" for kind in targets.other_kinds]
    if targets.party_ids:
        unhonoured.append("partyID targets")
    if targets.group_ids and targets.resource_ids:
        unhonoured.append("groupID and resourceID targets together")
    return Called(
        event_id=vtn_event.event_id,
        modification_number=vtn_event.modification_number,
        market_context=vtn_event.market_context,
        status=vtn_event.status,
        test_event=vtn_event.test_event,
        starts_at=vtn_event.starts_at,
        duration_minutes=duration,
        randomize_minutes=whole_minutes(vtn_event.start_after),
        target_kw=max(targets_kw, default=None),
        level=max(levels, default=None),
        profile=profile,
        dispatches=any(row["target_kw"] != 0 for row in profile),
        priority=portal_priority(vtn_event.priority),
        group_names=targets.group_ids,
        resource_ids=targets.resource_ids,
        unhonoured_targets=tuple(unhonoured),
    )


def event_type_for(route: GridSignalRoute, called: Called) -> str:
    if called.emergency_throughout:
        return Event.Type.EMERGENCY
    return route.event_type or _TYPE_BY_KIND[route.program.kind]


def receive_openadr_event(
    source_id: int, vtn_event: VtnEvent, *, now: datetime | None = None
) -> Answer:
    """Record and act on one modification of a VTN event for the source."""
    now = now or timezone.now()
    with scopes_disabled():
        utility_id = GridSignalSource.objects.values_list("utility_id", flat=True).get(pk=source_id)
    with scope(utility=utility_id), transaction.atomic():
        # One message at a time per source: a repeat waits for the first, then finds it.
        source = GridSignalSource.objects.select_for_update().select_related("utility")
        source = source.get(pk=source_id)
        source.last_contact_at = now
        source.save(update_fields=["last_contact_at", "updated_at"])
        seen = GridSignal.objects.filter(
            source=source,
            vtn_event_id=vtn_event.event_id,
            modification_number=vtn_event.modification_number,
        ).first()
        if seen is not None:
            return Answer(seen.response, seen.outcome, seen.event_id, seen.pk)
        try:
            called = read_event(vtn_event)
        except Malformed as exc:
            called, (event, response, outcome) = None, (None, OPT_OUT, f"Not usable: {exc}")
        else:
            event, response, outcome = _act(source, called, now=now)
        signal = GridSignal.objects.create(
            utility_id=utility_id,
            source=source,
            vtn_event_id=vtn_event.event_id,
            modification_number=vtn_event.modification_number,
            received_at=now,
            market_context=vtn_event.market_context,
            vtn_status=vtn_event.status,
            starts_at=vtn_event.starts_at,
            duration_minutes=called.duration_minutes if called else None,
            target_kw=called.target_kw if called else None,
            target_profile=list(called.profile) if called else [],
            test_event=vtn_event.test_event,
            response=response,
            outcome=outcome[:500],
            event=event,
        )
        _audit(source, signal, response, outcome)
        return Answer(response, outcome[:500], event.pk if event else None, signal.pk)


def _audit(source: GridSignalSource, signal: GridSignal, response: str, outcome: str):
    record(
        action="grid_signal.received",
        utility=source.utility,
        obj=source,
        to_state=response,
        comment=outcome[:500],
        changes={
            "vtn_event_id": signal.vtn_event_id,
            "modification_number": signal.modification_number,
            "event": signal.event_id,
        },
    )


def _previous(source: GridSignalSource, event_id: str, modification: int) -> GridSignal | None:
    """The latest earlier modification of this VTN event the portal's event follows."""
    return (
        GridSignal.objects.filter(
            source=source,
            vtn_event_id=event_id,
            modification_number__lt=modification,
            event__isnull=False,
            response=OPT_IN,
        )
        .select_related("event__program", "event__utility")
        .order_by("-modification_number")
        .first()
    )


def withdraw(source: GridSignalSource, event: Event | None, *, now: datetime, why: str):
    """Stop following a VTN event: cancel the portal's event, or end it now when it runs
    (its vehicles are restored). (response, outcome)."""
    if event is None or event.cancelled_at is not None:
        return OPT_IN, f"{why}; nothing was scheduled."
    status = event.status_at(now)
    if status == Event.Status.COMPLETED:
        return OPT_IN, f"{why}; event #{event.pk} had already ended."
    try:
        if status == Event.Status.ACTIVE:
            event_services.end_early(event=event, actor=None, reason=f"{why}.", now=now)
            return OPT_IN, f"{why}: event #{event.pk} ended now, vehicles restored."
        event_services.cancel_event(event=event, actor=None, reason=f"{why}.", now=now)
    except EventError as exc:
        return OPT_OUT, f"Event #{event.pk} could not be stopped: {exc.message}"
    return OPT_IN, f"{why}: event #{event.pk} cancelled."


def _act(source: GridSignalSource, called: Called, *, now: datetime):
    """(event, response, outcome) for the message."""
    previous = _previous(source, called.event_id, called.modification_number)
    current = previous.event if previous else None
    if called.cancelled:
        response, outcome = withdraw(source, current, now=now, why=f"Cancelled by {source.name}")
        return current, response, outcome
    if called.test_event:
        return None, OPT_IN, "Test event: answered and recorded, nothing actuated."
    if called.unhonoured_targets:
        return (
            current,
            OPT_OUT,
            f"The portal cannot honour {', '.join(called.unhonoured_targets)}.",
        )
    route = (
        GridSignalRoute.objects.filter(source=source, market_context=called.market_context)
        .select_related("program")
        .first()
    )
    if route is None:
        return (
            current,
            OPT_OUT,
            f"No program is mapped to market context {called.market_context or '(none)'!r}.",
        )
    live = current is not None and current.cancelled_at is None
    if not called.dispatches:
        if live:
            response, outcome = withdraw(
                source, current, now=now, why=f"{source.name} no longer asks for a dispatch"
            )
            return current, response, outcome
        return None, OPT_IN, "Level 0 or price signals only: followed, nothing dispatched."
    if live:
        return _modify(source, route, previous, called, now=now)
    return _schedule(source, route, called, now=now)


def _targeting(called: Called) -> dict:
    """The schedule_event targeting arguments for the event's groupID / resourceID targets;
    ``Malformed`` names the ones the portal does not know."""
    if called.group_names:
        groups = dict(
            DispatchGroup.objects.filter(name__in=called.group_names).values_list("name", "pk")
        )
        if unknown := sorted(set(called.group_names) - set(groups)):
            raise Malformed(f"groupID {', '.join(unknown)} is not a dispatch group here.")
        return {"targeting": Event.Targeting.GROUPS, "group_ids": list(groups.values())}
    if called.resource_ids:
        vehicles = selectors.vehicles_by_vin(list(called.resource_ids))
        if unknown := sorted(set(called.resource_ids) - set(vehicles)):
            raise Malformed(f"resourceID {', '.join(unknown[:10])} is not a vehicle here.")
        return {"targeting": Event.Targeting.NAMED_VEHICLES, "vehicle_ids": list(vehicles.values())}
    return {}


def _schedule(source, route, called: Called, *, now: datetime, replaces: Event | None = None):
    starts_at, duration = called.starts_at, called.duration_minutes
    if starts_at <= now:
        # Called to start now (or already running at the operator): from the next minute, for
        # what is left of it.
        ends_at = starts_at + timedelta(minutes=duration)
        starts_at = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        duration = int((ends_at - starts_at).total_seconds() // 60)
        if duration <= 0:
            return None, OPT_OUT, "The event is over (or about to be); nothing was scheduled."
    profile = shifted_profile(
        called.profile,
        by_minutes=int((starts_at - called.starts_at).total_seconds() // 60),
        duration_minutes=duration,
    )
    notice = min(MAX_NOTICE_MINUTES, int((starts_at - now).total_seconds() // 60))
    try:
        event = event_services.schedule_event(
            utility=source.utility,
            program=route.program,
            event_type=event_type_for(route, called),
            starts_at=starts_at,
            duration_minutes=duration,
            notification_lead_minutes=notice,
            randomize_start_minutes=min(called.randomize_minutes, duration),
            target_kw=called.target_kw,
            target_profile=profile,
            priority=called.priority,
            source=Event.Source.GRID_PROTOCOL,
            actor=None,
            now=now,
            replaces=replaces,
            **_targeting(called),
        )
    except Malformed as exc:
        return None, OPT_OUT, f"Not scheduled: {exc}"
    except EventError as exc:
        return None, OPT_OUT, f"Not scheduled: {exc.message}"
    target = f"{called.target_kw:g} kW" if called.target_kw else "all available"
    return event, OPT_IN, f"Scheduled event #{event.pk} ({route.program.name}, {target})."


def _modify(source, route, previous: GridSignal, called: Called, *, now: datetime):
    """A later modification, compared with what the VTN asked before (the portal's event may
    differ: one called to start at once begins at the next minute)."""
    current = previous.event
    same_terms = (
        previous.starts_at == called.starts_at
        and previous.target_kw == called.target_kw
        # (a signal recorded before profiles were kept has none to compare)
        and (
            not previous.target_profile
            or _without_end(previous.target_profile) == _without_end(called.profile)
        )
        and current.program_id == route.program_id
        and current.event_type == event_type_for(route, called)
        and current.priority == called.priority
    )
    longer_by = called.duration_minutes - (previous.duration_minutes or 0)
    if same_terms and longer_by == 0:
        return current, OPT_IN, f"No change to event #{current.pk}."
    if same_terms and longer_by > 0:
        try:
            event_services.extend(
                event=current,
                minutes=longer_by,
                actor=None,
                reason=f"Extended by {source.name}.",
                now=now,
            )
        except EventError as exc:
            return current, OPT_OUT, f"Event #{current.pk} not extended: {exc.message}"
        return current, OPT_IN, f"Extended event #{current.pk} by {longer_by} min."
    return _replace(source, route, current, called, now=now)


def _without_end(profile) -> list[dict]:
    """The profile but for the last interval's length (an extension lengthens it)."""
    rows = [dict(row) for row in profile]
    if rows:
        rows[-1].pop("duration_minutes")
    return rows


def _replace(source, route, current: Event, called: Called, *, now: datetime):
    """New terms for an event not over yet: the old event stops (cancelled, or ended now with
    its vehicles restored when running) and a new one carries the new terms; when the new one
    cannot be scheduled the old one is kept as it was."""
    if current.status_at(now) == Event.Status.COMPLETED:
        return current, OPT_OUT, f"Event #{current.pk} is over; it cannot change now."
    savepoint = transaction.savepoint()
    response, outcome = withdraw(source, current, now=now, why=f"Changed by {source.name}")
    if response == OPT_OUT:
        transaction.savepoint_rollback(savepoint)
        return current, OPT_OUT, outcome
    ends_at = called.starts_at + timedelta(minutes=called.duration_minutes)
    if ends_at <= now + timedelta(minutes=1):
        transaction.savepoint_commit(savepoint)  # shortened to an end already reached
        return current, OPT_IN, f"Shortened by {source.name}: {outcome}"
    event, response, scheduled = _schedule(source, route, called, now=now, replaces=current)
    if event is None:
        transaction.savepoint_rollback(savepoint)  # keep the old event as it was
        return current, OPT_OUT, f"Event #{current.pk} kept as it was. {scheduled}"
    transaction.savepoint_commit(savepoint)
    return event, response, f"{scheduled} It replaces event #{current.pk}."
