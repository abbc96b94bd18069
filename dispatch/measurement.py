"""Measurement and verification (M&V) of demand-response events: device-level baselines,
actual and delivered kW per 15-minute interval, the event's totals, and the incentives the
measured performance earns.

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
calendar ``enrollment.interconnection.sla`` uses), not a local day of another non-cancelled
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
no telemetry in the window (nothing to adjust to). It is known once the window has closed.

Delivered, per interval and vehicle. baseline − actual: load reduced, i.e. charging deferred
for V1G and, for V2H/V2G, also the export (negative load, so it adds). Resilience pre-charge
events want charging: there delivered = actual − baseline. Delivered is capped at the
participant's ``rating_kw``. ``EventParticipant.delivered_kw`` keeps the signed, capped value
(negative: more load than the baseline); ``delivered_kwh`` = Σ max(0, delivered) × 0.25 h, the
energy paid for. Selected participants count every interval of the grid; dropped ones only
the intervals overlapping their active window up to the moment they were dropped (their other
intervals are None). A vehicle without a baseline, or that sent no telemetry at all during the
event, has None intervals and no delivered kWh.

Event totals (``Event.measurement``) add up the measured participants per interval; the
delivered total is the sum of the per-vehicle delivered kW floored at 0, so the intervals'
delivered kW × 0.25 h add up to the summary's kWh, and the average delivered kW is that kWh ÷
the grid's hours (an event starting off the quarter hour has partial first and last
intervals, which count whole). Participation = dispatched (selected) participants who
delivered > 0 kWh ÷ dispatched; opt-out rate = dropped participants whose customer opted out
of the event (``devices.OptOut`` for it or over it) ÷ selected and dropped.
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from devices.models import OptOut, TelemetryRollup
from dispatch.models import Event, EventParticipant, EventPlanRun
from enrollment.incentives import services as incentives
from enrollment.incentives.models import IncentiveOffer
from enrollment.incentives.selectors import active_offer
from enrollment.models import Enrollment, Program
from portal.audit import record
from portal.business_days import holiday_calendar
from portal.errors import DomainError
from portal.models import User, Utility

INTERVAL = timedelta(minutes=15)
INTERVAL_HOURS = 0.25
BASELINE_DAYS = 10
LOOKBACK_DAYS = 45
ADJUSTMENT_WINDOW = timedelta(hours=3)
ADJUSTMENT_GAP = timedelta(hours=1)
ADJUSTMENT_MIN, ADJUSTMENT_MAX = 0.8, 1.2
NEAR_ZERO_KW = 0.05
DISPATCHED = (EventParticipant.Role.SELECTED, EventParticipant.Role.DROPPED)
# Late telemetry arrives for a while after an event; beat measures an event this long after
# its end (the default of settings.DISPATCH_MEASURE_DELAY_MINUTES).
MEASURE_DELAY_MINUTES = 30
# ``Event.measurement`` key saying which grid and adjustment the baselines cached on the
# participants were computed for (see ``interval_summary``).
BASELINE_KEY = "baseline_key"
DIGITS = 3


def measure_delay() -> timedelta:
    """How long after its end beat measures an event (settings, checked at start-up)."""
    return timedelta(
        minutes=getattr(settings, "DISPATCH_MEASURE_DELAY_MINUTES", MEASURE_DELAY_MINUTES)
    )


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


def _round(value: float | None) -> float | None:
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


def _table(model) -> str:
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
    if connection.vendor != "postgresql":
        seen = {
            (vehicle_id, day)
            for vehicle_id, (day, _), _ in _portable_rollups(
                utility_id=utility_id, vehicle_ids=vehicle_ids, instants=instants
            )
        }
        for vehicle_id, day in seen:
            if (vehicle_id, day) not in excluded:
                found[vehicle_id].append(day)
        return {v: sorted(days, reverse=True)[:BASELINE_DAYS] for v, days in found.items()}
    cte, cte_params = instants.cte()
    sql = f"""
        WITH {cte}
        SELECT r.vehicle_id, i.day
        FROM {_table(TelemetryRollup)} r JOIN instants i ON i.ts = r.interval_start
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
    if connection.vendor != "postgresql":
        wanted = set(pairs)
        sums: dict[tuple[int, _Slot], float] = defaultdict(float)
        for vehicle_id, (day, slot), kwh in _portable_rollups(
            utility_id=utility_id, vehicle_ids=sorted(chosen), instants=instants
        ):
            if (vehicle_id, day) in wanted:
                sums[(vehicle_id, slot)] += kwh
        return dict(sums)
    cte, cte_params = instants.cte()
    sql = f"""
        WITH {cte},
             chosen(vehicle_id, day) AS (SELECT * FROM unnest(%s::bigint[], %s::date[]))
        SELECT r.vehicle_id, i.day_offset, i.tod,
               SUM(r.energy_charged_kwh - r.energy_discharged_kwh)
        FROM {_table(TelemetryRollup)} r
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


def _portable_rollups(*, utility_id: int, vehicle_ids: list[int], instants: _Instants):
    """(vehicle id, (day, slot), net kWh) of the rollups at the instants, read through the
    ORM (databases without arrays; PostgreSQL uses the aggregate queries above)."""
    if not instants.starts or not vehicle_ids:
        return
    at = {
        ts: (day, _Slot(offset, tod))
        for ts, day, offset, tod in zip(
            instants.starts, instants.days, instants.offsets, instants.tods, strict=True
        )
    }
    rows = (
        TelemetryRollup.objects.filter(
            utility_id=utility_id,
            vehicle_id__in=vehicle_ids,
            interval_start__gte=min(instants.starts),
            interval_start__lte=max(instants.starts),
        )
        .order_by()
        .values_list("vehicle_id", "interval_start", "energy_charged_kwh", "energy_discharged_kwh")
    )
    for vehicle_id, start, charged, discharged in rows.iterator(chunk_size=5000):
        key = at.get(start.astimezone(UTC))
        if key is not None:
            yield vehicle_id, key, charged - discharged


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


# --- Plan runs: what was committed ----------------------------------------------------------


@dataclass(frozen=True)
class _Run:
    starts: list[datetime]
    step: timedelta
    committed_kw: list

    def covers(self, moment: datetime) -> bool:
        return bool(self.starts) and self.starts[0] <= moment < self.starts[-1] + self.step

    def kw_at(self, moment: datetime) -> float | None:
        index = int((moment - self.starts[0]) / self.step)
        if 0 <= index < len(self.committed_kw):
            return self.committed_kw[index]
        return None


def _runs(event: Event, *, until: datetime | None = None) -> list[_Run]:
    """The event's plan runs, oldest first (one query)."""
    query = EventPlanRun.objects.filter(event=event)
    if until is not None:
        query = query.filter(created_at__lte=until)
    runs = []
    for minutes, starts, committed in query.order_by("created_at", "id").values_list(
        "interval_minutes", "interval_starts", "committed_kw"
    ):
        parsed = [datetime.fromisoformat(s) for s in starts or []]
        runs.append(_Run(parsed, timedelta(minutes=minutes or 15), list(committed or [])))
    return runs


