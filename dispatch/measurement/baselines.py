"""M&V baselines: the 15-minute grid, net load, and each vehicle's CAISO "10-in-10" baseline
with its same-day adjustment (``run`` measures events against them).

Grid. M&V works on the telemetry rollups' clock-aligned 15-minute intervals: an event's M&V
grid is every ``TelemetryRollup.interval_start`` whose interval overlaps [starts_at, ends_at).

Net load. A vehicle's load in an interval is (kWh charged − kWh discharged) ÷ 0.25 h, the
value ``TelemetryRollup.mean_power_kw`` holds too: charging is positive, export and home
supply negative. Telemetry holds each reading for up to 15 minutes, so an interval with no
rollup, on a day the vehicle reported at the baseline's times (or during the event), counts
as 0 kW.

Baseline (CAISO "10-in-10", per vehicle). For each interval, the average net load at the same
local time of day over the vehicle's 10 most recent eligible days among the 45 days before the
event's local day. Eligible: a weekday in the utility's zone, not one of its holidays (the
calendar ``portal.business_days`` keeps), not a local day of another non-cancelled
event the vehicle was dispatched in (selected or dropped), and a day the vehicle sent
telemetry for at least one of the baseline's times (the adjustment window through the event's
end): a vehicle offline then says nothing about its load, so such a day is missing data, not a
day of zero load. Fewer than 10 such days: the average over those there are, and
``Baseline.days`` says how many; none: no baseline (``Baseline.kw`` is None) — nothing is
invented, the vehicle has nothing measurable.

Same-day adjustment. factor = actual ÷ baseline, each averaged over the 3 hours ending 1 hour
before the event start (on the grid: [floor(start − 1 h) − 3 h, floor(start − 1 h))), clamped
to [0.8, 1.2], and the baseline is multiplied by it. The factor is 1.0 when the window's
baseline is about zero (|kW| < 0.05: a ratio to nothing says nothing) or when the vehicle sent
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection
from django.db.models import F, Sum

from devices.models import TelemetryRollup
from dispatch.models import Event, EventParticipant
from portal.business_days import holiday_calendar
from portal.errors import DomainError
from portal.models import Utility

INTERVAL = timedelta(minutes=15)
INTERVAL_HOURS = 0.25
BASELINE_DAYS = 10
LOOKBACK_DAYS = 45
ADJUSTMENT_WINDOW = timedelta(hours=3)
ADJUSTMENT_GAP = timedelta(hours=1)
ADJUSTMENT_MIN, ADJUSTMENT_MAX = 0.8, 1.2
NEAR_ZERO_KW = 0.05
DISPATCHED = (EventParticipant.Role.SELECTED, EventParticipant.Role.DROPPED)
DIGITS = 3


class MeasurementError(DomainError):
    code = "measurement_error"


class NotEnded(MeasurementError):
    code = "event_not_ended"


class NotMeasurable(MeasurementError):
    code = "event_not_measurable"


# --- The grid and the pure rules ------------------------------------------------------------


def floor_interval(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


def mv_grid(*, starts_at: datetime, ends_at: datetime) -> list[datetime]:
    """The 15-minute interval starts overlapping [starts_at, ends_at)."""
    grid, moment = [], floor_interval(starts_at)
    while moment < ends_at:
        grid.append(moment)
        moment += INTERVAL
    return grid


def adjustment_window(starts_at: datetime) -> tuple[datetime, datetime]:
    end = floor_interval(starts_at - ADJUSTMENT_GAP)
    return end - ADJUSTMENT_WINDOW, end


def adjustment_factor(*, actual_kw: float, baseline_kw: float) -> float:
    """actual ÷ baseline clamped to [0.8, 1.2]; 1.0 when the baseline is about zero."""
    if abs(baseline_kw) < NEAR_ZERO_KW:
        return 1.0
    return min(ADJUSTMENT_MAX, max(ADJUSTMENT_MIN, actual_kw / baseline_kw))


def delivered(*, baseline_kw: float, actual_kw: float, rating_kw: float, precharge: bool) -> float:
    """Signed delivered kW, capped at the rating (see the module docstring for the signs)."""
    value = actual_kw - baseline_kw if precharge else baseline_kw - actual_kw
    return min(value, rating_kw)


def is_precharge(event: Event) -> bool:
    return event.event_type == Event.Type.RESILIENCE_PRECHARGE


def net_kw(charged_kwh: float, discharged_kwh: float) -> float:
    return (charged_kwh - discharged_kwh) / INTERVAL_HOURS


def rounded(value: float | None) -> float | None:
    return None if value is None else round(value, DIGITS)


def candidate_days(*, event_day: date, calendar) -> list[date]:
    """Weekdays that are not holidays in the 45 days before ``event_day``, latest first."""
    days = (event_day - timedelta(days=n) for n in range(1, LOOKBACK_DAYS + 1))
    return [d for d in days if d.weekday() < 5 and d not in calendar]


# --- Baselines ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Baseline:
    kw: list[float] | None  # per grid interval (adjusted when ``adjustment`` is set); None: none
    days: int  # eligible days averaged (0 when there is no baseline)
    adjustment: float | None  # the same-day factor applied; None while the window is open


@dataclass(frozen=True)
class _Slot:
    """A local wall-clock time, ``day_offset`` days after the event's local start day."""

    day_offset: int
    tod: time


