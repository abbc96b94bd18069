"""Events called by a grid operator's system over OpenADR 2.0b (``Event.source =
grid_protocol``): what the VEN (``ven``) receives becomes, changes or cancels one of the
utility's events, through the same services and guardrails as an operator's event.

``receive_openadr_event(source_id, data)`` takes one ``oadrEvent`` as OpenLEADR parses it and
returns the answer for the VTN: ``optIn`` when the event is (still) scheduled in the portal,
``optOut`` when it cannot be — no program for its market context, a guardrail refusing it, a
change the portal cannot make, a message without what an event needs. Every (event id,
modification number) is recorded once (``GridSignal``): a repeated delivery gets the same
answer and changes nothing.

Mapping: the ``market_context`` picks the program (``GridSignalRoute``); the event type is
the route's, else the program kind's (V1G load reduction, V2H home supply, V2G export); a
test event is a test; ``SIMPLE`` level 3 (of 0–3) makes it an emergency. The target is a
``LOAD_DISPATCH`` signal's first interval (kW, or W converted), else "all available". The
start is the active period's ``dtstart`` (an event called to start now begins at the next
minute, for what is left of it), its duration rounded up to minutes, its
``tolerance.startafter`` the randomized-start window; the notice is what is left until the
start (the program's minimum notice applies, except to emergencies). A later modification that only lengthens the event extends it; one that cancels it
(``event_status = cancelled``) cancels it; any other change re-schedules an event that has
not started (the old one cancelled) and is refused for one that has.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from dispatch.models import Event, GridSignal, GridSignalRoute, GridSignalSource
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
_WATTS = {"w": 0.001, "kw": 1.0, "mw": 1000.0}


class Malformed(ValueError):
    """The message lacks what an event needs."""


@dataclass(frozen=True)
class Called:
    """What an OpenADR event asks for, read from the message."""

    event_id: str
    modification_number: int
    market_context: str
    status: str
    test_event: bool
    starts_at: datetime
    duration_minutes: int
    randomize_minutes: int
    target_kw: float | None
    level: float | None

    @property
    def cancelled(self) -> bool:
        return self.status == "cancelled"


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _minutes(value: Any) -> int:
    if not isinstance(value, timedelta):
        return 0
    return max(0, math.ceil(value.total_seconds() / 60))


def _first_payload(signal: dict) -> float | None:
    intervals = signal.get("intervals")
    if not isinstance(intervals, list) or not intervals:
        return None
    payload = _get(intervals[0], "signal_payload")
    if isinstance(payload, bool) or not isinstance(payload, int | float):
        return None
    if not math.isfinite(payload):
        return None
    return float(payload)


def read_event(data: Any) -> Called:
    """The event's terms; ``Malformed`` names what is missing or wrong."""
    event_id = _get(data, "event_descriptor", "event_id")
    if not isinstance(event_id, str) or not event_id.strip():
        raise Malformed("The event has no event id.")
    modification = _get(data, "event_descriptor", "modification_number")
    if isinstance(modification, bool) or not isinstance(modification, int) or modification < 0:
        raise Malformed("The event has no valid modification number.")
    starts_at = _get(data, "active_period", "dtstart")
    if not isinstance(starts_at, datetime) or starts_at.tzinfo is None:
        raise Malformed("The event has no start time with a time zone.")
    duration = _minutes(_get(data, "active_period", "duration"))
    if duration <= 0:
        raise Malformed("The event has no duration.")
    target_kw = level = None
    signals = _get(data, "event_signals")
    for signal in signals if isinstance(signals, list) else []:
        if not isinstance(signal, dict):
            continue
        name = str(signal.get("signal_name", "")).upper()
        value = _first_payload(signal)
        if value is None:
            continue
        if name == "LOAD_DISPATCH" and target_kw is None:
            unit = str(_get(signal, "measurement", "unit") or "kW").lower()
            scale = _WATTS.get(unit, _WATTS.get(unit.removeprefix("real"), 1.0))
            target_kw = abs(value) * scale
        elif name == "SIMPLE" and level is None:
            level = value
    return Called(
        event_id=event_id.strip()[:100],
        modification_number=modification,
        market_context=str(_get(data, "event_descriptor", "market_context") or "")[:200],
        status=str(_get(data, "event_descriptor", "event_status") or "")[:20].lower(),
        test_event=bool(_get(data, "event_descriptor", "test_event")),
        starts_at=starts_at,
        duration_minutes=duration,
        randomize_minutes=_minutes(_get(data, "active_period", "tolerance", "startafter")),
        target_kw=target_kw if target_kw else None,
        level=level,
    )


def event_type_for(route: GridSignalRoute, called: Called) -> str:
    if called.test_event:
        return Event.Type.TEST
    if called.level is not None and called.level >= 3:
        return Event.Type.EMERGENCY
    return route.event_type or _TYPE_BY_KIND[route.program.kind]