def committed_kw(runs: Sequence[_Run], start: datetime, end: datetime) -> float | None:
    """The kW committed over [start, end), time-weighted: at each moment the latest run whose
    grid covers it says what is committed (a re-plan's grid starts when it ran). None when no
    run covers any of it."""
    cuts = {start, end}
    for run in runs:
        for moment in itertools.chain(
            run.starts, [run.starts[-1] + run.step] if run.starts else []
        ):
            if start < moment < end:
                cuts.add(moment)
    total, covered = 0.0, False
    points = sorted(cuts)
    for a, b in itertools.pairwise(points):
        middle = a + (b - a) / 2
        run = next((r for r in reversed(runs) if r.covers(middle)), None)
        value = run.kw_at(middle) if run is not None else None
        if value is not None:
            covered = True
            total += float(value) * ((b - a) / (end - start))
    return round(total, DIGITS) if covered else None


def target_kw(event: Event, start: datetime, end: datetime) -> float | None:
    """The event's target over [start, end), time-weighted by the part the event covers."""
    if event.target_kw is None:
        return None
    overlap = min(end, event.ends_at) - max(start, event.starts_at)
    return round(event.target_kw * max(0.0, overlap / (end - start)), DIGITS)


# --- Live view ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IntervalSummary:
    start: datetime
    end: datetime
    target_kw: float | None
    committed_kw: float | None
    baseline_kw: float | None
    actual_kw: float | None
    delivered_kw: float | None