def _slot(moment: datetime, *, tz, event_day: date) -> _Slot:
    local = moment.astimezone(tz)
    return _Slot((local.date() - event_day).days, local.time().replace(tzinfo=None))


def _local_midnight(day: date, tz) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz)


def db_table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


@dataclass(frozen=True)
class _Instants:
    """The UTC start of every (candidate day, slot): the rollups a baseline can use. An
    interval after local midnight (``day_offset`` 1) falls on the day after."""

    starts: list[datetime]
    days: list[date]
    offsets: list[int]
    tods: list[time]

    @classmethod
    def build(cls, *, days: Sequence[date], slots: Iterable[_Slot], tz) -> _Instants:
        pairs = [
            (d, s) for d in days for s in sorted(set(slots), key=lambda s: (s.day_offset, s.tod))
        ]
        return cls(
            starts=[
                datetime.combine(d + timedelta(days=s.day_offset), s.tod, tzinfo=tz).astimezone(UTC)
                for d, s in pairs
            ],
            days=[d for d, _ in pairs],
            offsets=[s.day_offset for _, s in pairs],
            tods=[s.tod for _, s in pairs],
        )

    def cte(self) -> tuple[str, list]:
        sql = (
            "instants(ts, day, day_offset, tod) AS (SELECT * FROM "
            "unnest(%s::timestamptz[], %s::date[], %s::int[], %s::time[]))"
        )
        return sql, [self.starts, self.days, self.offsets, self.tods]


def _event_days(
    *, vehicle_ids: list[int], since: datetime, until: datetime, exclude_event_id: int | None, tz
) -> dict[int, set[date]]:
    """vehicle id → local days of other non-cancelled events it was dispatched in."""
    rows = (
        EventParticipant.objects.filter(
            vehicle_id__in=vehicle_ids,
            role__in=DISPATCHED,
            event__cancelled_at__isnull=True,
            event__scheduled_at__isnull=False,
            event__starts_at__lt=until,
            event__ends_at__gt=since,
        )
        .exclude(event_id=exclude_event_id)
        .values_list("vehicle_id", "event__starts_at", "event__ends_at")
    )
    days: dict[int, set[date]] = defaultdict(set)
    for vehicle_id, starts_at, ends_at in rows:
        day = starts_at.astimezone(tz).date()
        last = (ends_at - timedelta(microseconds=1)).astimezone(tz).date()
        while day <= last:
            days[vehicle_id].add(day)
            day += timedelta(days=1)
    return days


def _chosen_days(
    *, utility_id: int, vehicle_ids: list[int], instants: _Instants, excluded: set[tuple]
) -> dict[int, list[date]]:
    """vehicle id → its chosen days: the latest ``BASELINE_DAYS`` candidate days it has
    telemetry on at the baseline's times, leaving out the ``excluded`` (vehicle, day) pairs."""
    found: dict[int, list[date]] = defaultdict(list)
    cte, cte_params = instants.cte()
    sql = f"""
        WITH {cte}
        SELECT r.vehicle_id, i.day
        FROM {db_table(TelemetryRollup)} r JOIN instants i ON i.ts = r.interval_start
        WHERE r.utility_id = %s AND r.vehicle_id = ANY(%s)
          AND r.interval_start = ANY(%s::timestamptz[])
        GROUP BY 1, 2
    """  # noqa: S608 (the table name is the model's; values are parameters)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*cte_params, utility_id, vehicle_ids, instants.starts])
        for vehicle_id, day in cursor.fetchall():
            if (vehicle_id, day) not in excluded:
                found[vehicle_id].append(day)
    return {v: sorted(days, reverse=True)[:BASELINE_DAYS] for v, days in found.items()}


