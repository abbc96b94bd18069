"""Helpers for the event tests and the dispatch isolation cases."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.utils import timezone
from django_scopes import scopes_disabled

from dispatch.models import Event
from tests.enrollment.factories import ProgramFactory


def open_program(utility, **fields):
    """A V2H program with no window, limits or notice unless given."""
    defaults = {"min_notice_minutes": 0, "kind": "v2h", "name": f"{utility.name} Marker Program"}
    return ProgramFactory(utility=utility, **{**defaults, **fields})


def make_event(
    utility=None, *, program=None, starts_at=None, duration_minutes=120, scheduled=True, **fields
) -> Event:
    """An event row as it stands, without the guardrails."""
    program = program or open_program(utility)
    starts_at = starts_at or timezone.now() + timedelta(days=1)
    event = Event(
        utility=program.utility,
        program=program,
        event_type=fields.pop("event_type", Event.Type.V2H_HOME_SUPPLY),
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        scheduled_at=starts_at - timedelta(days=2) if scheduled else None,
        **fields,
    )
    event.refresh_times()
    with scopes_disabled():
        event.save()
    return event


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


WEEKDAY_EVENINGS = {
    "event_weekdays": [0, 1, 2, 3, 4],
    "event_window_start": time(16),
    "event_window_end": time(21),
}
