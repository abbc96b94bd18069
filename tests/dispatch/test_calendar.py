"""The events calendar: a month grid in the utility's time zone, per program, with clear
messages (never an error page) for bad parameters, and links to and from it."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from dispatch.event_calendar import BadCalendarParameter, add_months, parse_month
from portal.roles import Role
from tests.dispatch.events_support import make_event, open_program
from tests.portal.factories import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client, utility_a):
    client.force_login(make_member(Role.DR_OPERATOR, utility=utility_a))
    return client


def _calendar(client, utility, query="") -> str:
    response = client.get(reverse("utility:event_calendar", args=[utility.slug]) + query)
    assert response.status_code == 200
    return response.content.decode()


def _days(body: str) -> list[str]:
    return re.findall(r'<td class="[^"]*" data-date="([\d-]+)"', body)


def _cell(body: str, day: str) -> str:
    match = re.search(rf'data-date="{day}"[^>]*>(.*?)</td>', body, re.S)
    assert match, f"no cell for {day}"
    return match[1]


def _local(utility, *args) -> datetime:
    return datetime(*args, tzinfo=utility.tzinfo)


def _event_link(utility, event) -> str:
    return reverse("utility:event_detail", args=[utility.slug, event.pk])


def test_it_lays_out_the_month_in_weeks_from_monday(operator, utility_a):
    body = _calendar(operator, utility_a, "?month=2030-03")
    days = _days(body)
    # March 2030 starts on a Friday and ends on a Sunday.
    assert days[0] == "2030-02-25" and days[-1] == "2030-03-31"
    assert len(days) == 35
    assert [m for m in re.findall(r'<abbr title="(\w+)">', body)][:2] == ["Monday", "Tuesday"]
    assert 'class="other-month" data-date="2030-02-28"' in body
    assert "March 2030" in body


def test_it_puts_an_event_on_its_local_day(operator, utility_a):
    program = open_program(utility_a)
    # 23:30 in Los Angeles is already the next day in UTC.
    late = make_event(program=program, starts_at=_local(utility_a, 2030, 7, 15, 23, 30))
    assert late.starts_at.astimezone(UTC).day == 16
    body = _calendar(operator, utility_a, "?month=2030-07")
    assert _event_link(utility_a, late) in _cell(body, "2030-07-15")
    assert "23:30" in _cell(body, "2030-07-15")
    assert _event_link(utility_a, late) not in _cell(body, "2030-07-16")


def test_it_keeps_the_months_boundaries_in_local_time(operator, utility_a):
    program = open_program(utility_a)
    last_evening = make_event(program=program, starts_at=_local(utility_a, 2030, 7, 31, 23, 30))
    first_morning = make_event(program=program, starts_at=_local(utility_a, 2030, 8, 1, 0, 15))
    before = make_event(program=program, starts_at=_local(utility_a, 2030, 6, 30, 23, 59))
    body = _calendar(operator, utility_a, "?month=2030-07")
    assert _event_link(utility_a, last_evening) in _cell(body, "2030-07-31")
    # 1 August is in July's last week: shown, greyed, and not counted as July's.
    assert _event_link(utility_a, first_morning) in _cell(body, "2030-08-01")
    assert _event_link(utility_a, before) not in body  # June 30 is not on July's grid
    assert "1 event starting in July 2030" in body

    august = _calendar(operator, utility_a, "?month=2030-08")
    assert _event_link(utility_a, last_evening) in _cell(august, "2030-07-31")
    assert "1 event starting in August 2030" in august


def test_it_shows_one_programs_events_with_time_type_and_status(operator, utility_a):
    mine = open_program(utility_a, name="Summer V2H")
    other = open_program(utility_a, name="Fleet V1G")
    shown = make_event(
        program=mine, starts_at=_local(utility_a, 2030, 7, 2, 17, 0), cancelled_at=timezone.now()
    )
    hidden = make_event(program=other, starts_at=_local(utility_a, 2030, 7, 2, 18, 0))
    body = _calendar(operator, utility_a, f"?program={mine.pk}&month=2030-07")
    cell = _cell(body, "2030-07-02")
    assert _event_link(utility_a, shown) in cell
    assert "17:00 V2H home supply" in cell
    assert '<span class="badge cancelled">Cancelled</span>' in cell
    assert _event_link(utility_a, hidden) not in body
    assert f'<option value="{mine.pk}" selected>Summer V2H</option>' in body

    everything = _calendar(operator, utility_a, "?month=2030-07")
    assert _event_link(utility_a, hidden) in everything
    assert "Fleet V1G" in _cell(everything, "2030-07-02")  # the program, when all are shown


def test_it_links_the_previous_and_next_months_across_years(operator, utility_a):
    program = open_program(utility_a)
    body = _calendar(operator, utility_a, f"?program={program.pk}&month=2030-12")
    assert f'href="?program={program.pk}&amp;month=2030-11" rel="prev"' in body
    assert f'href="?program={program.pk}&amp;month=2031-01" rel="next"' in body
    january = _calendar(operator, utility_a, "?month=2031-01")
    assert 'href="?month=2030-12" rel="prev"' in january
    assert add_months(date(2030, 1, 1), -1) == date(2029, 12, 1)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2030-13", "has no month 13"),
        ("July", "is not a month: use YYYY-MM"),
        ("1999-12", "is outside the calendar"),
        ("2030-7", "is not a month"),
    ],
)
def test_it_explains_a_bad_month_and_shows_the_current_one(operator, utility_a, value, message):
    body = _calendar(operator, utility_a, f"?month={value}")
    assert message in body
    assert "Showing the current month." in body
    current = timezone.localtime(timezone.now(), utility_a.tzinfo).strftime("%Y-%m")
    assert f'name="month" value="{current}"' in body
    with pytest.raises(BadCalendarParameter):
        parse_month(value)


def test_it_explains_a_bad_program_and_shows_every_program(operator, utility_a, utility_b):
    foreign = open_program(utility_b)
    mine = make_event(utility_a, starts_at=_local(utility_a, 2030, 7, 9, 12, 0))
    for value, message in [
        ("abc", "“abc” is not a program id."),
        (str(foreign.pk), f"There is no program #{foreign.pk} here."),
        ("999999", "There is no program #999999 here."),
    ]:
        body = _calendar(operator, utility_a, f"?program={value}&month=2030-07")
        assert message in body and "Showing every program." in body
        assert _event_link(utility_a, mine) in body
        assert foreign.name not in body


def test_it_runs_a_constant_number_of_queries(operator, utility_a, django_assert_num_queries):
    programs = [open_program(utility_a, name=f"Program {i}") for i in range(2)]
    start = _local(utility_a, 2030, 7, 1, 17, 0)
    make_event(program=programs[0], starts_at=start)
    with CaptureQueriesContext(connection) as few:
        _calendar(operator, utility_a, "?month=2030-07")
    expected = len(few.captured_queries)
    for i in range(40):
        make_event(program=programs[i % 2], starts_at=start + timedelta(days=i % 30, hours=i % 3))
    programs.append(open_program(utility_a, name="Program 3"))
    with django_assert_num_queries(expected):
        _calendar(operator, utility_a, "?month=2030-07")


def test_it_is_linked_from_the_event_list_and_the_program(operator, utility_a):
    program = open_program(utility_a)
    calendar_url = reverse("utility:event_calendar", args=[utility_a.slug])
    events = reverse("utility:event_list", args=[utility_a.slug])
    body = operator.get(events + f"?program={program.pk}").content.decode()
    assert f'href="{calendar_url}?program={program.pk}"' in body
    assert f'href="{calendar_url}"' in operator.get(events).content.decode()
    detail = reverse("utility:program_detail", args=[utility_a.slug, program.pk])
    assert f'href="{calendar_url}?program={program.pk}">Events calendar' in (
        operator.get(detail).content.decode()
    )
    back = _calendar(operator, utility_a, f"?program={program.pk}")
    assert f'href="{events}?program={program.pk}">Event list' in back


def test_the_program_page_offers_the_calendar_only_to_those_who_see_events(client, utility_a):
    program = open_program(utility_a)
    client.force_login(make_member(Role.CUSTOMER_SERVICE, utility=utility_a))
    detail = reverse("utility:program_detail", args=[utility_a.slug, program.pk])
    assert "Events calendar" not in client.get(detail).content.decode()


def test_it_marks_today(operator, utility_a):
    body = _calendar(operator, utility_a)
    today = timezone.localtime(timezone.now(), utility_a.tzinfo).date().isoformat()
    assert f'data-date="{today}" aria-current="date"' in body
