"""An event's status is derived from the clock and the actions taken on it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django_scopes import scope

from dispatch.models import Event
from tests.dispatch.events_support import make_event, utc

pytestmark = pytest.mark.django_db

START = utc(2026, 7, 1, 23)


@pytest.mark.parametrize(
    ("minutes_from_start", "expected"),
    [
        (-120, Event.Status.SCHEDULED),
        (-60, Event.Status.NOTIFIED),
        (-1, Event.Status.NOTIFIED),
        (0, Event.Status.ACTIVE),
        (119, Event.Status.ACTIVE),
        (120, Event.Status.COMPLETED),
    ],
)
def test_it_moves_through_its_statuses_over_time(utility_a, minutes_from_start, expected):
    event = make_event(utility_a, starts_at=START, duration_minutes=120)
    assert event.status_at(START + timedelta(minutes=minutes_from_start)) == expected


def test_it_is_a_draft_until_scheduled_and_cancelled_whatever_the_time(utility_a):
    draft = make_event(utility_a, starts_at=START, scheduled=False)
    assert draft.status_at(START) == Event.Status.DRAFT
    cancelled = make_event(utility_a, starts_at=START, cancelled_at=START - timedelta(hours=3))
    assert cancelled.status_at(START + timedelta(minutes=30)) == Event.Status.CANCELLED


def test_it_ends_when_ended_early_and_later_when_extended(utility_a):
    event = make_event(utility_a, starts_at=START, duration_minutes=60)
    event.extended_minutes = 30
    event.refresh_times()
    assert event.status_at(START + timedelta(minutes=80)) == Event.Status.ACTIVE
    event.ended_early_at = START + timedelta(minutes=10)
    event.refresh_times()
    assert event.ends_at == START + timedelta(minutes=10)
    assert event.status_at(START + timedelta(minutes=11)) == Event.Status.COMPLETED


def test_its_sql_status_filter_agrees_with_the_derived_status(utility_a):
    events = [
        make_event(utility_a, starts_at=START + timedelta(minutes=m)) for m in (-300, -30, 30, 300)
    ]
    events.append(make_event(utility_a, starts_at=START, scheduled=False))
    events.append(make_event(utility_a, starts_at=START, cancelled_at=START))
    with scope(utility=utility_a.pk):
        for status in Event.Status:
            in_sql = set(
                Event.objects.filter(Event.status_q(status, START)).values_list("pk", flat=True)
            )
            derived = {e.pk for e in events if e.status_at(START) == status}
            assert in_sql == derived, status
