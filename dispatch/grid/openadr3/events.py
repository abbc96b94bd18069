"""OpenADR 3 events into the utility's events, through dispatch's event services and their
guardrails (the same ones the 2.0b VEN and an operator go through).

``receive_event`` takes one event object as the VTN sent it (polled, or in a subscription
callback) and returns what the portal did (``Outcome``). Each version of a VTN event — its id
and ``modificationDateTime`` (a hash of the object when the VTN sends none) — is acted on once:
the poll and the callback that deliver the same version find the first one's ``GridSignal``
and change nothing. Handling is serialized per source (the source row is locked), so a
callback and a poll arriving together cannot both schedule.

The portal's event asks for the kW of the interval in force: the first before it starts, then
each next interval's as it begins (``follow_intervals``, run on every poll, changes the event's
target and so makes it planned again). A new version of an event the portal follows replaces
it: before it is running the old event
is cancelled and the new one scheduled; while it runs, an extension (same terms, longer)
extends it, anything else ends it now and schedules the rest under the new terms from the next
minute. A deleted event (a DELETE callback, or an event the VTN no longer lists) is cancelled,
or ended now if it is running.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from dispatch.grid.openadr3 import mapping
from dispatch.grid.openadr3.mapping import Called3, Malformed
from dispatch.grid.openadr3.terms import Terms, kw_at, terms_for, why_nothing
from dispatch.models import (
    Event,
    GridEvent,
    GridSignal,
    GridSignalRoute,
    GridSignalSource,
    OpenADR3EventVersion,
)
from dispatch.services import events as event_services
from dispatch.services.errors import EventError
from portal.audit import record

ACCEPTED, REFUSED = GridSignal.Response.OPT_IN, GridSignal.Response.OPT_OUT
DELETED = "deleted"  # ``GridEvent.vtn_status`` of an event the VTN deleted
MAX_NOTICE_MINUTES = 24 * 60


@dataclass(frozen=True)
class Outcome:
    response: str  # ACCEPTED or REFUSED
    message: str
    event_id: int | None = None
    repeated: bool = False


def version_of(data: dict, called: Called3) -> str:
    if called.modified_at is not None:
        return called.modified_at.isoformat()[:64]
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _utility_of(source_id: int) -> int:
    with scopes_disabled():
        return GridSignalSource.objects.values_list("utility_id", flat=True).get(pk=source_id)


def receive_event(source_id: int, data: Any, *, now: datetime | None = None) -> Outcome:
    now = now or timezone.now()
    with scope(utility=_utility_of(source_id)), transaction.atomic():
        source = GridSignalSource.objects.select_for_update().select_related("utility")
        source = source.get(pk=source_id)
        try:
            called = mapping.read_event(data)
        except Malformed as exc:
            # Nothing to key it on: not recorded (the message log keeps what came in).
            return Outcome(REFUSED, f"Malformed event: {exc}")
        version = version_of(data, called)
        seen = (
            OpenADR3EventVersion.objects.filter(
                source=source, vtn_event_id=called.event_id, version=version
            )
            .select_related("signal")
            .first()
        )
        if seen is not None:
            _listed(source, called.event_id, now)
            signal = seen.signal
            return Outcome(signal.response, signal.outcome, signal.event_id, repeated=True)
        link = source.openadr3
        program_name = (link.vtn_programs or {}).get(called.program_id, {}).get("programName")
        if program_name is None:
            # Not recorded: the next poll reads the VTN's programs first, then acts on it.
            why = (
                f"The VTN's program {called.program_id!r} is not known yet; the next poll reads it."
            )
            return Outcome(REFUSED, why)
        event, response, message, terms = _act(source, link, called, program_name, now=now)
        signal = _record(source, called, version=version, response=response, outcome=message,
                         event=event, terms=terms, program_name=program_name, now=now)  # fmt: skip
        _audit(source, signal, response, message)
        return Outcome(response, message, event.pk if event else None)


def receive_deleted(source_id: int, vtn_event_id: str, *, now: datetime | None = None) -> Outcome:
    """The VTN deleted the event (or stopped listing it): the portal's event is cancelled, or
    ended now while it runs. Recorded once."""
    now = now or timezone.now()
    with scope(utility=_utility_of(source_id)), transaction.atomic():
        source = GridSignalSource.objects.select_for_update().select_related("utility")
        source = source.get(pk=source_id)
        known = GridEvent.objects.filter(source=source, vtn_event_id=vtn_event_id).first()
        if known is None:
            return Outcome(ACCEPTED, "An event the portal never heard of: nothing to do.")
        if known.vtn_status == DELETED:
            return Outcome(ACCEPTED, "Already deleted.", known.event_id, repeated=True)
        previous = _previous(source, vtn_event_id)
        event, response, message = _withdraw(source, previous.event if previous else None, now)
        signal = GridSignal.objects.create(
            utility_id=source.utility_id, source=source, vtn_event_id=vtn_event_id[:100],
            modification_number=_next_number(source, vtn_event_id), received_at=now,
            market_context=known.market_context, vtn_status=DELETED, response=response,
            outcome=message[:500], event=event,
        )  # fmt: skip
        GridEvent.objects.filter(pk=known.pk).update(
            vtn_status=DELETED, implied_cancel_at=now, response=response,
            response_reason=message[:500], modification_number=signal.modification_number,
        )  # fmt: skip
        _audit(source, signal, response, message)
        return Outcome(response, message, event.pk if event else None)


def followed_event_ids(source: GridSignalSource) -> set[str]:
    """The VTN events the portal knows and has not seen deleted (call inside the scope)."""
    return set(
        GridEvent.objects.filter(source=source)
        .exclude(vtn_status=DELETED)
        .values_list("vtn_event_id", flat=True)
    )


def _next_number(source, vtn_event_id: str) -> int:
    return GridSignal.objects.filter(source=source, vtn_event_id=vtn_event_id).count()


def _listed(source, vtn_event_id: str, now: datetime) -> None:
    GridEvent.objects.filter(source=source, vtn_event_id=vtn_event_id).update(last_listed_at=now)


def _record(source, called: Called3, *, version, response, outcome, event, terms, program_name,
            now) -> GridSignal:  # fmt: skip
    """The signal (the shared log of what each version asked and got), the version key, and
    the VTN event's current state."""
    number = _next_number(source, called.event_id)
    context = program_name or called.program_id
    signal = GridSignal.objects.create(
        utility_id=source.utility_id,
        source=source,
        vtn_event_id=called.event_id,
        modification_number=number,
        received_at=now,
        market_context=context[:200],
        vtn_status="",
        starts_at=called.starts_at,
        duration_minutes=called.duration_minutes,
        target_kw=terms.target_kw if terms else None,
        response=response,
        outcome=outcome[:500],
        event=event,
    )
    OpenADR3EventVersion.objects.create(
        utility_id=source.utility_id,
        source=source,
        vtn_event_id=called.event_id,
        version=version,
        vtn_program_id=called.program_id,
        signal=signal,
        priority=called.priority,
        intervals=[
            {"start": i.starts_at.isoformat(), "minutes": i.minutes, "payloads": i.payloads}
            for i in called.intervals
        ],
        profile=terms.profile if terms else [],
        report_requests=called.report_requests,
    )
    GridEvent.objects.update_or_create(
        source=source,
        vtn_event_id=called.event_id,
        defaults={
            "utility_id": source.utility_id,
            "modification_number": number,
            "market_context": context[:200],
            "vtn_status": "",
            "starts_at": called.starts_at,
            "ends_at": called.ends_at,
            "priority": called.priority,
            "response": response,
            "response_reason": outcome[:500],
            "event": event,
            "last_listed_at": now,
            "implied_cancel_at": None,
        },
        create_defaults={
            "utility_id": source.utility_id,
            "modification_number": number,
            "market_context": context[:200],
            "starts_at": called.starts_at,
            "ends_at": called.ends_at,
            "priority": called.priority,
            "response": response,
            "response_reason": outcome[:500],
            "event": event,
            "first_seen_at": now,
            "last_listed_at": now,
        },  # fmt: skip
    )
    return signal


