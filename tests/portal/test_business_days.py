"""Business-day arithmetic with the utility's holiday calendar (property-based)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from portal import business_days
from tests.portal.factories import UtilityFactory

US_CA = business_days._calendar("US", "CA")
days = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31))
counts = st.integers(min_value=0, max_value=120)


@given(start=days, n=counts)
def test_adding_n_business_days_gives_n_business_days_between(start, n):
    end = business_days.add_business_days(start, n, US_CA)
    assert business_days.business_days_between(start, end, US_CA) == n


@given(start=days, n=st.integers(min_value=1, max_value=120))
def test_adding_business_days_lands_on_the_first_business_day_that_reaches_n(start, n):
    end = business_days.add_business_days(start, n, US_CA)
    assert business_days.is_business_day(end, US_CA)
    assert business_days.business_days_between(start, end - timedelta(days=1), US_CA) == n - 1


@given(a=days, b=days, c=days)
def test_business_days_add_up_over_consecutive_intervals(a, b, c):
    a, b, c = sorted([a, b, c])
    total = business_days.business_days_between(a, c, US_CA)
    assert total == business_days.business_days_between(
        a, b, US_CA
    ) + business_days.business_days_between(b, c, US_CA)


@given(start=days, end=days)
def test_business_days_never_exceed_calendar_days_and_are_never_negative(start, end):
    counted = business_days.business_days_between(start, end, US_CA)
    assert 0 <= counted <= max((end - start).days, 0)


@given(start=days, weeks=st.integers(min_value=0, max_value=20))
def test_a_week_holds_at_most_five_business_days(start, weeks):
    assert (
        business_days.business_days_between(start, start + timedelta(weeks=weeks), US_CA)
        <= 5 * weeks
    )


def test_it_skips_the_utilitys_holidays():
    # Thursday 3 July 2025 + 1 business day: Friday 4 July is Independence Day → Monday 7.
    assert business_days.add_business_days(date(2025, 7, 3), 1, US_CA) == date(2025, 7, 7)
    # César Chávez Day (31 March) is a California holiday, not a New York one.
    new_york = business_days._calendar("US", "NY")
    assert business_days.add_business_days(date(2025, 3, 28), 1, US_CA) == date(2025, 4, 1)
    assert business_days.add_business_days(date(2025, 3, 28), 1, new_york) == date(2025, 3, 31)


def test_it_uses_the_utilitys_country_and_subdivision(db):
    utility = UtilityFactory(holiday_country="US", holiday_subdivision="CA")
    assert date(2025, 3, 31) in business_days.holiday_calendar(utility)
    unknown = UtilityFactory(holiday_country="US", holiday_subdivision="ZZ")
    assert date(2025, 7, 4) in business_days.holiday_calendar(unknown)  # falls back to the country
