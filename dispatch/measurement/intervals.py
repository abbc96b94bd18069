"""The event's intervals while it runs: what was committed (the plan runs), the target, and
the live console's per-interval baseline, actual, delivered and rebound kW
(``interval_summary``). The settled figures come from ``run``."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.utils import timezone

from devices.models import TelemetryRollup
from dispatch.measurement.baselines import (
    DIGITS,
    INTERVAL,
    Baseline,
    adjustment_window,
    baselines,
    db_table,
    is_precharge,
    mv_grid,
    net_kw,
    rounded,
)
from dispatch.models import Event, EventParticipant, EventPlanRun

# ``Event.measurement`` key saying which grid and adjustment the baselines cached on the
# participants were computed for (see ``interval_summary``).
BASELINE_KEY = "baseline_key"


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


def runs_of(event: Event, *, until: datetime | None = None) -> list[_Run]:
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
    """The event's target over [start, end), time-weighted by the part each of its target
    intervals covers (``Event.profile_steps``); None where an interval asks for all
    available (there is no kW to compare with)."""
    total = 0.0
    for step in event.profile_steps():
        overlap = min(end, step.ends_at) - max(start, step.starts_at)
        if overlap.total_seconds() <= 0:
            continue
        if step.target_kw is None:
            return None
        total += step.target_kw * (overlap / (end - start))
    if event.target_kw is None and not event.target_profile:
        return None
    return round(total, DIGITS)


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
    # Load above the baseline (fleet charging harder than it would have: the rebound after
    # restores), never shown as negative delivery.
    rebound_kw: float | None = None


def baseline_key(grid: Sequence[datetime], *, adjusted: bool) -> str:
    return f"{grid[0].isoformat()}/{len(grid)}/{'adjusted' if adjusted else 'unadjusted'}"


def _store_baselines(*, event: Event, rows: dict[int, list[float | None]]) -> None:
    """Write ``baseline_kw`` for many of the event's participants in one UPDATE."""
    if not rows:
        return
    ids = list(rows)
    sql = f"""
        UPDATE {db_table(EventParticipant)} p SET baseline_kw = v.baseline::jsonb
        FROM unnest(%s::bigint[], %s::text[]) AS v(id, baseline)
        WHERE p.id = v.id AND p.utility_id = %s AND p.event_id = %s
    """  # noqa: S608 (the table name is the model's; values are parameters)
    with connection.cursor() as cursor:
        cursor.execute(sql, [ids, [to_json(rows[i]) for i in ids], event.utility_id, event.pk])


def to_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _ensure_live_baselines(event: Event, grid: list[datetime], now: datetime) -> None:
    """Cache the selected participants' baselines on their rows: computed once per grid,
    unadjusted while the same-day window is open and again, adjusted, once it has closed;
    after that only participants added since (promoted reserves) are computed."""
    adjusted = now >= adjustment_window(event.starts_at)[1]
    key = baseline_key(grid, adjusted=adjusted)
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
            event=event, rows={pk: baseline_list(found[v], len(grid)) for pk, v in rows}
        )
    if event.measurement.get(BASELINE_KEY) != key:
        Event.objects.filter(pk=event.pk, measured_at__isnull=True).update(
            measurement={**event.measurement, BASELINE_KEY: key}
        )
        event.measurement = {**event.measurement, BASELINE_KEY: key}


def baseline_list(baseline: Baseline, length: int) -> list[float | None]:
    return baseline.kw if baseline.kw is not None else [None] * length


def _live_totals(event: Event, grid: list[datetime], now: datetime):
    """Per grid index: (Σ baseline kW, participants with a baseline) over the selected
    participants, and per interval start: Σ net kWh of those participants' rollups so far."""
    participants = db_table(EventParticipant)
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
        FROM {db_table(TelemetryRollup)} r JOIN {participants} p ON p.vehicle_id = r.vehicle_id
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
    baseline, delivered = baseline − actual (actual − baseline for pre-charge) floored at 0,
    and the load above the baseline as rebound kW, uncapped — the measurement after the event
    is the settled figure. The current interval's actual is
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
    runs = runs_of(event, until=now)
    _ensure_live_baselines(event, grid, now)
    baseline_totals, actual_totals = _live_totals(event, grid, now)
    sign = -1.0 if is_precharge(event) else 1.0
    rows = []
    for index, start in enumerate(grid):
        end = start + INTERVAL
        total, count = baseline_totals.get(index, (None, 0))
        baseline_kw = rounded(total) if count else None
        actual_kw = delivered_kw = rebound_kw = None
        if start <= now and count:
            actual_kw = rounded(net_kw(actual_totals.get(start, 0.0), 0.0))
            relief = sign * (baseline_kw - actual_kw)
            delivered_kw = rounded(max(0.0, relief))
            rebound_kw = rounded(max(0.0, -relief))
        rows.append(
            IntervalSummary(
                start=start,
                end=end,
                target_kw=target_kw(event, start, end),
                committed_kw=committed_kw(runs, start, end),
                baseline_kw=baseline_kw,
                actual_kw=actual_kw,
                delivered_kw=delivered_kw,
                rebound_kw=rebound_kw,
            )
        )
    return rows