def _audit(source, signal: GridSignal, response: str, outcome: str) -> None:
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


def _previous(source, vtn_event_id: str) -> GridSignal | None:
    """The latest version of this VTN event that a portal event follows."""
    return (
        GridSignal.objects.filter(
            source=source, vtn_event_id=vtn_event_id, event__isnull=False, response=ACCEPTED
        )
        .select_related("event__program", "event__utility")
        .order_by("-modification_number")
        .first()
    )


def _act(source, link, called: Called3, program_name: str, *, now):
    """(event, response, message, terms) for a new version of a VTN event."""
    previous = _previous(source, called.event_id)
    current = previous.event if previous and previous.event.cancelled_at is None else None
    route = (
        GridSignalRoute.objects.filter(source=source, market_context=program_name)
        .select_related("program__utility")
        .first()
    )
    if route is None:
        why = f"No program is mapped to the VTN's program {program_name!r}."
        return current, REFUSED, why, None
    try:
        terms = terms_for(source, link, route, called, now=now)
    except EventError as exc:
        return current, REFUSED, f"Targets refused: {exc.message}", None
    if terms is None:
        if current is not None:
            return (*_withdraw(source, current, now), None)
        return None, REFUSED, why_nothing(link, called), None
    if current is None:
        return (*_schedule(source, route, terms, now=now), terms)
    return (*_modify(source, route, current, terms, now=now), terms)