def receive_openadr_event(source_id: int, data: Any, *, now: datetime | None = None) -> str:
    """Record and act on one OpenADR event for the source; ``optIn`` or ``optOut``."""
    now = now or timezone.now()
    with scopes_disabled():
        utility_id = GridSignalSource.objects.values_list("utility_id", flat=True).get(pk=source_id)
    with scope(utility=utility_id), transaction.atomic():
        # One message at a time per source: a repeat waits for the first, then finds it.
        source = GridSignalSource.objects.select_for_update().select_related("utility")
        source = source.get(pk=source_id)
        source.last_contact_at = now
        source.save(update_fields=["last_contact_at", "updated_at"])
        try:
            called = read_event(data)
        except Malformed as exc:
            # Nothing to key it on (or not a usable event): answered, not recorded twice.
            _audit(source, None, OPT_OUT, f"Malformed event: {exc}")
            return OPT_OUT
        seen = GridSignal.objects.filter(
            source=source,
            vtn_event_id=called.event_id,
            modification_number=called.modification_number,
        ).first()
        if seen is not None:
            return seen.response
        event, response, outcome = _act(source, called, now=now)
        signal = GridSignal.objects.create(
            utility_id=utility_id,
            source=source,
            vtn_event_id=called.event_id,
            modification_number=called.modification_number,
            received_at=now,
            market_context=called.market_context,
            vtn_status=called.status,
            starts_at=called.starts_at,
            duration_minutes=called.duration_minutes,
            target_kw=called.target_kw,
            test_event=called.test_event,
            response=response,
            outcome=outcome[:500],
            event=event,
        )
        _audit(source, signal, response, outcome)
        return response


def _audit(source: GridSignalSource, signal: GridSignal | None, response: str, outcome: str):
    record(
        action="grid_signal.received",
        utility=source.utility,
        obj=source,
        to_state=response,
        comment=outcome[:500],
        changes={
            "vtn_event_id": signal.vtn_event_id if signal else "",
            "modification_number": signal.modification_number if signal else None,
            "event": signal.event_id if signal else None,
        },
    )


def _previous(source: GridSignalSource, called: Called) -> GridSignal | None:
    """The latest earlier modification of this VTN event the portal's event follows (one it
    opted in to)."""
    return (
        GridSignal.objects.filter(
            source=source,
            vtn_event_id=called.event_id,
            modification_number__lt=called.modification_number,
            event__isnull=False,
            response=OPT_IN,
        )
        .select_related("event__program", "event__utility")
        .order_by("-modification_number")
        .first()
    )


def _act(source: GridSignalSource, called: Called, *, now: datetime):
    """(event, response, outcome) for the message."""
    previous = _previous(source, called)
    current = previous.event if previous else None
    if called.cancelled:
        if current is None or current.cancelled_at is not None:
            return current, OPT_IN, "Cancelled by the grid operator; nothing was scheduled."
        try:
            event_services.cancel_event(
                event=current, actor=None, reason=f"Cancelled by {source.name}.", now=now
            )
        except EventError as exc:
            return current, OPT_OUT, f"Could not cancel event #{current.pk}: {exc.message}"
        return current, OPT_IN, f"Cancelled event #{current.pk}."
    route = (
        GridSignalRoute.objects.filter(source=source, market_context=called.market_context)
        .select_related("program")
        .first()
    )
    if route is None:
        return (
            current,
            OPT_OUT,
            (f"No program is mapped to market context {called.market_context or '(none)'!r}."),
        )
    if current is not None and current.cancelled_at is None:
        return _modify(source, route, previous, called, now=now)
    return _schedule(source, route, called, now=now)


def _schedule(source, route, called: Called, *, now: datetime):
    starts_at, duration = called.starts_at, called.duration_minutes
    if starts_at <= now:
        # Called to start now (or already running at the operator): from the next minute, for
        # what is left of it.
        ends_at = starts_at + timedelta(minutes=duration)
        starts_at = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        duration = int((ends_at - starts_at).total_seconds() // 60)
        if duration <= 0:
            return None, OPT_OUT, "The event is over (or about to be); nothing was scheduled."
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
            source=Event.Source.GRID_PROTOCOL,
            actor=None,
            now=now,
        )
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
        and current.program_id == route.program_id
        and current.event_type == event_type_for(route, called)
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
    if current.status_at(now) not in (Event.Status.SCHEDULED, Event.Status.DRAFT):
        return (
            current,
            OPT_OUT,
            (
                f"Event #{current.pk} has been notified or is running: only an extension or a "
                "cancellation can change it now."
            ),
        )
    # Not notified yet: the new terms replace the old event, or nothing changes.
    return _schedule_replacing(source, route, current, called, now=now)


def _schedule_replacing(source, route, current: Event, called: Called, *, now: datetime):
    savepoint = transaction.savepoint()
    try:
        event_services.cancel_event(
            event=current, actor=None, reason=f"Replaced at {source.name}'s request.", now=now
        )
    except EventError as exc:
        transaction.savepoint_rollback(savepoint)
        return current, OPT_OUT, f"Event #{current.pk} not changed: {exc.message}"
    event, response, outcome = _schedule(source, route, called, now=now)
    if event is None:
        transaction.savepoint_rollback(savepoint)  # keep the old event as it was
        return current, OPT_OUT, f"Event #{current.pk} kept as it was. {outcome}"
    transaction.savepoint_commit(savepoint)
    return event, response, f"{outcome} It replaces event #{current.pk}."