def _baseline_key(grid: Sequence[datetime], *, adjusted: bool) -> str:
    return f"{grid[0].isoformat()}/{len(grid)}/{'adjusted' if adjusted else 'unadjusted'}"


def _store_baselines(*, event: Event, rows: dict[int, list[float | None]]) -> None:
    """Write ``baseline_kw`` for many of the event's participants in one UPDATE."""
    if not rows:
        return
    ids = list(rows)
    if connection.vendor != "postgresql":
        participants = list(EventParticipant.objects.filter(event=event, pk__in=ids))
        for p in participants:
            p.baseline_kw = rows[p.pk]
        EventParticipant.objects.bulk_update(participants, ["baseline_kw"], batch_size=500)
        return
    sql = f"""
        UPDATE {_table(EventParticipant)} p SET baseline_kw = v.baseline::jsonb
        FROM unnest(%s::bigint[], %s::text[]) AS v(id, baseline)
        WHERE p.id = v.id AND p.utility_id = %s AND p.event_id = %s
    """  # noqa: S608 (the table name is the model's; values are parameters)
    with connection.cursor() as cursor:
        cursor.execute(sql, [ids, [_json(rows[i]) for i in ids], event.utility_id, event.pk])


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _ensure_live_baselines(event: Event, grid: list[datetime], now: datetime) -> None:
    """Cache the selected participants' baselines on their rows: computed once per grid,
    unadjusted while the same-day window is open and again, adjusted, once it has closed;
    after that only participants added since (promoted reserves) are computed."""
    adjusted = now >= adjustment_window(event.starts_at)[1]
    key = _baseline_key(grid, adjusted=adjusted)
    selected = EventParticipant.objects.filter(event=event, role=EventParticipant.Role.SELECTED)
    if event.measurement.get(BASELINE_KEY) == key:
        selected = selected.filter(baseline_kw__isnull=True)
    rows = list(selected.values_list("pk", "vehicle_id"))
    if rows:
        found = baselines(
            utility=event.utility,
            vehicle_ids=[v for _, v in rows],
            grid=grid,
            starts_at=event.starts_at,
            exclude_event_id=event.pk,
            adjust=adjusted,
        )
        _store_baselines(
            event=event, rows={pk: _baseline_list(found[v], len(grid)) for pk, v in rows}
        )
    if event.measurement.get(BASELINE_KEY) != key:
        Event.objects.filter(pk=event.pk, measured_at__isnull=True).update(
            measurement={**event.measurement, BASELINE_KEY: key}
        )
        event.measurement = {**event.measurement, BASELINE_KEY: key}


def _baseline_list(baseline: Baseline, length: int) -> list[float | None]:
    return baseline.kw if baseline.kw is not None else [None] * length


def _live_totals(event: Event, grid: list[datetime], now: datetime):
    """Per grid index: (Σ baseline kW, participants with a baseline) over the selected
    participants, and per interval start: Σ net kWh of those participants' rollups so far."""
    if connection.vendor != "postgresql":
        return _portable_live_totals(event, grid, now)
    participants = _table(EventParticipant)
    has_baseline = """
        p.utility_id = %s AND p.event_id = %s AND p.role = %s
        AND CASE WHEN jsonb_typeof(p.baseline_kw) = 'array'
                 THEN jsonb_array_length(p.baseline_kw) END = %s
    """
    params = [event.utility_id, event.pk, EventParticipant.Role.SELECTED, len(grid)]
    baseline_sql = f"""
        SELECT e.idx - 1, SUM(e.value::float8), COUNT(e.value)
        FROM {participants} p,
             jsonb_array_elements_text(p.baseline_kw) WITH ORDINALITY AS e(value, idx)
        WHERE {has_baseline}
        GROUP BY 1
    """  # noqa: S608 (table names are the models'; values are parameters)
    actual_sql = f"""
        SELECT r.interval_start, SUM(r.energy_charged_kwh - r.energy_discharged_kwh)
        FROM {_table(TelemetryRollup)} r JOIN {participants} p ON p.vehicle_id = r.vehicle_id
        WHERE {has_baseline} AND p.baseline_kw -> 0 <> 'null'::jsonb
          AND r.utility_id = %s AND r.interval_start >= %s AND r.interval_start < %s
          AND r.interval_start <= %s
        GROUP BY 1
    """  # noqa: S608 (table names are the models'; values are parameters)
    with connection.cursor() as cursor:
        cursor.execute(baseline_sql, params)
        baseline = {index: (total, count) for index, total, count in cursor.fetchall()}
        cursor.execute(actual_sql, [*params, event.utility_id, grid[0], grid[-1] + INTERVAL, now])
        actual = dict(cursor.fetchall())
    return baseline, actual


