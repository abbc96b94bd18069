"""The VEN's event state machine for one source: what an ``oadrDistributeEvent`` (the VTN's
whole list of this VEN's events) means against what the VEN knew (``GridEvent``, one row per
VTN event id).

For each event in the list, keyed on (eventID, modificationNumber):
- a modification not seen before is acted on (``openadr.receive_openadr_event``) and, when the
  VTN asks for a response, answered with ``oadrCreatedEvent`` (optIn / optOut and the reason);
- the same modification again (the VTN re-lists it, even one already cancelled or completed)
  changes nothing and is not answered again;
- an older modification than the one known is stale and ignored.
Each event is handled on its own: one that cannot be read or acted on is answered optOut with
the reason and never takes the others in the message with it.

An event the VEN knew that the VTN no longer lists — an empty distribute included — is
cancelled by implication (OpenADR 2.0b): the portal's event is cancelled, or ended now with
its vehicles restored when it runs. Events already over or cancelled are left alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from dispatch.grid import openadr
from dispatch.grid.oadr2b_xml import MalformedEvent, VtnEvent
from dispatch.models import Event, GridEvent, GridSignalSource
from portal.audit import record

logger = logging.getLogger(__name__)
ENDED = {"cancelled", "completed"}


@dataclass(frozen=True)
class EventResponse:
    """One ``eventResponse`` of an ``oadrCreatedEvent``."""

    event_id: str
    modification_number: int
    opt_type: str
    reason: str
    response_code: int = 200


def handle_distribute(
    source_id: int, events: list[VtnEvent | MalformedEvent], *, now: datetime | None = None
) -> list[EventResponse]:
    """Act on the VTN's list of events; the responses it asked for."""
    now = now or timezone.now()
    responses = []
    listed = set()
    for item in events:
        listed.add(item.event_id)
        try:
            response = _handle_one(source_id, item, now=now)
        except Exception as exc:  # one event's failure must not lose the others
            logger.exception("Grid signal source %s: event %s failed", source_id, item.event_id)
            response = EventResponse(
                item.event_id,
                item.modification_number or 0,
                openadr.OPT_OUT,
                f"The portal could not handle this event ({type(exc).__name__}).",
            )
        if response is not None and item.response_required and item.event_id:
            responses.append(response)
    implied_cancel(source_id, listed=listed, now=now)
    return responses


def _handle_one(source_id: int, item, *, now: datetime) -> EventResponse | None:
    if isinstance(item, MalformedEvent):
        if not item.event_id or item.modification_number is None:
            return None  # nothing to answer to
        return EventResponse(
            item.event_id, item.modification_number, openadr.OPT_OUT, f"Not usable: {item.reason}"
        )
    known = _known(source_id, item.event_id)
    if known is not None and item.modification_number <= known.modification_number:
        return None  # the same modification again, or an older one: nothing new
    answer = openadr.receive_openadr_event(source_id, item, now=now)
    _remember(source_id, item, answer, now=now)
    return EventResponse(item.event_id, item.modification_number, answer.response, answer.reason)


def _utility_of(source_id: int) -> int:
    with scopes_disabled():
        return GridSignalSource.objects.values_list("utility_id", flat=True).get(pk=source_id)


def _known(source_id: int, event_id: str) -> GridEvent | None:
    with scopes_disabled():
        return GridEvent.objects.filter(source_id=source_id, vtn_event_id=event_id).first()


def _remember(source_id: int, item: VtnEvent, answer: openadr.Answer, *, now: datetime) -> None:
    with scope(utility=_utility_of(source_id)):
        known = GridEvent.objects.filter(source_id=source_id, vtn_event_id=item.event_id).first()
        fields = {
            "modification_number": item.modification_number,
            "market_context": item.market_context,
            "vtn_status": item.status,
            "starts_at": item.starts_at,
            "ends_at": item.starts_at + item.duration,
            "priority": item.priority,
            "test_event": item.test_event,
            "response": answer.response,
            "response_reason": answer.reason[:500],
            "last_listed_at": now,
            "implied_cancel_at": None,
        }
        if answer.event_id is not None or known is None or item.cancelled:
            fields["event_id"] = answer.event_id or (known.event_id if known else None)
        if known is None:
            GridEvent.objects.create(
                utility_id=_utility_of(source_id),
                source_id=source_id,
                vtn_event_id=item.event_id,
                first_seen_at=now,
                **fields,
            )
        else:
            GridEvent.objects.filter(pk=known.pk).update(**fields)


def implied_cancel(source_id: int, *, listed: set[str], now: datetime) -> list[str]:
    """Cancel what the VTN stopped listing; the VTN event ids cancelled."""
    utility_id = _utility_of(source_id)
    cancelled = []
    with scope(utility=utility_id):
        GridEvent.objects.filter(source_id=source_id, vtn_event_id__in=listed).update(
            last_listed_at=now
        )
        gone = (
            GridEvent.objects.filter(source_id=source_id, implied_cancel_at__isnull=True)
            .exclude(vtn_event_id__in=listed)
            .exclude(vtn_status__in=ENDED)
            .exclude(ends_at__lte=now)
        )
        for grid_event in gone.select_related("event"):
            with transaction.atomic():
                source = GridSignalSource.objects.select_for_update().get(pk=source_id)
                response, outcome = openadr.withdraw(
                    source,
                    grid_event.event,
                    now=now,
                    why=f"No longer listed by {source.name} (implied cancellation)",
                )
                GridEvent.objects.filter(pk=grid_event.pk).update(
                    implied_cancel_at=now,
                    vtn_status="cancelled",
                    response_reason=outcome[:500],
                )
                record(
                    action="grid_signal.implied_cancel",
                    utility=source.utility,
                    obj=source,
                    to_state=response,
                    comment=outcome[:500],
                    changes={"vtn_event_id": grid_event.vtn_event_id},
                )
            cancelled.append(grid_event.vtn_event_id)
    return cancelled


def in_force(source: GridSignalSource, *, now: datetime) -> list[GridEvent]:
    """The source's VTN events in force now (listed, not cancelled, not over), with the
    portal's event for each: what the source page compares."""
    return list(
        GridEvent.objects.filter(source=source, implied_cancel_at__isnull=True)
        .exclude(vtn_status__in=ENDED)
        .exclude(ends_at__lte=now - timedelta(seconds=0))
        .select_related("event")
        .order_by("starts_at", "pk")
    )


def portal_event_in_force(grid_event: GridEvent, *, now: datetime) -> bool:
    event: Event | None = grid_event.event
    return event is not None and event.status_at(now) not in (
        Event.Status.CANCELLED,
        Event.Status.COMPLETED,
    )
