"""Scheduling guardrails: window, notice, hours, monthly and seasonal counts, overlaps."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from dispatch import guardrails
from dispatch.guardrails import OtherEvent, ProgramTerms
from tests.dispatch.events_support import WEEKDAY_EVENINGS, utc

LA = ZoneInfo("America/Los_Angeles")
EVENINGS = ProgramTerms(**WEEKDAY_EVENINGS)


def _window(terms, start, minutes):
    return guardrails.check_window(
        terms, starts_at=start, ends_at=start + timedelta(minutes=minutes), tz=LA
    )


def test_it_accepts_an_event_inside_the_local_window():
    # Wednesday 2026-07-01 17:00 PDT is 00:00 UTC on Thursday.
    assert _window(EVENINGS, utc(2026, 7, 2, 0), 120).ok


def test_it_refuses_an_event_running_past_the_window_or_on_a_weekend():
    assert not _window(EVENINGS, utc(2026, 7, 2, 3), 120).ok  # 20:00–22:00 PDT
    saturday = _window(EVENINGS, utc(2026, 7, 5, 0), 60)  # Saturday 17:00 PDT
    assert not saturday.ok
    assert "16:00–21:00" in saturday.message


def test_it_allows_a_window_that_runs_past_midnight():
    overnight = ProgramTerms(
        event_weekdays=[4], event_window_start=time(22), event_window_end=time(2)
    )
    friday_late = datetime(2026, 7, 3, 23, 30, tzinfo=LA)
    assert _window(overnight, friday_late, 120).ok
    assert _window(overnight, friday_late + timedelta(hours=1), 60).ok  # Sat 00:30
    assert not _window(overnight, friday_late, 180).ok


@given(
    day=st.dates(min_value=datetime(2025, 1, 1).date(), max_value=datetime(2028, 12, 31).date()),
    start_minute=st.integers(0, 24 * 60 - 1),
    duration=st.integers(1, 8 * 60),
)
def test_it_accepts_exactly_the_events_inside_the_local_window(day, start_minute, duration):
    local = datetime.combine(day, time()) + timedelta(minutes=start_minute)
    start = local.replace(tzinfo=LA)
    end = start + timedelta(minutes=duration)
    opens = datetime.combine(day, time(16), tzinfo=LA)
    closes = datetime.combine(day, time(21), tzinfo=LA)
    expected = day.weekday() < 5 and opens <= start and end <= closes
    assert _window(EVENINGS, start, duration).ok == expected


@given(notice=st.integers(-600, 600), required=st.integers(0, 300))
def test_it_requires_the_minimum_notice(notice, required):
    now = utc(2026, 7, 1, 12)
    result = guardrails.check_notice(
        ProgramTerms(min_notice_minutes=required),
        starts_at=now + timedelta(minutes=notice),
        now=now,
    )
    assert result.ok == (notice >= required)


def test_it_limits_hours_per_event():
    terms = ProgramTerms(max_hours_per_event=3)
    assert guardrails.check_hours(terms, duration_minutes=180).ok
    refused = guardrails.check_hours(terms, duration_minutes=181)
    assert not refused.ok
    assert "3 h" in refused.message


def _others(*starts):
    return [OtherEvent(i + 1, s, s + timedelta(hours=1), 0) for i, s in enumerate(starts)]


def test_it_counts_events_per_local_month():
    terms = ProgramTerms(max_events_per_month=2)
    # 2026-07-01 03:00 UTC is still June 30 in Los Angeles.
    others = _others(utc(2026, 7, 1, 3), utc(2026, 7, 10, 0), utc(2026, 7, 20, 0))
    month, _ = guardrails.check_counts(terms, starts_at=utc(2026, 7, 25, 0), others=others, tz=LA)
    assert not month.ok
    assert "2 events already in July 2026" in month.message
    june, _ = guardrails.check_counts(terms, starts_at=utc(2026, 6, 15, 0), others=others, tz=LA)
    assert june.ok


def test_it_counts_events_per_season_across_the_new_year():
    terms = ProgramTerms(
        max_events_per_season=2, seasons=[{"name": "Winter", "months": [12, 1, 2]}]
    )
    others = _others(utc(2026, 12, 10, 20), utc(2027, 1, 10, 20), utc(2026, 2, 10, 20))
    _, season = guardrails.check_counts(terms, starts_at=utc(2027, 2, 5, 20), others=others, tz=LA)
    assert not season.ok
    assert "Winter 2026" in season.message
    _, earlier = guardrails.check_counts(terms, starts_at=utc(2026, 1, 5, 20), others=others, tz=LA)
    assert earlier.ok  # the winter of 2025–26 has only one event


def test_it_refuses_events_outside_the_seasons_when_the_season_is_limited():
    terms = ProgramTerms(max_events_per_season=5, seasons=[{"name": "Summer", "months": [6, 7]}])
    _, season = guardrails.check_counts(terms, starts_at=utc(2026, 9, 1, 20), others=[], tz=LA)
    assert not season.ok


def test_it_lets_only_a_higher_priority_event_overlap():
    start = utc(2026, 7, 2, 0)
    others = [OtherEvent(7, start + timedelta(minutes=30), start + timedelta(hours=2), 5)]
    end = start + timedelta(hours=1)
    refused = guardrails.check_overlap(starts_at=start, ends_at=end, priority=5, others=others)
    assert not refused.ok
    assert "event #7" in refused.message
    assert guardrails.check_overlap(starts_at=start, ends_at=end, priority=6, others=others).ok
    assert guardrails.check_overlap(
        starts_at=start, ends_at=start + timedelta(minutes=30), priority=0, others=others
    ).ok  # back to back is no overlap


def _check(terms, start, *, emergency, now, minutes=60, others=(), priority=0):
    return {
        r.rule: r
        for r in guardrails.check_event(
            terms,
            starts_at=start,
            duration_minutes=minutes,
            priority=priority,
            now=now,
            tz=LA,
            others=list(others),
            emergency=emergency,
        )  # fmt: skip
    }


def test_an_emergency_waives_the_window_the_notice_and_the_season_but_not_the_rest():
    terms = ProgramTerms(
        **WEEKDAY_EVENINGS, min_notice_minutes=120, max_hours_per_event=2,
        max_events_per_season=10, seasons=[{"name": "Summer", "months": [6, 7, 8, 9]}],
    )  # fmt: skip
    now = datetime(2026, 11, 25, 10, 0, tzinfo=LA)  # a Wednesday morning in November
    start = now + timedelta(minutes=5)
    normal = _check(terms, start, emergency=False, now=now)
    emergency = _check(terms, start, emergency=True, now=now)
    for rule in ("window", "notice", "events_per_season"):
        assert not normal[rule].ok
        assert emergency[rule].ok and emergency[rule].message.startswith("Emergency event")
    too_long = _check(terms, start, emergency=True, now=now, minutes=180)
    assert not too_long["hours_per_event"].ok
    blocked = _check(
        terms, start, emergency=True, now=now,
        others=[OtherEvent(pk=7, starts_at=start, ends_at=start + timedelta(hours=1), priority=5)],
    )  # fmt: skip
    assert not blocked["overlap"].ok


def test_an_emergency_cannot_start_in_the_past():
    now = datetime(2026, 11, 25, 10, 0, tzinfo=LA)
    result = _check(ProgramTerms(), now - timedelta(minutes=1), emergency=True, now=now)
    assert not result["notice"].ok and "past" in result["notice"].message