def interval_summary(event: Event, *, now: datetime | None = None) -> list[IntervalSummary]:
    """One row per M&V interval of the event (future intervals too, with no actual or
    delivered kW) for the live console: target, committed (latest plan run covering the
    time), Σ baseline and Σ actual kW of the currently selected participants that have a
    baseline, and delivered = baseline − actual (actual − baseline for pre-charge), uncapped —
    the measurement after the event is the settled figure. The current interval's actual is
    its rollups so far (each reading's power held until the next, up to 15 minutes). A few
    aggregate queries whatever the fleet size; baselines are cached on the participants
    (computed on the first call, again once the same-day adjustment window has closed, then
    only for newly selected participants). Nothing for drafts and cancelled events."""
    now = now or timezone.now()
    if event.cancelled_at is not None or event.scheduled_at is None:
        return []
    grid = mv_grid(starts_at=event.starts_at, ends_at=event.ends_at)
    if not grid:
        return []
    runs = _runs(event, until=now)
    _ensure_live_baselines(event, grid, now)
    baseline_totals, actual_totals = _live_totals(event, grid, now)
    sign = -1.0 if is_precharge(event) else 1.0
    rows = []
    for index, start in enumerate(grid):
        end = start + INTERVAL
        total, count = baseline_totals.get(index, (None, 0))
        baseline_kw = _round(total) if count else None
        actual_kw = delivered_kw = None
        if start <= now and count:
            actual_kw = _round(net_kw(actual_totals.get(start, 0.0), 0.0))
            delivered_kw = _round(sign * (baseline_kw - actual_kw))
        rows.append(
            IntervalSummary(
                start=start,
                end=end,
                target_kw=target_kw(event, start, end),
                committed_kw=committed_kw(runs, start, end),
                baseline_kw=baseline_kw,
                actual_kw=actual_kw,
                delivered_kw=delivered_kw,
            )
        )
    return rows


# --- Measuring an ended event ---------------------------------------------------------------


@dataclass
class _Measured:
    """One participant's figures on the grid."""

    participant_id: int
    baseline_kw: list[float | None]
    actual_kw: list[float | None]
    delivered_kw: list[float | None]
    delivered_kwh: float | None
    days: int
    adjustment: float | None


def _counted(participant: EventParticipant, grid: Sequence[datetime], event: Event) -> list[bool]:
    """Which intervals count for the participant: all for a selected one; for a dropped one
    those overlapping its active window up to the moment it was dropped."""
    if participant.role == EventParticipant.Role.SELECTED:
        return [True] * len(grid)
    begin = participant.active_from or event.starts_at
    until = min(m for m in (participant.active_until, participant.dropped_at, event.ends_at) if m)
    return [start < until and start + INTERVAL > begin for start in grid]


def _measure_participant(
    participant: EventParticipant,
    *,
    grid: Sequence[datetime],
    baseline: Baseline,
    actual: dict[datetime, float] | None,
    event: Event,
) -> _Measured:
    n = len(grid)
    actual_kw: list[float | None] = (
        [_round(net_kw(actual.get(t, 0.0), 0.0)) for t in grid]
        if actual is not None
        else [None] * n
    )
    baseline_kw = _baseline_list(baseline, n)
    delivered_kw: list[float | None] = [None] * n
    delivered_kwh = None
    if baseline.kw is not None and actual is not None:
        counted = _counted(participant, grid, event)
        paid = 0.0
        for i in range(n):
            if counted[i]:
                value = delivered(
                    baseline_kw=baseline.kw[i],
                    actual_kw=actual_kw[i],
                    rating_kw=participant.rating_kw,
                    precharge=is_precharge(event),
                )
                delivered_kw[i] = _round(value)
                paid += max(0.0, value) * INTERVAL_HOURS
        delivered_kwh = _round(paid)
    return _Measured(
        participant_id=participant.pk,
        baseline_kw=baseline_kw,
        actual_kw=actual_kw,
        delivered_kw=delivered_kw,
        delivered_kwh=delivered_kwh,
        days=baseline.days,
        adjustment=_round(baseline.adjustment),
    )


