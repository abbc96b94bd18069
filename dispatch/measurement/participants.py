"""One participant's measurement on the event's M&V grid.

Delivered, per interval and vehicle. baseline − actual: load reduced, i.e. charging deferred
for V1G and, for V2H/V2G, also the export (negative load, so it adds). Resilience pre-charge
events want charging: there delivered = actual − baseline. Delivered is capped at the
participant's ``rating_kw``. ``EventParticipant.delivered_kw`` keeps the signed, capped value
(negative: more load than the baseline); ``delivered_kwh`` = Σ max(0, delivered) × 0.25 h ×
the interval's counted share, the energy paid for. A participant counts while the vehicle
was committed to the event (``counted_share``): a selected one from the event's start (or
from when it was selected, if later: a reserve brought in, a vehicle taken over mid-event),
a dropped one over its active window up to the moment it was dropped — so a vehicle another
event took over (``dispatch.planning.precedence``) is counted by one event at a time, never twice.
A vehicle without a baseline, or that sent no telemetry at all during the event, has None
intervals and no delivered kWh.

V2H home supply. A car supplying its home (a V2H program's discharge, backup-only or not)
takes load off the grid only as far as the home would have imported: the grid sees the
premise's avoided import, not the car's discharge. With premise interval data
(``premise``: the meter import billing will add) delivered is that avoided import;
without it, delivered is capped at the premise's estimated load
(``settings.DISPATCH_V2H_PREMISE_LOAD_KW``) and the report labels the figure an estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dispatch.measurement import premise
from dispatch.measurement.baselines import (
    INTERVAL,
    INTERVAL_HOURS,
    Baseline,
    delivered,
    is_precharge,
    net_kw,
    rounded,
)
from dispatch.measurement.intervals import baseline_list
from dispatch.models import Event, EventParticipant

REBOUND_WINDOW = timedelta(hours=1)


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
class Measured:
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
class Context:
    """What every participant's measurement shares."""

    event: Event
    grid: list[datetime]  # the event's intervals, then the rebound window's
    event_intervals: int
    rebound_shares: list[float]  # per grid interval: the share after the end, up to now
    home_supply: bool
    premise_load_kw: float
    avoided: dict[int, list[float | None]]  # service account id → metered avoided import


def measure_participant(
    participant: EventParticipant,
    *,
    context: Context,
    baseline: Baseline,
    actual: dict[datetime, float] | None,
) -> Measured:
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
    return Measured(
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
