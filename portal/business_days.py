"""Business days in a utility's holiday calendar: the one calendar interconnection's SLA
clocks and dispatch's M&V baselines count in.

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