def _event_actuals(
    *, vehicle_ids: list[int], grid: Sequence[datetime]
) -> dict[int, dict[datetime, float]]:
    """vehicle id → interval start → net kWh, for the vehicles that reported in the event."""
    rows = TelemetryRollup.objects.filter(
        vehicle_id__in=vehicle_ids,
        interval_start__gte=grid[0],
        interval_start__lt=grid[-1] + INTERVAL,
    ).values_list("vehicle_id", "interval_start", "energy_charged_kwh", "energy_discharged_kwh")
    found: dict[int, dict[datetime, float]] = defaultdict(dict)
    for vehicle_id, start, charged, discharged in rows:
        found[vehicle_id][start] = charged - discharged
    return found


def _opted_out(event: Event, vehicle_ids: list[int]) -> set[int]:
    """Vehicles whose customer opted out of this event (for it, or for a time range over
    it) — the opt-outs the drops of the event came from."""
    return set(
        OptOut.objects.filter(vehicle_id__in=vehicle_ids)
        .filter(
            Q(event_ref=str(event.pk)) | Q(starts_at__lt=event.ends_at, ends_at__gt=event.starts_at)
        )
        .values_list("vehicle_id", flat=True)
    )


def _portable_live_totals(event: Event, grid: list[datetime], now: datetime):
    """``_live_totals`` through the ORM, for databases without JSON array functions."""
    baseline: dict[int, tuple[float, int]] = {}
    with_baseline = []
    for vehicle_id, values in EventParticipant.objects.filter(
        event=event, role=EventParticipant.Role.SELECTED
    ).values_list("vehicle_id", "baseline_kw"):
        if not isinstance(values, list) or len(values) != len(grid):
            continue
        if values and values[0] is not None:
            with_baseline.append(vehicle_id)
        for index, value in enumerate(values):
            if value is not None:
                total, count = baseline.get(index, (0.0, 0))
                baseline[index] = (total + value, count + 1)
    actual = dict(
        TelemetryRollup.objects.filter(
            utility_id=event.utility_id,
            vehicle_id__in=with_baseline,
            interval_start__gte=grid[0],
            interval_start__lt=grid[-1] + INTERVAL,
            interval_start__lte=now,
        )
        .values("interval_start")
        .annotate(net=Sum(F("energy_charged_kwh") - F("energy_discharged_kwh")))
        .values_list("interval_start", "net")
    )
    return baseline, actual


