"""The event's figures from its participants' measurements.

Rebound. The hour after the event's end (``REBOUND_WINDOW``) is measured too, never as
delivery: rebound kWh = Σ max(0, actual − baseline) × 0.25 h × the share of the interval
after the end, over the dispatched vehicles (``Event.measurement["rebound"]``). Measured
before that hour is over, it covers what has been reported so far and says through when.

Event totals (``Event.measurement``) add up the measured participants per interval; an
interval's delivered total is Σ max(0, delivered) × counted share, so the intervals' delivered
kW × 0.25 h add up to the summary's kWh, and the average delivered kW is that kWh ÷ the
measured hours. Participation = dispatched (selected) participants who delivered > 0 kWh ÷
dispatched; opt-out rate = dropped participants whose customer opted out of the event
(``devices.OptOut`` for it or over it) ÷ selected and dropped.
"""

from __future__ import annotations

from datetime import datetime

from dispatch.measurement.baselines import BASELINE_DAYS, DIGITS, INTERVAL, INTERVAL_HOURS, rounded
from dispatch.measurement.intervals import committed_kw, runs_of, target_kw
from dispatch.measurement.participants import REBOUND_WINDOW, Context, Measured
from dispatch.models import Event, EventParticipant


def _percent(part: float, whole: float) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def interval_totals(event: Event, measured: list[Measured], *, grid: list[datetime]) -> list:
    n = len(grid)
    baseline_total, actual_total, delivered_total = [0.0] * n, [0.0] * n, [0.0] * n
    counted_any = [False] * n
    for row in measured:
        for i, value in enumerate(row.delivered_kw):
            if value is not None:
                counted_any[i] = True
                baseline_total[i] += row.baseline_kw[i]
                actual_total[i] += row.actual_kw[i]
                delivered_total[i] += max(0.0, value) * row.shares[i]
    runs = runs_of(event)
    return [
        {
            "target_kw": target_kw(event, t, t + INTERVAL),
            "committed_kw": committed_kw(runs, t, t + INTERVAL),
            "baseline_kw": rounded(baseline_total[i]) if counted_any[i] else None,
            "actual_kw": rounded(actual_total[i]) if counted_any[i] else None,
            "delivered_kw": rounded(delivered_total[i]) if counted_any[i] else None,
        }
        for i, t in enumerate(grid)
    ]


def event_summary(event, participants, measured, actuals, opted_out, context: Context) -> dict:
    roles = {p.pk: p.role for p in participants}
    selected = [r for r in measured if roles[r.participant_id] == EventParticipant.Role.SELECTED]
    dropped = [p for p in participants if p.role == EventParticipant.Role.DROPPED]
    with_baseline = [r for r in measured if r.days]
    delivered_kwh = round(sum(r.delivered_kwh or 0.0 for r in measured), DIGITS)
    # The hours the event ran: the partial first and last intervals count for their part.
    minutes = (event.ends_at - event.starts_at).total_seconds() / 60
    hours = minutes / 60
    average_kw = round(delivered_kwh / hours, DIGITS) if hours > 0 else None
    average_target_kw = (
        target_kw(event, event.starts_at, event.ends_at) if hours > 0 else event.target_kw
    )
    summary = {
        "measured_minutes": round(minutes, 1),
        "delivered_kwh": delivered_kwh,
        "average_delivered_kw": average_kw,
        # The time-weighted target (the target itself unless it changes interval by interval).
        "target_kw": average_target_kw,
        "percent_of_target": (
            _percent(average_kw, average_target_kw)
            if average_target_kw and average_kw is not None
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
        "rebound_kwh": round(sum(sum(v or 0.0 for v in r.rebound_kw) for r in measured)
                             * INTERVAL_HOURS, DIGITS),
    }  # fmt: skip
    if context.home_supply:
        metered = sum(1 for p in participants if p.account_id in context.avoided)
        summary["home_supply"] = {
            "premise_load_kw": context.premise_load_kw,
            "metered": metered,
            "estimated": len(participants) - metered,
            "capped": sum(1 for r in measured if r.estimated),
        }
    return summary


def event_rebound(event: Event, measured: list[Measured], *, context: Context, now: datetime):
    """The hour after the event: Σ baseline, Σ actual and Σ load above baseline (kW, each
    interval's part after the end) over the dispatched vehicles, and its kWh."""
    grid = context.grid
    first = next((i for i, s in enumerate(context.rebound_shares) if s > 0), len(grid))
    intervals = []
    for i in range(first, len(grid)):
        if not context.rebound_shares[i]:
            continue
        values = [r.rebound_kw[i] for r in measured if r.rebound_kw and r.rebound_kw[i] is not None]
        intervals.append(
            {
                "start": grid[i].isoformat(),
                "share": round(context.rebound_shares[i], 3),
                "rebound_kw": rounded(sum(values)) if values else None,
            }
        )
    through = min(event.ends_at + REBOUND_WINDOW, max(now, event.ends_at))
    return {
        "window_minutes": int(REBOUND_WINDOW.total_seconds() // 60),
        "through": through.isoformat(),
        "complete": through >= event.ends_at + REBOUND_WINDOW,
        "intervals": intervals,
        "kwh": round(sum((i["rebound_kw"] or 0.0) for i in intervals) * INTERVAL_HOURS, DIGITS),
    }