def follow_intervals(source_id: int, *, now: datetime | None = None) -> list[int]:
    """Move each live event that follows a VTN event to the kW of the interval in force now
    (its latest accepted version's profile); the ids of the events changed."""
    now = now or timezone.now()
    changed = []
    with scope(utility=_utility_of(source_id)):
        latest: dict[str, OpenADR3EventVersion] = {}
        versions = (
            OpenADR3EventVersion.objects.filter(
                source_id=source_id,
                signal__response=ACCEPTED,
                signal__event__cancelled_at__isnull=True,
                signal__event__ends_at__gt=now,
            )
            .exclude(profile=[])
            .select_related("signal__event")
            .order_by("signal__modification_number")
        )
        for version in versions:
            latest[version.vtn_event_id] = version
        for version in latest.values():
            event, wanted = version.signal.event, kw_at(version.profile, now)
            if event.target_kw == wanted or event.status_at(now) not in Event.EXTENDABLE:
                continue
            try:
                event_services.retarget(
                    event=event, target_kw=wanted, actor=None, now=now,
                    reason=f"The grid operator's next interval asks for {wanted} kW.",
                )  # fmt: skip
            except EventError:
                continue  # changed meanwhile; the next poll looks again
            changed.append(event.pk)
    return changed


def _schedule(source, route, terms: Terms, *, now: datetime, replaces: Event | None = None):
    starts_at, duration = terms.starts_at, terms.duration_minutes
    if starts_at <= now:
        # Already running at the VTN: from the next minute, for what is left of it.
        ends_at = starts_at + timedelta(minutes=duration)
        starts_at = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        duration = int((ends_at - starts_at).total_seconds() // 60)
        if duration <= 0:
            return None, REFUSED, "The event is over (or about to be); nothing was scheduled."
    # The notice is what is left until the start, rounded up: customers are told now.
    notice = min(MAX_NOTICE_MINUTES, math.ceil((starts_at - now).total_seconds() / 60))
    try:
        event = event_services.schedule_event(
            utility=source.utility,
            program=route.program,
            event_type=terms.event_type,
            starts_at=starts_at,
            duration_minutes=duration,
            notification_lead_minutes=notice,
            randomize_start_minutes=min(terms.randomize_minutes, duration),
            target_kw=terms.target_kw,
            targeting=terms.targeting,
            group_ids=terms.group_ids,
            vehicle_ids=terms.vehicle_ids,
            priority=terms.priority,
            source=Event.Source.GRID_PROTOCOL,
            actor=None,
            now=now,
            # A new version keeps the replaced event's notice and place in the monthly counts.
            replaces=replaces,
        )
    except EventError as exc:
        return None, REFUSED, f"Not scheduled: {exc.message}"
    target = f"{terms.target_kw:g} kW" if terms.target_kw is not None else "all available"
    return event, ACCEPTED, f"Scheduled event #{event.pk} ({route.program.name}, {target})."


def _modify(source, route, current: Event, terms: Terms, *, now: datetime):
    same = (
        current.program_id == route.program_id
        and current.event_type == terms.event_type
        and current.target_kw == terms.target_kw
        and current.priority == terms.priority
        and current.targeting == terms.targeting
    )
    planned_end = current.starts_at + timedelta(
        minutes=current.duration_minutes + current.extended_minutes
    )
    new_end = terms.starts_at + timedelta(minutes=terms.duration_minutes)
    if same and new_end == planned_end and terms.starts_at <= current.starts_at:
        return current, ACCEPTED, f"No change to event #{current.pk}."
    if same and new_end > planned_end and terms.starts_at <= current.starts_at:
        minutes = int((new_end - planned_end).total_seconds() // 60)
        try:
            event_services.extend(event=current, minutes=minutes, actor=None,
                                  reason=f"Extended by {source.name}.", now=now)  # fmt: skip
        except EventError as exc:
            return current, REFUSED, f"Event #{current.pk} not extended: {exc.message}"
        return current, ACCEPTED, f"Extended event #{current.pk} by {minutes} min."
    savepoint = transaction.savepoint()
    _, response, message = _withdraw(source, current, now, verb="Replaced")
    if response != ACCEPTED:
        transaction.savepoint_rollback(savepoint)
        return current, REFUSED, message
    event, response, outcome = _schedule(source, route, terms, now=now, replaces=current)
    if event is None:
        transaction.savepoint_rollback(savepoint)  # the old event stays as it was
        return current, REFUSED, f"Event #{current.pk} kept as it was. {outcome}"
    transaction.savepoint_commit(savepoint)
    return event, ACCEPTED, f"{outcome} It replaces event #{current.pk}."


def _withdraw(source, event: Event | None, now: datetime, *, verb: str = "Cancelled"):
    if event is None or event.cancelled_at is not None:
        return event, ACCEPTED, f"{verb} by {source.name}; nothing was scheduled."
    status = event.status_at(now)
    reason = f"{verb} by {source.name}."
    try:
        if status in Event.CANCELLABLE:
            event_services.cancel_event(event=event, actor=None, reason=reason, now=now)
            return event, ACCEPTED, f"{verb}: event #{event.pk} cancelled."
        if status in Event.ENDABLE:
            event_services.end_early(event=event, actor=None, reason=reason, now=now)
            return event, ACCEPTED, f"{verb}: event #{event.pk} ended early."
    except EventError as exc:
        return event, REFUSED, f"Event #{event.pk} could not be withdrawn: {exc.message}"
    return event, ACCEPTED, f"Event #{event.pk} is already {status}."
