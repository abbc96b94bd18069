"""What every reader does last: one clean, sorted series out of the intervals it read."""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from billing.intervals.types import Interval

# Stored and billed at 1 Wh / 1000 = 1 mWh resolution: far finer than any revenue meter, and a
# fixed scale lets the database hold kWh as numeric(…, 6). Half-even, so rounding is unbiased.
KWH_QUANTUM = Decimal("0.000001")
# No premise meters a gigawatt-hour in one interval: a larger figure is a unit or typing error.
MAX_ABS_KWH = Decimal(1_000_000)


def quantize_kwh(kwh: Decimal) -> Decimal:
    return kwh.quantize(KWH_QUANTUM, rounding=ROUND_HALF_EVEN)


def finish_intervals(
    intervals: list[Interval], warnings: list[str], rejected: list[tuple[str, str]]
) -> list[Interval]:
    """Sort by start, keep the first of readings that share a start (warning with the count),
    refuse a reading that starts inside the previous one or is implausibly large, and quantize
    kWh."""
    ordered = sorted(intervals, key=lambda interval: interval.start)
    if ordered != intervals:
        warnings.append("readings were not in time order; sorted")
    finished: list[Interval] = []
    duplicates = conflicting = 0
    for interval in ordered:
        if abs(interval.kwh) >= MAX_ABS_KWH:
            rejected.append((interval.start.isoformat(), f"{interval.kwh} kWh is implausible"))
            continue
        kwh = quantize_kwh(interval.kwh)
        if finished and finished[-1].start == interval.start:
            duplicates += 1
            conflicting += finished[-1].kwh != kwh
            continue
        if finished and interval.start < finished[-1].start + timedelta(
            seconds=finished[-1].seconds
        ):
            rejected.append(
                (interval.start.isoformat(), "starts inside the previous interval (overlap)")
            )
            continue
        finished.append(Interval(interval.start, interval.seconds, kwh))
    if duplicates:
        warnings.append(
            f"{duplicates} reading(s) repeated a start already in the file; the first kept"
            + (f" ({conflicting} with a different value)" if conflicting else "")
        )
    return finished
