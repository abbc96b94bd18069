"""The premise meter data dispatch's V2H M&V reads (``settings.DISPATCH_PREMISE_INTERVAL_SOURCE``
names ``avoided_import_kw``; its contract is in ``dispatch.measurement.premise``).

A car supplying its home displaces the home's import, so M&V credits the premise's avoided
import: premise baseline − metered import, per 15-minute M&V interval. The baseline is the
same CAISO "10-in-10" dispatch uses for vehicles, applied to the premise meter: the average
metered kW at the same local time over the account's 10 most recent eligible days among the
45 before the event (weekdays, not the utility's holidays, not a day of another event one of
the account's vehicles was dispatched in, and a day the meter covers at every time the
baseline needs), times the same-day adjustment clamped to [0.8, 1.2]. A meter interval longer
than 15 minutes (hourly Green Button) gives each quarter hour its average power; an M&V
interval the meter does not fully cover has no reading (None).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from billing.models import MeterInterval
from dispatch.measurement.baselines import (
    BASELINE_DAYS,
    DIGITS,
    DISPATCHED,
    INTERVAL,
    adjustment_factor,
    adjustment_window,
    candidate_days,
    mv_grid,
)
from dispatch.models import Event, EventParticipant
from portal.bulk import among
from portal.business_days import holiday_calendar

_INTERVAL_SECONDS = INTERVAL.total_seconds()


class _Meter:
    """One account's meter intervals, for average kW over any 15-minute interval."""

    def __init__(self, rows: list[tuple[datetime, int, float]]):
        rows.sort()
        self.starts = [row[0] for row in rows]
        self.rows = rows

    def kw(self, moment: datetime) -> float | None:
        """Average kW over [moment, moment + 15 min), or None unless fully metered."""
        end = moment + INTERVAL
        position = max(bisect.bisect_right(self.starts, moment) - 1, 0)
        covered = kwh = 0.0
        for start, seconds, interval_kwh in self.rows[position:]:
            if start >= end:
                break
            stop = start + timedelta(seconds=seconds)
            overlap = (min(stop, end) - max(start, moment)).total_seconds()
            if overlap > 0:
                covered += overlap
                kwh += interval_kwh * overlap / seconds
        if covered < _INTERVAL_SECONDS:
            return None
        return kwh * 3600 / _INTERVAL_SECONDS


def _same_local_time(moment: datetime, *, day: date, event_day: date, tz) -> datetime:
    local = moment.astimezone(tz)
    shifted = day + (local.date() - event_day)
    return datetime.combine(shifted, local.time().replace(tzinfo=None), tzinfo=tz).astimezone(UTC)


def _event_days(event: Event, account_ids: list[int], *, since: datetime, tz) -> dict[int, set]:
    """account id → local days of other live events one of its vehicles was dispatched in."""
    rows = (
        EventParticipant.objects.filter(
            vehicle__service_account_id__in=account_ids,
            role__in=DISPATCHED,
            event__cancelled_at__isnull=True,
            event__scheduled_at__isnull=False,
            event__starts_at__lt=event.starts_at,
            event__ends_at__gt=since,
        )
        .exclude(event_id=event.pk)
        .values_list("vehicle__service_account_id", "event__starts_at", "event__ends_at")
    )
    days: dict[int, set] = defaultdict(set)
    for account_id, starts_at, ends_at in rows:
        day = starts_at.astimezone(tz).date()
        while day <= (ends_at - timedelta(microseconds=1)).astimezone(tz).date():
            days[account_id].add(day)
            day += timedelta(days=1)
    return days


def _avoided(
    meter: _Meter, *, grid: Sequence[datetime], window: list[datetime], days: list[date], ctx
) -> list[float | None] | None:
    needed = [*grid, *window]
    chosen: list[list[float]] = []
    for day in days:
        values = [meter.kw(_same_local_time(t, day=day, **ctx)) for t in needed]
        if all(value is not None for value in values):
            chosen.append(values)
            if len(chosen) == BASELINE_DAYS:
                break
    actual = [meter.kw(t) for t in grid]
    if not chosen or all(value is None for value in actual):
        return None
    baseline = [sum(column) / len(chosen) for column in zip(*chosen, strict=True)]
    window_actual = [meter.kw(t) for t in window]
    factor = 1.0
    if window and all(value is not None for value in window_actual):
        factor = adjustment_factor(
            actual_kw=sum(window_actual) / len(window),
            baseline_kw=sum(baseline[len(grid) :]) / len(window),
        )
    return [
        None if kw is None else round(base * factor - kw, DIGITS)
        for base, kw in zip(baseline[: len(grid)], actual, strict=True)
    ]


def avoided_import_kw(
    *, event: Event, account_ids: Sequence[int], grid: Sequence[datetime]
) -> dict[int, list[float | None]]:
    """Service account id → avoided import kW per grid interval (None where the meter has no
    reading), for the accounts whose imported meter data covers the event and enough days
    before it; in three queries whatever the number of accounts."""
    account_ids = sorted(set(account_ids))
    if not account_ids or not grid:
        return {}
    utility = event.utility
    tz = utility.tzinfo
    event_day = event.starts_at.astimezone(tz).date()
    days = candidate_days(event_day=event_day, calendar=holiday_calendar(utility))
    window_start, window_end = adjustment_window(event.starts_at)
    window = mv_grid(starts_at=window_start, ends_at=window_end)
    since = datetime.combine(days[-1], datetime.min.time(), tzinfo=tz) - timedelta(days=1)
    rows: dict[int, list] = defaultdict(list)
    query = among(MeterInterval.objects.all(), "service_account_id", account_ids).filter(
        start__gte=since, start__lt=grid[-1] + INTERVAL
    )
    for account_id, start, seconds, kwh in query.values_list(
        "service_account_id", "start", "seconds", "kwh"
    ):
        rows[account_id].append((start, seconds, float(kwh)))
    busy = _event_days(event, list(rows), since=since, tz=tz)
    ctx = {"event_day": event_day, "tz": tz}
    found = {}
    for account_id, account_rows in rows.items():
        eligible = [day for day in days if day not in busy.get(account_id, set())]
        avoided = _avoided(_Meter(account_rows), grid=grid, window=window, days=eligible, ctx=ctx)
        if avoided is not None:
            found[account_id] = avoided
    return found
