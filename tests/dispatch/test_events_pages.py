"""Event pages: list, schedule with preview, detail and its actions, per role."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from dispatch.models import Event
from portal.models import AuditEvent
from portal.roles import Role
from tests.dispatch.events_support import make_event, open_program, utc
from tests.portal.factories import make_member

pytestmark = pytest.mark.django_db


def _url(name, utility, *args):
    return reverse(f"utility:{name}", args=[utility.slug, *args])


@pytest.fixture
def operator(client, utility_a):
    client.force_login(make_member(Role.DR_OPERATOR, utility=utility_a))
    return client


def _form(program, **fields):
    start = timezone.localtime(timezone.now() + timedelta(days=1), program.utility.tzinfo)
    return {
        "program": program.pk, "event_type": Event.Type.V2H_HOME_SUPPLY,
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"), "duration_minutes": 90,
        "notification_lead_minutes": 60, "randomize_start_minutes": 0, "target_kw": "",
        "priority": 0, **fields,
    }  # fmt: skip


def test_it_lists_events_with_a_constant_number_of_queries(
    operator, utility_a, django_assert_max_num_queries
):
    program = open_program(utility_a)
    for i in range(3):
        make_event(program=program, starts_at=timezone.now() + timedelta(days=i + 1))
    with django_assert_max_num_queries(12) as few:
        assert operator.get(_url("event_list", utility_a)).status_code == 200
    for i in range(20):
        make_event(program=program, starts_at=timezone.now() + timedelta(days=i + 10))
    with django_assert_max_num_queries(len(few.captured_queries)):
        operator.get(_url("event_list", utility_a))


def test_it_filters_the_list_by_status(operator, utility_a):
    live = make_event(utility_a)
    cancelled = make_event(program=live.program, cancelled_at=timezone.now())
    body = operator.get(_url("event_list", utility_a) + "?status=cancelled").content.decode()
    assert f">#{cancelled.pk}<" in body
    assert f">#{live.pk}<" not in body


def test_it_previews_capacity_and_guardrails_without_scheduling(operator, utility_a):
    program = open_program(utility_a, max_hours_per_event=1)
    response = operator.post(_url("event_create", utility_a), {**_form(program), "preview": "1"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Capacity at that time" in body
    assert "1.5 h exceeds the program" in body
    with scopes_disabled():
        assert not Event.objects.exists()


def test_it_schedules_from_the_form_in_local_time(operator, utility_a):
    program = open_program(utility_a)
    data = _form(program, starts_at="2030-07-01T17:00")
    response = operator.post(_url("event_create", utility_a), {**data, "schedule": "1"})
    with scopes_disabled():
        event = Event.objects.get()
    assert response.status_code == 302
    assert response["Location"] == _url("event_detail", utility_a, event.pk)
    assert event.starts_at == utc(2030, 7, 2, 0)


def test_it_shows_each_failed_rule_and_keeps_the_input(operator, utility_a):
    program = open_program(utility_a, min_notice_minutes=10 * 24 * 60)
    response = operator.post(
        _url("event_create", utility_a), {**_form(program, target_kw="250"), "schedule": "1"}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "Not scheduled" in body and "the program needs 14400" in body
    assert 'value="250' in body


def test_it_cancels_from_the_detail_page_and_explains_a_stale_click(operator, utility_a):
    event = make_event(utility_a)
    url = _url("event_cancel", utility_a, event.pk)
    first = operator.post(url, {"expected_modification": 0}, follow=True)
    assert "The event is cancelled." in first.content.decode()
    again = operator.post(url, {"expected_modification": 0}, follow=True)
    assert again.status_code == 200
    assert "changed since you loaded the page" in again.content.decode()
    with scopes_disabled():
        assert AuditEvent.objects.filter(action="event.cancelled").count() == 1


def test_it_extends_and_ends_an_active_event(operator, utility_a):
    event = make_event(utility_a, starts_at=timezone.now() - timedelta(minutes=10))
    operator.post(
        _url("event_extend", utility_a, event.pk), {"expected_modification": 0, "minutes": 30}
    )
    operator.post(
        _url("event_end_early", utility_a, event.pk),
        {"expected_modification": 1, "confirm": "True", "reason": "Feeder restored"},
    )
    event.refresh_from_db()
    assert (event.extended_minutes, event.modification_number) == (30, 2)
    assert event.ended_early_at is not None
    body = operator.get(_url("event_detail", utility_a, event.pk)).content.decode()
    assert "event.extended" in body and "event.ended_early" in body and "Completed" in body


def test_it_asks_for_the_minutes_when_extending_without_them(operator, utility_a):
    event = make_event(utility_a)
    response = operator.post(
        _url("event_extend", utility_a, event.pk), {"expected_modification": 0}, follow=True
    )
    assert "Say by how many minutes" in response.content.decode()


@pytest.mark.parametrize(
    ("role", "reads", "writes"),
    [
        (Role.DR_OPERATOR, 200, 200),
        (Role.AUDITOR, 200, 403),
        (Role.SETTLEMENT_ANALYST, 200, 403),
        (Role.CUSTOMER_SERVICE, 403, 403),
    ],
)
def test_it_gives_each_role_the_event_pages_it_may_use(client, utility_a, role, reads, writes):
    client.force_login(make_member(role, utility=utility_a))
    event = make_event(utility_a)
    assert client.get(_url("event_list", utility_a)).status_code == reads
    assert client.get(_url("event_detail", utility_a, event.pk)).status_code == reads
    assert client.get(_url("event_create", utility_a)).status_code == writes
    cancel = client.post(_url("event_cancel", utility_a, event.pk), {"expected_modification": 0})
    assert cancel.status_code == (302 if writes == 200 else 403)


def test_it_says_an_event_inside_its_lead_time_was_notified_at_once(operator, utility_a):
    program = open_program(utility_a)
    response = operator.post(
        _url("event_create", utility_a),
        {**_form(program, starts_at=""), "starts_at": _local_in(program, minutes=3),
         "schedule": "1"},
        follow=True,
    )  # fmt: skip
    body = response.content.decode()
    assert "at once, when the event was scheduled" in body
    with scopes_disabled():
        event = Event.objects.get(program=program)
    assert event.notify_at == event.scheduled_at


def _local_in(program, *, minutes: int) -> str:
    start = timezone.localtime(timezone.now() + timedelta(minutes=minutes), program.utility.tzinfo)
    return start.strftime("%Y-%m-%dT%H:%M:%S")


def test_ending_now_asks_for_confirmation_and_a_reason(operator, utility_a):
    event = make_event(utility_a, starts_at=timezone.now() - timedelta(minutes=10))
    detail = operator.get(_url("event_detail", utility_a, event.pk)).content.decode()
    confirm_url = _url("event_end_early_confirm", utility_a, event.pk)
    assert confirm_url in detail  # "End now…" opens the confirmation step (a plain GET)
    page = operator.get(confirm_url).content.decode()
    assert "Confirm: end the event now" in page and "spread over the next 15 minutes" in page

    url = _url("event_end_early", utility_a, event.pk)
    for data in (
        {"expected_modification": 0, "reason": "Feeder restored"},  # not confirmed
        {"expected_modification": 0, "confirm": "True", "reason": "  "},  # no reason
        {"expected_modification": "x", "confirm": "True", "reason": "ok"},  # tampered
    ):
        response = operator.post(url, data)
        assert response.status_code == 200  # the confirmation page again, saying why
        assert "Nothing was done" in response.content.decode()
    event.refresh_from_db()
    assert event.ended_early_at is None

    operator.post(url, {"expected_modification": 0, "confirm": "True", "reason": "Feeder restored"})
    event.refresh_from_db()
    assert event.ended_early_at is not None
    with scopes_disabled():
        row = AuditEvent.objects.get(action="event.ended_early", object_id=str(event.pk))
    assert row.comment == "Feeder restored"
