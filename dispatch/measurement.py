"""Measurement and verification (M&V) of demand-response events: actual and delivered kW per
15-minute interval against each vehicle's baseline (``dispatch.baselines``), the event's
totals, the rebound after it, and the incentives the measured performance earns
(``dispatch.event_incentives``).

Span. An event is measured as it ran: from its start to its actual end (an early end, an
extension: ``Event.ends_at``). Its M&V grid is every 15-minute interval overlapping that span;
an interval the span covers only in part counts for that part (``weights``: an event ended
after 17 minutes counts 15 minutes of its first interval and 2 of its second).

Delivered, per interval and vehicle. baseline − actual: load reduced, i.e. charging deferred
for V1G and, for V2H/V2G, also the export (negative load, so it adds). Resilience pre-charge
events want charging: there delivered = actual − baseline. Delivered is capped at the
participant's ``rating_kw``. ``EventParticipant.delivered_kw`` keeps the signed, capped value
(negative: more load than the baseline); ``delivered_kwh`` = Σ max(0, delivered) × 0.25 h ×
the interval's counted share, the energy paid for. A participant counts while the vehicle
was committed to the event (``counted_share``): a selected one from the event's start (or
from when it was selected, if later: a reserve brought in, a vehicle taken over mid-event),
a dropped one over its active window up to the moment it was dropped — so a vehicle another
event took over (``dispatch.precedence``) is counted by one event at a time, never twice.
A vehicle without a baseline, or that sent no telemetry at all during the event, has None
intervals and no delivered kWh.

V2H home supply. A car supplying its home (a V2H program's discharge, backup-only or not)
takes load off the grid only as far as the home would have imported: the grid sees the
premise's avoided import, not the car's discharge. With premise interval data
(``dispatch.premise``: the meter import billing will add) delivered is that avoided import;
without it, delivered is capped at the premise's estimated load
(``settings.DISPATCH_V2H_PREMISE_LOAD_KW``) and the report labels the figure an estimate.

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

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from devices.models import OptOut, TelemetryRollup
from dispatch import premise
from dispatch.baselines import (  # noqa: F401 (the M&V API other modules and tests use)
    BASELINE_DAYS,
    DIGITS,
    DISPATCHED,
    INTERVAL,
    INTERVAL_HOURS,
    Baseline,
    MeasurementError,
    NotEnded,
    NotMeasurable,
    adjustment_factor,
    adjustment_window,
    baselines,
    db_table,
    delivered,
    floor_interval,
    is_precharge,
    mv_grid,
    net_kw,
    rounded,
)
from dispatch.event_incentives import (  # noqa: F401
    award_event_incentives,
    award_season_capacity,
    season_performance,
)
from dispatch.intervals import (  # noqa: F401
    BASELINE_KEY,
    IntervalSummary,
    baseline_key,
    baseline_list,
    committed_kw,
    interval_summary,
    runs_of,
    target_kw,
    to_json,
)
from dispatch.models import Event, EventParticipant
from portal.audit import record
from portal.models import User

# Late telemetry arrives for a while after an event; beat measures an event this long after
# its end (the default of settings.DISPATCH_MEASURE_DELAY_MINUTES).
MEASURE_DELAY_MINUTES = 30
REBOUND_WINDOW = timedelta(hours=1)


def measure_delay() -> timedelta:
    """How long after its end beat measures an event (settings, checked at start-up)."""
    return timedelta(
        minutes=getattr(settings, "DISPATCH_MEASURE_DELAY_MINUTES", MEASURE_DELAY_MINUTES)
    )


# --- Measuring an ended event ---------------------------------------------------------------


def interval_share(start: datetime, *, lo: datetime, hi: datetime) -> float:
    """The share of the interval starting at ``start`` that lies within [lo, hi)."""
    overlap = min(start + INTERVAL, hi) - max(start, lo)
    return max(0.0, overlap / INTERVAL)


def weights(grid: Sequence[datetime], *, lo: datetime, hi: datetime) -> list[float]:
    return [interval_share(t, lo=lo, hi=hi) for t in grid]


def counted_window(participant: EventParticipant, event: Event) -> tuple[datetime, datetime]:
    """When the vehicle was committed to the event: from the event's start (or from when it
    was selected, if later) to the event's end, or for a dropped one to the end of its
    active window or the moment it was dropped, whichever came first."""
    begin = event.starts_at
    if participant.selected_at is not None and participant.selected_at > begin:
        begin = participant.selected_at
    if participant.role == EventParticipant.Role.SELECTED:
        return begin, event.ends_at
    if participant.active_from is not None and participant.active_from > begin:
        begin = participant.active_from
    ends = (participant.active_until, participant.dropped_at, event.ends_at)
    return begin, min(m for m in ends if m)


@dataclass
class _Measured:
    """One participant's figures on the event's grid, and its load above the baseline in
    the rebound window's intervals."""

    participant_id: int
    baseline_kw: list[float | None]
    actual_kw: list[float | None]
    delivered_kw: list[float | None]
    shares: list[float]  # the counted share of each interval (0: not counted)
    delivered_kwh: float | None
    days: int
    adjustment: float | None
    estimated: bool = False  # V2H capped at the premise's estimated load
    rebound_kw: list[float | None] = field(default_factory=list)  # on the whole grid
    rebound_shares: list[float] = field(default_factory=list)

    @property
    def rebound_window_kw(self) -> list[float | None] | None:
        """The rebound kW of the intervals after the end (those with a rebound share)."""
        values = [v for v, s in zip(self.rebound_kw, self.rebound_shares, strict=True) if s]
        return values if any(v is not None for v in values) else None

    @property
    def rebound_kwh(self) -> float | None:
        values = self.rebound_window_kw
        return None if values is None else rounded(sum(v or 0.0 for v in values) * INTERVAL_HOURS)


