"""Scheduling guardrails: pure checks of a proposed event against its program's terms and
the program's other events. No database access, so they are cheap to property-test."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo


class RuleResult(NamedTuple):
    rule: str
    ok: bool
    message: str


@dataclass(frozen=True)
class ProgramTerms:
    """The parts of a program the guardrails read (``Program`` itself fits this shape)."""

    event_weekdays: Sequence[int] = ()
    event_window_start: time | None = None
    event_window_end: time | None = None
    min_notice_minutes: int = 0
    max_hours_per_event: float | None = None
    max_events_per_month: int | None = None
    max_events_per_season: int | None = None
    seasons: Sequence[dict] = ()


@dataclass(frozen=True)
class OtherEvent:
    """A non-cancelled event of the same program."""

    pk: int
    starts_at: datetime
    ends_at: datetime
    priority: int


WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _fmt(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%a %Y-%m-%d %H:%M %Z")


def check_window(program, *, starts_at: datetime, ends_at: datetime, tz: ZoneInfo) -> RuleResult:
    """The event lies inside one occurrence of the program's local window, which opens on an
    allowed weekday (a window ending at or before its start runs past midnight)."""
    weekdays = list(program.event_weekdays or [])
    start, end = program.event_window_start, program.event_window_end
    local_start = starts_at.astimezone(tz)
    if start is None or end is None:
        if not weekdays or local_start.weekday() in weekdays:
            return RuleResult("window", True, "The program sets no time window.")
        return RuleResult(
            "window", False, f"{WEEKDAYS[local_start.weekday()]} is not an event day."
        )
    for opening_day in (local_start.date(), local_start.date() - timedelta(days=1)):
        if weekdays and opening_day.weekday() not in weekdays:
            continue
        opens = datetime.combine(opening_day, start, tzinfo=tz)
        closing_day = opening_day if end > start else opening_day + timedelta(days=1)
        closes = datetime.combine(closing_day, end, tzinfo=tz)
        if opens <= starts_at and ends_at <= closes:
            return RuleResult(
                "window", True, f"Inside the window {start:%H:%M}–{end:%H:%M} local time."
            )
    days = ", ".join(WEEKDAYS[d] for d in sorted(weekdays)) or "any day"
    return RuleResult(
        "window",
        False,
        f"{_fmt(starts_at, tz)} – {ends_at.astimezone(tz):%H:%M} is outside the program's "
        f"window {start:%H:%M}–{end:%H:%M} local time ({days}).",
    )


def check_notice(program, *, starts_at: datetime, now: datetime) -> RuleResult:
    notice = starts_at - now
    needed = timedelta(minutes=program.min_notice_minutes)
    if notice >= needed:
        return RuleResult("notice", True, f"{_minutes(notice)} minutes' notice.")
    return RuleResult(
        "notice",
        False,
        f"Only {max(0, _minutes(notice))} minutes' notice; the program needs "
        f"{program.min_notice_minutes}.",
    )


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def check_hours(program, *, duration_minutes: int) -> RuleResult:
    limit = program.max_hours_per_event
    hours = duration_minutes / 60
    if limit is None or hours <= limit:
        return RuleResult("hours_per_event", True, f"{hours:g} h per event.")
    return RuleResult(
        "hours_per_event", False, f"{hours:g} h exceeds the program's {limit:g} h per event."
    )


def _month_start(day: date, shift: int = 0) -> date:
    index = day.year * 12 + day.month - 1 + shift
    return date(index // 12, index % 12 + 1, 1)


def season_span(seasons: Iterable[dict], day: date) -> tuple[str, date, date] | None:
    """The season containing ``day``: its name, first day and the day after its last, for
    the run of consecutive months around ``day`` (a season may cross the new year)."""
    for season in seasons:
        months = set(season.get("months") or [])
        if day.month not in months:
            continue
        back = 0
        while back < 11 and _month_start(day, -(back + 1)).month in months:
            back += 1
        forward = 0
        while back + forward < 11 and _month_start(day, forward + 1).month in months:
            forward += 1
        return (
            season.get("name", "Season"),
            _month_start(day, -back),
            _month_start(day, forward + 1),
        )
    return None


def check_counts(
    program, *, starts_at: datetime, others: Sequence[OtherEvent], tz: ZoneInfo
) -> list[RuleResult]:
    day = starts_at.astimezone(tz).date()
    local_days = [o.starts_at.astimezone(tz).date() for o in others]
    results = []
    per_month = program.max_events_per_month
    in_month = sum(1 for d in local_days if (d.year, d.month) == (day.year, day.month))
    if per_month is None or in_month < per_month:
        results.append(RuleResult("events_per_month", True, f"Event {in_month + 1} this month."))
    else:
        results.append(
            RuleResult(
                "events_per_month",
                False,
                f"{in_month} events already in {day:%B %Y}; the program allows {per_month}.",
            )
        )
    per_season = program.max_events_per_season
    span = season_span(program.seasons or [], day)
    if span is None:
        ok = per_season is None
        message = "Not in a season." if ok else f"{day:%B} is outside the program's seasons."
        results.append(RuleResult("events_per_season", ok, message))
        return results
    name, first, after = span
    in_season = sum(1 for d in local_days if first <= d < after)
    if per_season is None or in_season < per_season:
        results.append(RuleResult("events_per_season", True, f"Event {in_season + 1} in {name}."))
    else:
        results.append(
            RuleResult(
                "events_per_season",
                False,
                f"{in_season} events already in {name} {first.year}; the program allows "
                f"{per_season}.",
            )
        )
    return results


def check_overlap(
    *, starts_at: datetime, ends_at: datetime, priority: int, others: Sequence[OtherEvent]
) -> RuleResult:
    """A higher priority wins: an overlap with an event of equal or higher priority is refused."""
    overlapping = [o for o in others if o.starts_at < ends_at and starts_at < o.ends_at]
    blocking = [o for o in overlapping if o.priority >= priority]
    if blocking:
        names = ", ".join(f"event #{o.pk} (priority {o.priority})" for o in blocking)
        return RuleResult(
            "overlap", False, f"Overlaps {names}; raise the priority above it or move the event."
        )
    if overlapping:
        names = ", ".join(f"event #{o.pk} (priority {o.priority})" for o in overlapping)
        return RuleResult("overlap", True, f"Takes precedence over {names}.")
    return RuleResult("overlap", True, "No overlapping event.")


# Emergency events (a grid emergency, a forecast outage) may be called outside the program's
# window and seasons and at short notice, as emergency provisions in DR tariffs allow; the
# hours per event, the event counts within a season, overlaps and a start in the future
# still apply.
EMERGENCY_EXEMPT = {"window", "notice", "events_per_season"}


def check_event(
    program,
    *,
    starts_at: datetime,
    duration_minutes: int,
    priority: int,
    now: datetime,
    tz: ZoneInfo,
    others: Sequence[OtherEvent],
    emergency: bool = False,
) -> list[RuleResult]:
    """Every guardrail for a proposed event; ``others`` are the program's other live events."""
    ends_at = starts_at + timedelta(minutes=duration_minutes)
    results = [
        check_window(program, starts_at=starts_at, ends_at=ends_at, tz=tz),
        check_notice(program, starts_at=starts_at, now=now),
        check_hours(program, duration_minutes=duration_minutes),
        *check_counts(program, starts_at=starts_at, others=others, tz=tz),
        check_overlap(starts_at=starts_at, ends_at=ends_at, priority=priority, others=others),
    ]
    if not emergency:
        return results
    return [_as_emergency(r, starts_at=starts_at, now=now) for r in results]


def _as_emergency(result: RuleResult, *, starts_at: datetime, now: datetime) -> RuleResult:
    if result.ok or result.rule not in EMERGENCY_EXEMPT:
        return result
    if result.rule == "notice" and starts_at < now:
        return RuleResult("notice", False, "An emergency event cannot start in the past.")
    return RuleResult(result.rule, True, f"Emergency event: waived ({result.message})")


def failures(results: Iterable[RuleResult]) -> list[RuleResult]:
    return [r for r in results if not r.ok]
