"""Scheduling behind the guardrails, and cancel / end early / extend with stale-state checks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django_scopes import scope

from dispatch.models import Event
from dispatch.services.errors import GuardrailsFailed, StaleEvent
from dispatch.services.events import cancel_event, end_early, extend, schedule_event
from portal.models import AuditEvent
from tests.dispatch.events_support import WEEKDAY_EVENINGS, make_event, open_program, utc
from tests.portal.factories import UserFactory

pytestmark = pytest.mark.django_db

NOW = utc(2026, 7, 1, 12)  # Wednesday 05:00 in Los Angeles
EVENING = utc(2026, 7, 2, 0)  # Wednesday 17:00 in Los Angeles


def _schedule(program, **kwargs):
    args = {
        "utility": program.utility, "program": program, "event_type": Event.Type.V2H_HOME_SUPPLY,
        "starts_at": EVENING, "duration_minutes": 120, "actor": UserFactory(), "now": NOW,
    }  # fmt: skip
    with scope(utility=program.utility.pk):
        return schedule_event(**{**args, **kwargs})


def test_it_schedules_an_event_that_passes_every_guardrail(utility_a):
    program = open_program(utility_a, min_notice_minutes=60, **WEEKDAY_EVENINGS)
    event = _schedule(program)
    assert event.status_at(NOW) == Event.Status.SCHEDULED
    assert event.ends_at == EVENING + timedelta(hours=2)
    assert all(r["ok"] for r in event.guardrail_results)
    with scope(utility=utility_a.pk):
        row = AuditEvent.objects.get(object_id=str(event.pk), action="event.scheduled")
    assert row.to_state == "scheduled"


def test_it_refuses_an_event_listing_every_failed_rule(utility_a):
    program = open_program(
        utility_a, min_notice_minutes=24 * 60, max_hours_per_event=1, **WEEKDAY_EVENINGS
    )
    with pytest.raises(GuardrailsFailed) as refused:
        _schedule(program)
    assert refused.value.details["rules"] == ["notice", "hours_per_event"]
    with scope(utility=utility_a.pk):
        assert not Event.objects.exists()


def test_it_refuses_an_overlap_of_equal_priority_and_names_the_event(utility_a):
    program = open_program(utility_a)
    first = _schedule(program, priority=3)
    with pytest.raises(GuardrailsFailed) as refused:
        _schedule(program, priority=3, starts_at=EVENING + timedelta(hours=1))
    assert f"event #{first.pk}" in refused.value.message
    assert _schedule(program, priority=4, starts_at=EVENING + timedelta(hours=1)).pk


def test_it_does_not_count_cancelled_events_against_the_monthly_limit(utility_a):
    program = open_program(utility_a, max_events_per_month=1)
    make_event(program=program, starts_at=EVENING - timedelta(days=1), cancelled_at=NOW)
    assert _schedule(program).pk
    with pytest.raises(GuardrailsFailed):
        _schedule(program, starts_at=EVENING + timedelta(days=1))


def test_it_cancels_a_scheduled_event_once(utility_a):
    event = make_event(utility_a, starts_at=EVENING)
    with scope(utility=utility_a.pk):
        cancel_event(event=event, actor=None, expected_modification=0, now=NOW)
        event.refresh_from_db()
        assert event.status_at(NOW) == Event.Status.CANCELLED
        assert event.modification_number == 1
        with pytest.raises(StaleEvent, match="changed since you loaded"):
            cancel_event(event=event, actor=None, expected_modification=0, now=NOW)
        with pytest.raises(StaleEvent, match="cancelled event cannot be cancelled"):
            cancel_event(event=event, actor=None, now=NOW)
        assert AuditEvent.objects.filter(action="event.cancelled").count() == 1


def test_it_ends_an_active_event_early(utility_a):
    event = make_event(utility_a, starts_at=EVENING, duration_minutes=120)
    during = EVENING + timedelta(minutes=30)
    with scope(utility=utility_a.pk):
        with pytest.raises(StaleEvent):
            end_early(event=event, actor=None, now=NOW)  # not started yet
        end_early(event=event, actor=None, expected_modification=0, now=during)
        event.refresh_from_db()
    assert event.ends_at == during
    assert event.status_at(during) == Event.Status.COMPLETED


def test_it_extends_within_the_programs_hours_per_event(utility_a):
    program = open_program(utility_a, max_hours_per_event=3)
    event = make_event(program=program, starts_at=EVENING, duration_minutes=120)
    during = EVENING + timedelta(minutes=30)
    with scope(utility=utility_a.pk):
        extend(event=event, minutes=60, actor=None, expected_modification=0, now=during)
        event.refresh_from_db()
        assert event.ends_at == EVENING + timedelta(hours=3)
        assert event.modification_number == 1
        with pytest.raises(GuardrailsFailed, match="exceeds"):
            extend(event=event, minutes=1, actor=None, now=during)


def test_it_does_not_extend_into_an_event_of_higher_priority(utility_a):
    program = open_program(utility_a)
    event = make_event(program=program, starts_at=EVENING, duration_minutes=60, priority=1)
    make_event(program=program, starts_at=EVENING + timedelta(hours=1), priority=2)
    with scope(utility=utility_a.pk), pytest.raises(GuardrailsFailed, match="Overlaps"):
        extend(event=event, minutes=30, actor=None, now=NOW)


def test_it_notifies_an_event_scheduled_inside_its_lead_time_at_once(utility_a):
    # Created at 15:10 for 15:13 with the default hour's notice: customers hear of it at
    # 15:10, not at 14:13 (before the event existed).
    program = open_program(utility_a)
    created = utc(2026, 7, 1, 22, 10)
    event = _schedule(
        program, starts_at=created + timedelta(minutes=3), notification_lead_minutes=60,
        now=created,
    )  # fmt: skip
    assert event.notify_at == created
    assert event.notified_at_once
    assert event.status_at(created) == Event.Status.NOTIFIED

    ahead = _schedule(program, starts_at=created + timedelta(hours=3), now=created)
    assert ahead.notify_at == created + timedelta(hours=2)
    assert not ahead.notified_at_once