@dataclass(frozen=True)
class _Context:
    """What every participant's measurement shares."""

    event: Event
    grid: list[datetime]  # the event's intervals, then the rebound window's
    event_intervals: int
    rebound_shares: list[float]  # per grid interval: the share after the end, up to now
    home_supply: bool
    premise_load_kw: float
    avoided: dict[int, list[float | None]]  # service account id → metered avoided import


def _measure_participant(
    participant: EventParticipant,
    *,
    context: _Context,
    baseline: Baseline,
    actual: dict[datetime, float] | None,
) -> _Measured:
    event, grid, n = context.event, context.grid, context.event_intervals
    actual_all = [net_kw(actual.get(t, 0.0), 0.0) for t in grid] if actual is not None else None
    actual_kw: list[float | None] = (
        [rounded(v) for v in actual_all[:n]] if actual_all is not None else [None] * n
    )
    baseline_all = baseline.kw
    begin, until = counted_window(participant, event)
    shares = weights(grid[:n], lo=begin, hi=until)
    delivered_kw: list[float | None] = [None] * n
    rebound_kw: list[float | None] = [None] * len(grid)
    delivered_kwh, estimated = None, False
    if baseline_all is not None and actual_all is not None:
        metered = context.avoided.get(participant.account_id) if context.home_supply else None
        paid = 0.0
        for i in range(n):
            if not shares[i]:
                continue
            value = delivered(
                baseline_kw=baseline_all[i],
                actual_kw=actual_all[i],
                rating_kw=participant.rating_kw,
                precharge=is_precharge(event),
            )
            if context.home_supply and metered is not None and metered[i] is not None:
                value = min(metered[i], participant.rating_kw)
            elif context.home_supply:
                capped = premise.home_supply_delivered_kw(
                    baseline_kw=baseline_all[i],
                    actual_kw=actual_all[i],
                    load_kw=context.premise_load_kw,
                )
                estimated = estimated or capped < value
                value = min(value, capped)
            delivered_kw[i] = rounded(value)
            paid += max(0.0, value) * INTERVAL_HOURS * shares[i]
        delivered_kwh = rounded(paid)
        if not is_precharge(event):
            rebound_kw = [
                rounded(max(0.0, a - b) * s) if s else None
                for a, b, s in zip(actual_all, baseline_all, context.rebound_shares, strict=True)
            ]
    return _Measured(
        participant_id=participant.pk,
        baseline_kw=baseline_list(baseline, len(grid))[:n],
        actual_kw=actual_kw,
        delivered_kw=delivered_kw,
        shares=shares,
        delivered_kwh=delivered_kwh,
        days=baseline.days,
        adjustment=rounded(baseline.adjustment),
        estimated=estimated,
        rebound_kw=rebound_kw,
        rebound_shares=context.rebound_shares,
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


def _write_participants(*, event: Event, rows: list[_Measured], now: datetime) -> None:
    """All participants' figures in one UPDATE (bulk_update's CASE per row is slow at 10,000)."""
    if not rows:
        return
    sql = f"""
        UPDATE {db_table(EventParticipant)} p
        SET baseline_kw = v.baseline::jsonb, actual_kw = v.actual::jsonb,
            delivered_kw = v.delivered::jsonb, delivered_kwh = v.kwh,
            rebound_kw = v.rebound::jsonb, rebound_kwh = v.rebound_kwh, measured_at = %s
        FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::float8[],
                    %s::text[], %s::float8[])
             AS v(id, baseline, actual, delivered, kwh, rebound, rebound_kwh)
        WHERE p.id = v.id AND p.utility_id = %s AND p.event_id = %s
    """  # noqa: S608 (the table name is the model's; values are parameters)
    params = [
        now,
        [r.participant_id for r in rows],
        [to_json(r.baseline_kw) for r in rows],
        [to_json(r.actual_kw) for r in rows],
        [to_json(r.delivered_kw) for r in rows],
        [r.delivered_kwh for r in rows],
        [to_json(r.rebound_window_kw) for r in rows],
        [r.rebound_kwh for r in rows],
        event.utility_id,
        event.pk,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _percent(part: float, whole: float) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _context(
    event: Event, participants: list[EventParticipant], *, grid: list[datetime], now: datetime
) -> _Context:
    rebound_end = min(event.ends_at + REBOUND_WINDOW, max(now, event.ends_at))
    home_supply = premise.is_home_supply(event)
    return _Context(
        event=event,
        grid=grid,
        event_intervals=len(mv_grid(starts_at=event.starts_at, ends_at=event.ends_at)),
        rebound_shares=weights(grid, lo=event.ends_at, hi=rebound_end),
        home_supply=home_supply,
        premise_load_kw=premise.premise_load_kw() if home_supply else 0.0,
        avoided=(
            premise.avoided_import_kw(
                event=event,
                account_ids=sorted({p.account_id for p in participants if p.account_id}),
                grid=grid[: len(mv_grid(starts_at=event.starts_at, ends_at=event.ends_at))],
            )
            if home_supply
            else {}
        ),
    )


def compute_measurement(
    event: Event,
    participants: list[EventParticipant],
    *,
    grid: list[datetime],
    now: datetime | None = None,
) -> tuple[dict, list[_Measured]]:
    """The event's measurement and each dispatched participant's figures (no writes).
    ``grid``: the event's intervals and the rebound window's (``measurement_grid``)."""
    now = now or timezone.now()
    context = _context(event, participants, grid=grid, now=now)
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
    measured = [
        _measure_participant(
            p, context=context, baseline=found[p.vehicle_id], actual=actuals.get(p.vehicle_id)
        )
        for p in participants
    ]
    event_grid = grid[: context.event_intervals]
    result = {
        "method": "10-in-10, same-day adjustment clamped to [0.8, 1.2], device-level",
        "interval_minutes": 15,
        "interval_starts": [t.isoformat() for t in event_grid],
        "intervals": _interval_totals(event, measured, grid=event_grid),
        "summary": _summary(event, participants, measured, actuals, opted_out, context),
        "rebound": _rebound(event, measured, context=context, now=now),
        "participants": {
            str(r.participant_id): {"days": r.days, "adjustment": r.adjustment} for r in measured
        },
        BASELINE_KEY: baseline_key(event_grid, adjusted=True) if event_grid else "",
    }
    return result, measured


def _interval_totals(event: Event, measured: list[_Measured], *, grid: list[datetime]) -> list:
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


def _summary(event, participants, measured, actuals, opted_out, context: _Context) -> dict:
    roles = {p.pk: p.role for p in participants}
    selected = [r for r in measured if roles[r.participant_id] == EventParticipant.Role.SELECTED]
    dropped = [p for p in participants if p.role == EventParticipant.Role.DROPPED]
    with_baseline = [r for r in measured if r.days]
    delivered_kwh = round(sum(r.delivered_kwh or 0.0 for r in measured), DIGITS)
    # The hours the event ran: the partial first and last intervals count for their part.
    minutes = (event.ends_at - event.starts_at).total_seconds() / 60
    hours = minutes / 60
    average_kw = round(delivered_kwh / hours, DIGITS) if hours > 0 else None
    summary = {
        "measured_minutes": round(minutes, 1),
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


def _rebound(event: Event, measured: list[_Measured], *, context: _Context, now: datetime):
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


def measurement_grid(event: Event) -> list[datetime]:
    """The event's intervals followed by the rebound window's."""
    return mv_grid(starts_at=event.starts_at, ends_at=event.ends_at + REBOUND_WINDOW)


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
        .annotate(account_id=F("vehicle__service_account_id"))
        .only(
            "pk",
            "vehicle_id",
            "enrollment_id",
            "role",
            "rating_kw",
            "active_from",
            "active_until",
            "dropped_at",
            "selected_at",
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
    participants = _dispatched(event)
    result, measured = compute_measurement(
        event, participants, grid=measurement_grid(event), now=now
    )
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