def _slot_sums(
    *, utility_id: int, chosen: dict[int, list[date]], instants: _Instants
) -> dict[tuple[int, _Slot], float]:
    """(vehicle id, slot) → kWh (charged − discharged) summed over the vehicle's chosen days."""
    pairs = [(v, d) for v, days in chosen.items() for d in days]
    if not pairs:
        return {}
    cte, cte_params = instants.cte()
    sql = f"""
        WITH {cte},
             chosen(vehicle_id, day) AS (SELECT * FROM unnest(%s::bigint[], %s::date[]))
        SELECT r.vehicle_id, i.day_offset, i.tod,
               SUM(r.energy_charged_kwh - r.energy_discharged_kwh)
        FROM {db_table(TelemetryRollup)} r
        JOIN instants i ON i.ts = r.interval_start
        JOIN chosen c ON c.vehicle_id = r.vehicle_id AND c.day = i.day
        WHERE r.utility_id = %s AND r.vehicle_id = ANY(%s)
          AND r.interval_start = ANY(%s::timestamptz[])
        GROUP BY 1, 2, 3
    """  # noqa: S608 (the table name is the model's; values are parameters)
    params = [
        *cte_params,
        [v for v, _ in pairs],
        [d for _, d in pairs],
        utility_id,
        sorted(chosen),
        instants.starts,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {
            (vehicle_id, _Slot(offset, tod)): kwh
            for vehicle_id, offset, tod, kwh in cursor.fetchall()
        }


def _baseline_sums(
    *, utility_id: int, vehicle_ids: list[int], instants: _Instants, excluded: set[tuple]
) -> tuple[dict[tuple[int, _Slot], float], dict[int, int]]:
    """(vehicle id, slot) → kWh summed over the vehicle's chosen days, and vehicle id → the
    number of days chosen (two aggregate queries)."""
    if not instants.starts:
        return {}, {}
    chosen = _chosen_days(
        utility_id=utility_id, vehicle_ids=vehicle_ids, instants=instants, excluded=excluded
    )
    sums = _slot_sums(utility_id=utility_id, chosen=chosen, instants=instants)
    return sums, {v: len(days) for v, days in chosen.items()}


def _window_actuals(
    *, vehicle_ids: list[int], window: tuple[datetime, datetime]
) -> dict[int, float]:
    """vehicle id → kWh (charged − discharged) in the adjustment window, for vehicles that
    reported in it."""
    rows = (
        TelemetryRollup.objects.filter(
            vehicle_id__in=vehicle_ids,
            interval_start__gte=window[0],
            interval_start__lt=window[1],
        )
        .values("vehicle_id")
        .annotate(net=Sum(F("energy_charged_kwh") - F("energy_discharged_kwh")))
        .values_list("vehicle_id", "net")
    )
    return dict(rows)


def baselines(
    *,
    utility: Utility,
    vehicle_ids: Iterable[int],
    grid: Sequence[datetime],
    starts_at: datetime,
    exclude_event_id: int | None,
    adjust: bool,
) -> dict[int, Baseline]:
    """Each vehicle's baseline on ``grid`` for an event starting at ``starts_at`` (see the
    module docstring), in a fixed number of queries whatever the number of vehicles. ``adjust`` applies
    the same-day adjustment: only once its window has closed."""
    vehicle_ids = sorted(set(vehicle_ids))
    if not vehicle_ids or not grid:
        return {v: Baseline(None, 0, None) for v in vehicle_ids}
    tz = utility.tzinfo
    event_day = starts_at.astimezone(tz).date()
    days = candidate_days(event_day=event_day, calendar=holiday_calendar(utility))
    grid_slots = [_slot(t, tz=tz, event_day=event_day) for t in grid]
    window = adjustment_window(starts_at)
    window_slots = [
        _slot(t, tz=tz, event_day=event_day)
        for t in mv_grid(starts_at=window[0], ends_at=window[1])
    ]
    instants = _Instants.build(days=days, slots=[*grid_slots, *window_slots], tz=tz)
    event_days = _event_days(
        vehicle_ids=vehicle_ids,
        since=_local_midnight(event_day - timedelta(days=LOOKBACK_DAYS), tz),
        until=_local_midnight(event_day, tz),
        exclude_event_id=exclude_event_id,
        tz=tz,
    )
    sums, chosen_days = _baseline_sums(
        utility_id=utility.pk,
        vehicle_ids=vehicle_ids,
        instants=instants,
        excluded={(v, d) for v, ds in event_days.items() for d in ds},
    )
    window_actual = _window_actuals(vehicle_ids=vehicle_ids, window=window) if adjust else {}

    result = {}
    for vehicle_id in vehicle_ids:
        count = chosen_days.get(vehicle_id, 0)
        if not count:
            result[vehicle_id] = Baseline(None, 0, None)
            continue

        def average_kw(slot: _Slot, vehicle_id=vehicle_id, count=count) -> float:
            return net_kw(sums.get((vehicle_id, slot), 0.0), 0.0) / count

        factor = None
        if adjust:
            factor = 1.0
            if vehicle_id in window_actual:
                factor = adjustment_factor(
                    actual_kw=net_kw(window_actual[vehicle_id], 0.0) / len(window_slots),
                    baseline_kw=sum(average_kw(s) for s in window_slots) / len(window_slots),
                )
        kw = [average_kw(s) * (factor if factor is not None else 1.0) for s in grid_slots]
        result[vehicle_id] = Baseline([round(v, DIGITS) for v in kw], count, factor)
    return result
