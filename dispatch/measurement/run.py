"""Measuring an ended event: per dispatched participant the baseline, actual and delivered kW
per interval and the delivered kWh (``participants``), the event's totals, summary and rebound
(``totals``), written in one UPDATE with an audit row; then the incentives the measured
performance earns (``incentives``).

Span. An event is measured as it ran: from its start to its actual end (an early end, an
extension: ``Event.ends_at``). Its M&V grid is every 15-minute interval overlapping that span;
an interval the span covers only in part counts for that part (``weights``: an event ended
after 17 minutes counts 15 minutes of its first interval and 2 of its second).
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
from dispatch.measurement import premise
from dispatch.measurement.baselines import (
    DISPATCHED,
    INTERVAL,
    MeasurementError,
    NotEnded,
    NotMeasurable,
    baselines,
    db_table,
    mv_grid,
)
from dispatch.measurement.incentives import award_event_incentives
from dispatch.measurement.intervals import BASELINE_KEY, baseline_key, to_json
from dispatch.measurement.participants import (
    REBOUND_WINDOW,
    Context,
    Measured,
    measure_participant,
    weights,
)
from dispatch.measurement.totals import event_rebound, event_summary, interval_totals
from dispatch.models import Event, EventParticipant
from portal.audit import record
from portal.models import User


def measure_delay() -> timedelta:
    """How long after its end beat measures an event: late telemetry arrives for a while
    after an event (``settings.DISPATCH_MEASURE_DELAY_MINUTES``, checked at start-up)."""
    return timedelta(minutes=settings.DISPATCH_MEASURE_DELAY_MINUTES)


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


def _write_participants(*, event: Event, rows: list[Measured], now: datetime) -> None:
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


def _context(
    event: Event, participants: list[EventParticipant], *, grid: list[datetime], now: datetime
) -> Context:
    rebound_end = min(event.ends_at + REBOUND_WINDOW, max(now, event.ends_at))
    home_supply = premise.is_home_supply(event)
    return Context(
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
) -> tuple[dict, list[Measured]]:
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
        measure_participant(
            p, context=context, baseline=found[p.vehicle_id], actual=actuals.get(p.vehicle_id)
        )
        for p in participants
    ]
    event_grid = grid[: context.event_intervals]
    result = {
        "method": "10-in-10, same-day adjustment clamped to [0.8, 1.2], device-level",
        "interval_minutes": 15,
        "interval_starts": [t.isoformat() for t in event_grid],
        "intervals": interval_totals(event, measured, grid=event_grid),
        "summary": event_summary(event, participants, measured, actuals, opted_out, context),
        "rebound": event_rebound(event, measured, context=context, now=now),
        "participants": {
            str(r.participant_id): {"days": r.days, "adjustment": r.adjustment} for r in measured
        },
        BASELINE_KEY: baseline_key(event_grid, adjusted=True) if event_grid else "",
    }
    return result, measured


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