def _write_participants(*, event: Event, rows: list[_Measured], now: datetime) -> None:
    """All participants' figures in one UPDATE (bulk_update's CASE per row is slow at 10,000)."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        by_id = {r.participant_id: r for r in rows}
        participants = list(EventParticipant.objects.filter(event=event, pk__in=list(by_id)))
        for p in participants:
            r = by_id[p.pk]
            p.baseline_kw, p.actual_kw = r.baseline_kw, r.actual_kw
            p.delivered_kw, p.delivered_kwh, p.measured_at = r.delivered_kw, r.delivered_kwh, now
        EventParticipant.objects.bulk_update(
            participants,
            ["baseline_kw", "actual_kw", "delivered_kw", "delivered_kwh", "measured_at"],
            batch_size=500,
        )
        return
    sql = f"""
        UPDATE {_table(EventParticipant)} p
        SET baseline_kw = v.baseline::jsonb, actual_kw = v.actual::jsonb,
            delivered_kw = v.delivered::jsonb, delivered_kwh = v.kwh, measured_at = %s
        FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::float8[])
             AS v(id, baseline, actual, delivered, kwh)
        WHERE p.id = v.id AND p.utility_id = %s AND p.event_id = %s
    """  # noqa: S608 (the table name is the model's; values are parameters)
    params = [
        now,
        [r.participant_id for r in rows],
        [_json(r.baseline_kw) for r in rows],
        [_json(r.actual_kw) for r in rows],
        [_json(r.delivered_kw) for r in rows],
        [r.delivered_kwh for r in rows],
        event.utility_id,
        event.pk,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _percent(part: float, whole: float) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def compute_measurement(
    event: Event, participants: list[EventParticipant], *, grid: list[datetime]
) -> tuple[dict, list[_Measured]]:
    """The event's measurement and each dispatched participant's figures (no writes)."""
    vehicle_ids = [p.vehicle_id for p in participants]
    found = baselines(
        utility=event.utility,
        vehicle_ids=vehicle_ids,
        grid=grid,
        starts_at=event.starts_at,
        exclude_event_id=event.pk,
        adjust=True,
    )
    actuals = _event_actuals(vehicle_ids=vehicle_ids, grid=grid) if vehicle_ids and grid else {}
    opted_out = _opted_out(event, vehicle_ids) if vehicle_ids else set()
    runs = _runs(event)
    measured = [
        _measure_participant(
            p,
            grid=grid,
            baseline=found[p.vehicle_id],
            actual=actuals.get(p.vehicle_id),
            event=event,
        )  # fmt: skip
        for p in participants
    ]

    n = len(grid)
    baseline_total, actual_total, delivered_total = [0.0] * n, [0.0] * n, [0.0] * n
    counted_any = [False] * n
    for row in measured:
        for i, value in enumerate(row.delivered_kw):
            if value is not None:
                counted_any[i] = True
                baseline_total[i] += row.baseline_kw[i]
                actual_total[i] += row.actual_kw[i]
                delivered_total[i] += max(0.0, value)

    roles = {p.pk: p.role for p in participants}
    selected = [r for r in measured if roles[r.participant_id] == EventParticipant.Role.SELECTED]
    dropped = [p for p in participants if p.role == EventParticipant.Role.DROPPED]
    with_baseline = [r for r in measured if r.days]
    delivered_kwh = round(sum(r.delivered_kwh or 0.0 for r in measured), DIGITS)
    hours = len(grid) * INTERVAL_HOURS  # the grid's intervals, as delivered kWh counts them
    average_kw = round(delivered_kwh / hours, DIGITS) if hours > 0 else None
    summary = {
        "delivered_kwh": delivered_kwh,
        "average_delivered_kw": average_kw,
        "target_kw": event.target_kw,
        "percent_of_target": (
            _percent(average_kw, event.target_kw)
            if event.target_kw and average_kw is not None
            else None
        ),
        "dispatched": len(selected),
        "dropped": len(dropped),
        "delivering": sum(1 for r in selected if (r.delivered_kwh or 0) > 0),
        "participation_pct": _percent(
            sum(1 for r in selected if (r.delivered_kwh or 0) > 0), len(selected)
        ),
        "opted_out": sum(1 for p in dropped if p.vehicle_id in opted_out),
        "opt_out_rate_pct": _percent(
            sum(1 for p in dropped if p.vehicle_id in opted_out), len(participants)
        ),
        "without_baseline": len(measured) - len(with_baseline),
        "without_telemetry": sum(1 for p in participants if p.vehicle_id not in actuals),
        "baseline_days_min": min((r.days for r in with_baseline), default=None),
        "baseline_days_mean": (
            round(sum(r.days for r in with_baseline) / len(with_baseline), 1)
            if with_baseline
            else None
        ),
        "short_baseline": sum(1 for r in with_baseline if r.days < BASELINE_DAYS),
    }
    result = {
        "method": "10-in-10, same-day adjustment clamped to [0.8, 1.2], device-level",
        "interval_minutes": 15,
        "interval_starts": [t.isoformat() for t in grid],
        "intervals": [
            {
                "target_kw": target_kw(event, t, t + INTERVAL),
                "committed_kw": committed_kw(runs, t, t + INTERVAL),
                "baseline_kw": _round(baseline_total[i]) if counted_any[i] else None,
                "actual_kw": _round(actual_total[i]) if counted_any[i] else None,
                "delivered_kw": _round(delivered_total[i]) if counted_any[i] else None,
            }
            for i, t in enumerate(grid)
        ],
        "summary": summary,
        "participants": {
            str(r.participant_id): {"days": r.days, "adjustment": r.adjustment} for r in measured
        },
        BASELINE_KEY: _baseline_key(grid, adjusted=True) if grid else "",
    }
    return result, measured


@dataclass(frozen=True)
class MeasureResult:
    event_id: int
    participants: int
    delivered_kwh: float
    incentives_awarded: int
    incentive_errors: list[str] = field(default_factory=list)


def _dispatched(event: Event) -> list[EventParticipant]:
    return list(
        EventParticipant.objects.filter(event=event, role__in=DISPATCHED)
        .only(
            "pk",
            "vehicle_id",
            "enrollment_id",
            "role",
            "rating_kw",
            "active_from",
            "active_until",
            "dropped_at",
        )  # fmt: skip
        .order_by("pk")
    )


def measure_event(
    event_id: int, *, now: datetime | None = None, actor: User | None = None, award: bool = True
) -> MeasureResult:
    """Measure an ended event: per dispatched participant the baseline, actual and delivered
    kW per interval and the delivered kWh, and the event's totals and summary; then award the
    performance incentives (``award=False`` leaves them). Re-measuring gives the same figures
    (late telemetry aside). A fixed number of queries for the measurement whatever the number
    of participants; incentives are one award per participant who delivered."""
    now = now or timezone.now()
    try:
        event = Event.objects.select_related("program", "utility").get(pk=event_id)
    except Event.DoesNotExist:
        raise MeasurementError(f"There is no event #{event_id}.") from None
    check_measurable(event, now=now)
    return _measure(event, now=now, actor=actor, award=award)


def check_measurable(event: Event, *, now: datetime) -> None:
    """Refuse (``MeasurementError``) an event that cannot be measured at ``now``."""
    status = event.status_at(now)
    if status == Event.Status.CANCELLED:
        raise NotMeasurable(f"{event} was cancelled before it started: nothing to measure.")
    if status == Event.Status.DRAFT:
        raise NotMeasurable(f"{event} is a draft: nothing to measure.")
    if status != Event.Status.COMPLETED:
        ends = timezone.localtime(event.ends_at, event.utility.tzinfo)
        raise NotEnded(
            f"{event} has not ended yet (it ends at {ends:%Y-%m-%d %H:%M %Z}); it can be "
            "measured once it has."
        )


def _measure(event: Event, *, now: datetime, actor: User | None, award: bool) -> MeasureResult:
    grid = mv_grid(starts_at=event.starts_at, ends_at=event.ends_at)
    participants = _dispatched(event)
    result, measured = compute_measurement(event, participants, grid=grid)
    with transaction.atomic():
        _write_participants(event=event, rows=measured, now=now)
        Event.objects.filter(pk=event.pk).update(measurement=result, measured_at=now)
        record(
            action="event.measured",
            utility=event.utility,
            obj=event,
            actor=actor,
            comment=(
                f"Measured: {result['summary']['delivered_kwh']} kWh delivered by "
                f"{len(participants)} dispatched vehicle(s)."
            ),
            changes={"summary": result["summary"]},
        )
    event.measurement, event.measured_at = result, now
    awarded, errors = 0, []
    if award:
        awarded, errors = award_event_incentives(event=event, actor=actor)
    return MeasureResult(
        event_id=event.pk,
        participants=len(participants),
        delivered_kwh=result["summary"]["delivered_kwh"],
        incentives_awarded=awarded,
        incentive_errors=errors,
    )


# --- Incentives -----------------------------------------------------------------------------


def award_event_incentives(*, event: Event, actor: User | None = None) -> tuple[int, list[str]]:
    """The program's per-event performance payment for each measured, enrolled participant
    who delivered energy (once per event: the incentive service returns the same incentive
    for the same figures). A refusal for one participant (e.g. figures changed since an
    earlier award, which only a dispute may correct) is reported and the others still get
    theirs. The outcome is kept in ``Event.measurement["incentives"]``."""
    if event.measured_at is None:
        raise MeasurementError(f"{event} has not been measured yet.")
    awarded, errors = 0, []
    if active_offer(program=event.program, kind=IncentiveOffer.Kind.EVENT_PERFORMANCE):
        rows = EventParticipant.objects.filter(
            event=event, role__in=DISPATCHED, enrollment__isnull=False, delivered_kwh__gt=0
        ).select_related("enrollment__service_account", "vehicle")
        event_date = timezone.localtime(event.starts_at, event.utility.tzinfo).date()
        for participant in rows.order_by("pk"):
            try:
                incentive = incentives.award_event_performance(
                    program=event.program,
                    enrollment=participant.enrollment,
                    event_ref=str(event.pk),
                    measured_kwh=Decimal(str(participant.delivered_kwh)),
                    event_date=event_date,
                    actor=actor,
                )
            except incentives.IncentiveError as exc:
                errors.append(f"{participant.vehicle.vin}: {exc.message}")
                continue
            if incentive is not None:
                awarded += 1
    outcome = {"awarded": awarded, "errors": errors}
    measured = {**event.measurement, "incentives": outcome}
    Event.objects.filter(pk=event.pk, measured_at=event.measured_at).update(measurement=measured)
    event.measurement = measured
    return awarded, errors


@dataclass(frozen=True)
class SeasonAward:
    enrollment_id: int
    events: int
    average_kw: float
    incentive_id: int | None
    error: str = ""


def season_performance(*, program: Program, season: str) -> dict[int, tuple[int, float]]:
    """enrollment id → (measured events of ``season`` it was dispatched in, average delivered
    kW over them). Each event's kW is its delivered kWh ÷ the hours of its M&V grid."""
    tz = program.utility.tzinfo
    rows = EventParticipant.objects.filter(
        event__program=program,
        event__measured_at__isnull=False,
        event__cancelled_at__isnull=True,
        role__in=DISPATCHED,
        enrollment__isnull=False,
    ).values_list("enrollment_id", "delivered_kwh", "event__starts_at", "event__ends_at")
    per_enrollment: dict[int, list[float]] = defaultdict(list)
    for enrollment_id, kwh, starts_at, ends_at in rows:
        label = incentives.season_label(seasons=program.seasons, on=starts_at.astimezone(tz).date())
        hours = len(mv_grid(starts_at=starts_at, ends_at=ends_at)) * INTERVAL_HOURS
        if label == season and hours > 0:
            per_enrollment[enrollment_id].append((kwh or 0.0) / hours)
    return {
        enrollment_id: (len(values), round(sum(values) / len(values), DIGITS))
        for enrollment_id, values in per_enrollment.items()
    }


