"""The events calendar: one month as weeks × weekdays (Monday first) in the utility's time
zone, each day with the events that start on it, for one program or all of them."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from dispatch.models import Event
from enrollment.models import Program

MONTH_FORMAT = re.compile(r"^(\d{4})-(\d{2})$")
# A calendar far outside any program's life is a typo; this also keeps the previous and next
# months within what ``date`` can hold.
FIRST_YEAR, LAST_YEAR = 2000, 2100


class BadCalendarParameter(ValueError):
    """A query parameter the calendar cannot use; its message says what was wrong."""


def parse_month(value: str) -> date:
    """``YYYY-MM`` → the month's first day."""
    match = MONTH_FORMAT.match(value.strip())
    if not match:
        raise BadCalendarParameter(f"“{value}” is not a month: use YYYY-MM, e.g. 2030-07.")
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12:
        raise BadCalendarParameter(f"“{value}” has no month {month}: use 01 to 12.")
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise BadCalendarParameter(
            f"“{value}” is outside the calendar's years ({FIRST_YEAR}–{LAST_YEAR})."
        )
    return date(year, month, 1)


def parse_program(value: str, programs: list[Program]) -> Program:
    """One of ``programs`` (the utility's) by its id."""
    try:
        pk = int(value)
    except ValueError:
        raise BadCalendarParameter(f"“{value}” is not a program id.") from None
    for program in programs:
        if program.pk == pk:
            return program
    raise BadCalendarParameter(f"There is no program #{pk} here.")


def _local_midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class CalendarEvent:
    event: Event
    status: Event.Status
    starts_local: datetime


@dataclass(frozen=True)
class CalendarDay:
    day: date
    in_month: bool
    is_today: bool
    events: list[CalendarEvent]


@dataclass(frozen=True)
class MonthCalendar:
    month: date  # its first day
    weeks: list[list[CalendarDay]]
    previous: date
    next: date
    event_count: int

    @property
    def weekday_names(self) -> list[tuple[str, str]]:
        return [(calendar.day_abbr[d], calendar.day_name[d]) for d in range(7)]


def month_calendar(
    *, month: date, tz: tzinfo, now: datetime, program: Program | None = None
) -> MonthCalendar:
    """The grid of ``month`` with the events starting on each shown day (the days of the
    neighbouring months that complete the first and last weeks included), one query."""
    days = calendar.Calendar(firstweekday=calendar.MONDAY).monthdatescalendar(
        month.year, month.month
    )
    first, last = days[0][0], days[-1][-1]
    events = Event.objects.select_related("program").filter(
        starts_at__gte=_local_midnight(first, tz),
        starts_at__lt=_local_midnight(last + timedelta(days=1), tz),
    )
    if program is not None:
        events = events.filter(program=program)
    by_day: dict[date, list[CalendarEvent]] = {}
    count = 0
    for event in events.order_by("starts_at", "id"):
        local = event.starts_at.astimezone(tz)
        by_day.setdefault(local.date(), []).append(
            CalendarEvent(event, Event.Status(event.status_at(now)), local)
        )
        if local.month == month.month:
            count += 1
    today = now.astimezone(tz).date()
    weeks = [
        [
            CalendarDay(
                day=d,
                in_month=d.month == month.month,
                is_today=d == today,
                events=by_day.get(d, []),
            )
            for d in week
        ]
        for week in days
    ]
    return MonthCalendar(
        month=month,
        weeks=weeks,
        previous=add_months(month, -1),
        next=add_months(month, 1),
        event_count=count,
    )
