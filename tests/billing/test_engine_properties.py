"""Properties every bill must have, whatever the load (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.intervals import Interval
from billing.rates.engine import compute_bills
from billing.rates.urdb import parse_urdb
from tests.billing.rates_support import LA, flat_grid, real_schedule, synthetic

START = datetime(2024, 6, 1, 7, tzinfo=UTC)  # 1 June 2024 00:00 in Los Angeles
HOURS = 24 * 7

kwh_values = st.decimals(min_value=0, max_value=50, places=3)
load = st.lists(kwh_values, min_size=1, max_size=HOURS)


def hourly(values, start=START):
    return [
        Interval(start=start + timedelta(hours=n), seconds=3600, kwh=kwh)
        for n, kwh in enumerate(values)
    ]


def total(schedule, intervals) -> Decimal:
    return sum((bill.total for bill in compute_bills(schedule, intervals, LA)), Decimal(0))


@settings(max_examples=60, deadline=None)
@given(values=load, hour=st.integers(min_value=0), extra=st.decimals(0, 20, places=3))
def test_more_import_never_lowers_a_flat_tariff_bill(values, hour, extra):
    # FPL RS-1 (flat, tiered) and PSCo RD (flat energy with a demand charge): every line is
    # monotone in the kWh and half-up rounding is monotone, so this holds cent for cent.
    hour %= len(values)
    more = list(values)
    more[hour] += extra
    for key in ("fpl", "psco"):
        schedule = real_schedule(key)
        assert total(schedule, hourly(more)) >= total(schedule, hourly(values))


# Whole-cent prices on whole kWh make every line exact, so the comparison is not blurred by
# each line's rounding (a move of 0.001 kWh could otherwise round one line up a cent).
TOU_NO_DEMAND = synthetic(
    energyratestructure=[[{"rate": 0.12}], [{"rate": 0.31}], [{"rate": 0.08}]],
    energyweekdayschedule=[
        [2 if hour < 6 else 1 if 16 <= hour <= 20 else 0 for hour in range(24)] for _ in range(12)
    ],
    energyweekendschedule=flat_grid(0),
    fixedchargefirstmeter=10,
)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.integers(0, 40), min_size=HOURS, max_size=HOURS),
    day=st.integers(0, 6),
    peak_hour=st.integers(16, 20),
    off_hour=st.sampled_from([0, 1, 2, 3, 4, 5, 9, 12, 22, 23]),
    moved=st.integers(0, 40),
)
def test_moving_load_off_peak_never_raises_a_tou_bill(values, day, peak_hour, off_hour, moved):
    schedule = parse_urdb(TOU_NO_DEMAND)
    values = [Decimal(v) for v in values]
    peak, off = day * 24 + peak_hour, day * 24 + off_hour
    moved = min(Decimal(moved), values[peak])
    shifted = list(values)
    shifted[peak] -= moved
    shifted[off] += moved
    assert total(schedule, hourly(shifted)) <= total(schedule, hourly(values))


@settings(max_examples=40, deadline=None)
@given(june=load, july=load)
def test_bills_are_additive_over_months(june, july):
    schedule = real_schedule("sce")
    june_intervals = hourly(june)
    july_intervals = hourly(july, start=START + timedelta(days=30))
    both = total(schedule, june_intervals + july_intervals)
    assert both == total(schedule, june_intervals) + total(schedule, july_intervals)


@settings(max_examples=60, deadline=None)
@given(
    values=load,
    exported=st.lists(st.decimals(0, 30, places=3), min_size=1, max_size=HOURS),
    sell=st.sampled_from([None, 0.03, 0.12]),
    minimum=st.sampled_from([None, 5, 25]),
)
def test_export_never_raises_a_bill(values, exported, sell, minimum):
    tier = {"rate": 0.12, "adj": 0.0137, "max": 300}
    top = {"rate": 0.19}
    if sell is not None:
        tier["sell"] = top["sell"] = sell
    fields = {"energyratestructure": [[tier, top]], "flatdemandstructure": [[{"rate": 4}]]}
    if minimum is not None:
        fields["mincharge"] = minimum
    schedule = parse_urdb(synthetic(**fields))
    # The same hours, each lowered by an exported amount (import falls, or turns to export).
    lowered = [kwh - exported[n % len(exported)] for n, kwh in enumerate(values)]
    assert total(schedule, hourly(lowered)) <= total(schedule, hourly(values))