def award_season_capacity(
    *, program: Program, season: str, actor: User | None = None
) -> list[SeasonAward]:
    """The program's $/kW-season capacity payment for every enrollment dispatched in the
    season's measured events, on its average delivered kW (once per season: the incentive
    service returns the same incentive for the same figures). Refuses a program without a
    capacity offer, a blank season, and a season with no measured events."""
    season = season.strip()
    if not season:
        raise MeasurementError("Name the season, e.g. “Summer 2026”.")
    if active_offer(program=program, kind=IncentiveOffer.Kind.CAPACITY_PAYMENT) is None:
        raise MeasurementError(f"{program} has no active capacity payment offer.")
    performance = season_performance(program=program, season=season)
    if not performance:
        raise MeasurementError(
            f"{program} has no measured events in {season} with dispatched enrollments."
        )
    enrollments = Enrollment.objects.select_related("service_account").in_bulk(list(performance))
    awards = []
    for enrollment_id in sorted(performance):
        events, average_kw = performance[enrollment_id]
        try:
            incentive = incentives.award_capacity(
                program=program,
                enrollment=enrollments[enrollment_id],
                season=season,
                measured_kw=Decimal(str(average_kw)),
                actor=actor,
            )
        except incentives.IncentiveError as exc:
            awards.append(SeasonAward(enrollment_id, events, average_kw, None, exc.message))
            continue
        awards.append(
            SeasonAward(enrollment_id, events, average_kw, incentive.pk if incentive else None)
        )
    return awards
