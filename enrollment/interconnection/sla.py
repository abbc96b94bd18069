"""Business-day arithmetic with a utility's holiday calendar, and the SLA clocks built on it.

A business day is a weekday that is not a holiday of the utility's country/subdivision (the
``holidays`` library). ``business_days_between(a, b)`` counts the business days in (a, b]:
a stage started and finished the same day took 0 days, and one finished the next business
day took 1. ``add_business_days(a, n)`` is the first date with n business days after a.
"""

from __future__ import annotations

from collections.abc import Container
from datetime import date, timedelta
from functools import lru_cache

import holidays

from portal.models import Utility

# Breaches are flagged this many business days ahead.
WARNING_BUSINESS_DAYS = 2


@lru_cache(maxsize=64)
def _calendar(country: str, subdivision: str) -> holidays.HolidayBase:
    # Years load lazily on lookup (expand=True), so one object serves every year.
    try:
        return holidays.country_holidays(country, subdiv=subdivision or None)
    except NotImplementedError:
        # An unknown subdivision still has the country's holidays; an unknown country none.
        try:
            return holidays.country_holidays(country)
        except NotImplementedError:
            return holidays.HolidayBase()


def holiday_calendar(utility: Utility) -> Container[date]:
    return _calendar(utility.holiday_country or "US", utility.holiday_subdivision or "")


def is_business_day(day: date, calendar: Container[date]) -> bool:
    return day.weekday() < 5 and day not in calendar


def business_days_between(start: date, end: date, calendar: Container[date]) -> int:
    """Business days in (start, end]; 0 when end is on or before start. Stages last weeks,
    not years, so walking the days is cheap and obviously right."""
    return sum(
        1
        for offset in range(1, (end - start).days + 1)
        if is_business_day(start + timedelta(days=offset), calendar)
    )


def add_business_days(start: date, count: int, calendar: Container[date]) -> date:
    """The first date with ``count`` business days after ``start`` (``start`` if count ≤ 0)."""
    day = start
    remaining = count
    while remaining > 0:
        day += timedelta(days=1)
        if is_business_day(day, calendar):
            remaining -= 1
    return day


# --- Clocks ---------------------------------------------------------------------------------


def start_clock(*, application, track: str, stage: str, today: date, target: int, calendar):
    from enrollment.models import SlaClock

    return SlaClock.objects.create(
        utility_id=application.utility_id,
        application=application,
        track=track,
        stage=stage,
        started_on=today,
        target_business_days=target,
        due_on=add_business_days(today, target, calendar),
    )


def pause_clock(clock, *, today: date) -> None:
    if clock.paused_since is None:
        clock.paused_since = today
        clock.save(update_fields=["paused_since"])


def resume_clock(clock, *, today: date, calendar) -> None:
    """The applicant answered: the paused business days do not count, and the due date moves
    out by as many."""
    if clock.paused_since is None:
        return
    paused = business_days_between(clock.paused_since, today, calendar)
    clock.paused_business_days += paused
    clock.due_on = add_business_days(clock.due_on, paused, calendar)
    clock.paused_since = None
    clock.save(update_fields=["paused_business_days", "due_on", "paused_since"])


def stop_clock(clock, *, today: date, calendar) -> None:
    resume_clock(clock, today=today, calendar=calendar)
    clock.stopped_on = today
    clock.elapsed_business_days = max(
        business_days_between(clock.started_on, today, calendar) - clock.paused_business_days, 0
    )
    clock.breached = today > clock.due_on
    clock.save(update_fields=["stopped_on", "elapsed_business_days", "breached"])


def clock_state(clock, *, today: date, calendar) -> tuple[str, int]:
    """("paused" | "breached" | "due_soon" | "on_track" | "stopped", business days left)."""
    if clock.stopped_on is not None:
        return ("breached" if clock.breached else "stopped"), 0
    if clock.paused_since is not None:
        return "paused", 0
    if today > clock.due_on:
        return "breached", -business_days_between(clock.due_on, today, calendar)
    left = business_days_between(today, clock.due_on, calendar)
    return ("due_soon" if left <= WARNING_BUSINESS_DAYS else "on_track"), left
