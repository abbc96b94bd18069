"""Dispatch planning (dispatch/planning/planner.py): concrete numbers and property-based tests."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.limits import LimitSource, combine
from dispatch.planning.planner import (
    DISCHARGE_KINDS,
    EventInput,
    EventKind,
    Exclusion,
    PlanChanges,
    VehicleInput,
    plan,
    replan,
    trip_floor_pct,
)

START = datetime(2026, 7, 15, 17, 0, tzinfo=UTC)
EPS = 1e-6


def limits(
    *,
    charge=11.5,
    discharge=9.6,
    floor=20.0,
    events=None,
    hours=None,
    annual=None,
):
    return combine(
        [
            LimitSource(
                name="vehicle",
                max_charge_kw=charge,
                max_discharge_kw=discharge,
                soc_floor_pct=floor,
                events_per_month=events,
                max_hours_per_event=hours,
                annual_discharge_kwh=annual,
            )
        ]
    )


def f150(vid, soc=80.0, **kw):
    return VehicleInput(
        vehicle_id=vid,
        limits=kw.pop("limits", limits()),
        soc_pct=soc,
        usable_battery_kwh=131.0,
        **kw,
    )


def event(kind=EventKind.V2H_HOME_SUPPLY, hours=2.0, **kw):
    return EventInput(kind=kind, start=START, end=START + timedelta(hours=hours), **kw)


# --- Concrete numbers ------------------------------------------------------------------------


def test_f150_two_hours_at_full_power():
    p = plan(event(), [f150(1)])
    (a,) = p.selected
    assert a.power_kw == pytest.approx(-9.6)
    assert a.setpoints_kw == pytest.approx((-9.6,) * 8)
    assert a.energy_kwh == pytest.approx(9.6 * 2 / 0.9)  # 21.33 kWh out of the battery
    end_soc = 80 - a.energy_kwh / 131 * 100
    assert end_soc == pytest.approx(63.715, abs=1e-3)
    assert p.committed_kw == pytest.approx((9.6,) * 8)


def test_f150_near_floor_is_energy_limited():
    # 30 % − 20 % of 131 kWh = 13.1 kWh; over 2 h at 90 %: 13.1 × 0.9 / 2 = 5.895 kW.
    (a,) = plan(event(), [f150(1, soc=30.0)]).selected
    assert a.power_kw == pytest.approx(-5.895)
    assert a.energy_kwh == pytest.approx(13.1)


def test_hours_per_event_caps_participation():
    (a,) = plan(event(), [f150(1, limits=limits(hours=1))]).selected
    assert a.duration_hours == 1
    assert a.setpoints_kw == pytest.approx((-9.6,) * 4 + (0.0,) * 4)


def test_target_with_reserve_margin_and_fairness():
    fleet = [
        f150(1, events_this_season=3),
        f150(2, events_this_season=0, soc=60),
        f150(3, events_this_season=0, soc=90),
        f150(4, events_this_season=1),
        f150(5, events_this_season=5),
    ]
    p = plan(event(target_kw=20, reserve_margin=0.1), fleet)  # goal 22 kW → 3 × 9.6
    assert [a.vehicle_id for a in p.selected] == [3, 2, 4]
    assert [a.vehicle_id for a in p.reserves] == [1, 5]
    assert p.committed_kw == pytest.approx((28.8,) * 8)
    assert p.target_met


def test_exclusion_reasons():
    leave = START + timedelta(hours=3)
    fleet = [
        f150(1, plugged_in=False),
        f150(2, opted_out=True),
        f150(3, events_this_month=3, limits=limits(events=3)),
        f150(4, soc=20.0),
        f150(5, limits=limits(discharge=0)),
        # Needs 80 % at departure, 1 h after the event at 11.5 kW: 80 − 7.9 = 72.1 % floor.
        f150(6, soc=70.0, departure=leave, departure_target_soc_pct=80.0),
        f150(7, departure=START + timedelta(hours=1)),
        f150(8, limits=limits(annual=100), discharged_this_year_kwh=100),
    ]
    p = plan(event(), fleet)
    assert p.selected == ()
    assert p.excluded == {
        1: Exclusion.NOT_PLUGGED_IN,
        2: Exclusion.OPTED_OUT,
        3: Exclusion.EVENT_LIMIT,
        4: Exclusion.FLOOR,
        5: Exclusion.NO_DISCHARGE_CAPABILITY,
        6: Exclusion.DEPARTURE_NEED,
        7: Exclusion.DEPARTS_DURING_EVENT,
        8: Exclusion.ANNUAL_LIMIT,
    }


def test_v1g_curtails_only_when_departure_target_stays_reachable():
    ev = event(EventKind.LOAD_REDUCTION, hours=2)
    # Needs (80 − 50) % of 131 = 39.3 kWh; 4 h after the event at 11.5 × 0.9 = 41.4 kWh: ok.
    ok = f150(
        1,
        soc=50,
        charging_kw=7.2,
        departure=ev.end + timedelta(hours=4),
        departure_target_soc_pct=80,
    )
    # 3 h after: 31.05 kWh < 39.3 kWh: not curtailed.
    tight = f150(
        2,
        soc=50,
        charging_kw=7.2,
        departure=ev.end + timedelta(hours=3),
        departure_target_soc_pct=80,
    )
    idle = f150(3, charging_kw=0)
    p = plan(ev, [ok, tight, idle])
    (a,) = p.selected
    assert a.vehicle_id == 1 and a.power_kw == 0.0 and a.baseline_kw == 7.2
    assert a.setpoints_kw == pytest.approx((0.0,) * 8)
    assert p.committed_kw == pytest.approx((7.2,) * 8)
    assert p.excluded == {2: Exclusion.DEPARTURE_NEED, 3: Exclusion.NOT_CHARGING}


def test_discharge_credits_the_charging_it_stops_up_to_the_rating():
    # Charging at 7.2 kW, commanded to export 9.6 kW: the grid sees 16.8 kW less load, which
    # M&V (baseline − actual) credits up to the device's rating, the larger of its charge and
    # discharge limits: 11.5 kW. Charging at 1 kW: 10.6 kW. Idle: the export, 9.6 kW.
    ev = event(target_kw=30, reserve_margin=0.0)
    fleet = [f150(1, charging_kw=7.2), f150(2, charging_kw=1.0), f150(3)]
    p = plan(ev, fleet)
    by_id = {a.vehicle_id: a for a in p.selected}
    assert by_id[1].power_kw == -9.6 and by_id[1].baseline_kw == 7.2
    assert by_id[1].setpoints_kw == pytest.approx((-9.6,) * 8)  # the command is the export
    assert by_id[1].contribution_kw == pytest.approx((11.5,) * 8)
    assert by_id[2].contribution_kw == pytest.approx((10.6,) * 8)
    assert by_id[3].contribution_kw == pytest.approx((9.6,) * 8)
    assert p.committed_kw == pytest.approx((31.7,) * 8)


def test_resilience_precharge_charges_to_full_without_overfilling():
    # 90 % of 131 kWh: 13.1 kWh of room → 13.1 / 0.9 / 2 h = 7.28 kW (below 11.5 kW).
    (a,) = plan(event(EventKind.RESILIENCE_PRECHARGE), [f150(1, soc=90)]).selected
    assert a.power_kw == pytest.approx(13.1 / 0.9 / 2)
    assert a.energy_kwh == pytest.approx(13.1)


def test_randomized_start_is_deterministic_and_inside_window():
    ev = event(randomize_start_minutes=10, seed=7)
    fleet = [f150(i) for i in range(50)]
    p1, p2 = plan(ev, fleet), plan(ev, list(reversed(fleet)))
    assert p1 == p2
    offsets = {a.start_offset_minutes for a in p1.selected}
    assert offsets <= set(range(11)) and len(offsets) > 1
    a = p1.selected[0]
    # Active for 120 − offset minutes at 9.6 kW.
    assert sum(a.setpoints_kw) * 0.25 == pytest.approx(-9.6 * (120 - a.start_offset_minutes) / 60)


def test_replan_restores_target_from_reserves():
    fleet = [f150(i, events_this_season=i) for i in range(10)]
    p = plan(event(target_kw=20, reserve_margin=0.1), fleet)
    assert [a.vehicle_id for a in p.selected] == [0, 1, 2]
    r = replan(p, PlanChanges(opted_out=frozenset({0}), offline=frozenset({2, 4})))
    assert r.restore == (0, 2)
    assert r.added == (3, 5)
    assert [a.vehicle_id for a in r.plan.selected] == [1, 3, 5]
    assert r.plan.committed_kw == pytest.approx((28.8,) * 8)
    assert r.plan.excluded[0] == Exclusion.OPTED_OUT_DURING_EVENT
    assert r.plan.excluded[4] == Exclusion.OFFLINE
    assert r.plan.target_met


def test_invalid_events():
    with pytest.raises(ValueError):
        plan(EventInput(kind="v2g_export", start=START, end=START), [])


# --- Properties ------------------------------------------------------------------------------

maybe = st.none() | st.floats(0, 20)


@st.composite
def vehicles(draw, vid):
    src = LimitSource(
        name="mix",
        max_charge_kw=draw(st.floats(0, 20)),
        max_discharge_kw=draw(st.floats(0, 20)),
        soc_floor_pct=draw(st.none() | st.floats(0, 100)),
        events_per_month=draw(st.none() | st.integers(0, 4)),
        max_hours_per_event=draw(st.none() | st.floats(0, 6)),
        annual_discharge_kwh=draw(st.none() | st.floats(0, 500)),
    )
    extra = LimitSource(
        name="other", max_discharge_kw=draw(maybe), soc_floor_pct=draw(st.none() | st.floats(0, 60))
    )
    departs = draw(st.none() | st.floats(-2, 24))
    return VehicleInput(
        vehicle_id=vid,
        limits=combine([src, extra]),
        soc_pct=draw(st.floats(0, 100)),
        usable_battery_kwh=draw(st.floats(10, 220)),
        plugged_in=draw(st.integers(0, 4)) > 0,  # mostly plugged in
        opted_out=draw(st.integers(0, 4)) == 0,
        events_this_season=draw(st.integers(0, 10)),
        events_this_month=draw(st.integers(0, 5)),
        charging_kw=draw(st.floats(0, 20)),
        departure=None if departs is None else START + timedelta(hours=departs),
        departure_target_soc_pct=draw(st.none() | st.floats(0, 100)),
        discharged_this_year_kwh=draw(st.floats(0, 600)),
    )


@st.composite
def fleets(draw):
    n = draw(st.integers(0, 30))
    return [draw(vehicles(i)) for i in range(n)]


events = st.builds(
    lambda kind, minutes, interval, target, margin, spread, seed: EventInput(
        kind=kind,
        start=START,
        end=START + timedelta(minutes=minutes),
        interval_minutes=interval,
        target_kw=target,
        reserve_margin=margin,
        randomize_start_minutes=spread,
        seed=seed,
    ),
    st.sampled_from(list(EventKind)),
    st.integers(1, 360),
    st.sampled_from([5, 15, 30, 60]),
    st.none() | st.floats(0, 30) | st.floats(0, 300),
    st.floats(0, 0.5),
    st.integers(0, 30),
    st.integers(0, 2**31),
)

PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_plan(p, fleet):
    ev = p.event
    kind = EventKind(ev.kind)
    lengths = [ev.interval_length_minutes(i) / 60 for i in range(ev.interval_count)]
    by_id = {v.vehicle_id: v for v in fleet}
    ids = [a.vehicle_id for a in p.selected] + [a.vehicle_id for a in p.reserves]
    assert len(ids) == len(set(ids))
    assert set(ids) | set(p.excluded) == set(by_id)
    assert not set(ids) & set(p.excluded)
    for i, total in enumerate(p.committed_kw):
        assert total == pytest.approx(sum(a.contribution_kw[i] for a in p.selected), abs=EPS)
    for a in p.selected + p.reserves:
        v = by_id[a.vehicle_id]
        lim = v.limits
        assert v.plugged_in and not v.opted_out
        assert v.events_this_month < lim.events_per_month
        assert 0 <= a.start_offset_minutes <= ev.randomize_start_minutes
        assert a.duration_hours <= lim.max_hours_per_event + EPS
        assert len(a.setpoints_kw) == len(p.interval_starts)
        assert all(c >= 0 for c in a.contribution_kw)
        commanded = a.contribution_kw if kind is EventKind.LOAD_REDUCTION else a.setpoints_kw
        active_hours = sum(abs(c) * h for c, h in zip(commanded, lengths, strict=True)) / abs(
            a.power_kw or a.baseline_kw
        )
        assert active_hours <= lim.max_hours_per_event + EPS
        assert v.departure is None or v.departure >= ev.end
        if kind in DISCHARGE_KINDS:
            assert all(-lim.max_discharge_kw - EPS <= s <= 0 for s in a.setpoints_kw)
            # Credited: the export plus the charging it replaces, never above the rating (as
            # M&V credits it), and never less than the export itself.
            rating = max(lim.max_charge_kw, lim.max_discharge_kw)
            for s, c in zip(a.setpoints_kw, a.contribution_kw, strict=True):
                assert -s - EPS <= c <= min(rating, -s + a.baseline_kw) + EPS
            assert a.baseline_kw == pytest.approx(min(max(0.0, v.charging_kw), lim.max_charge_kw))
            floor = max(
                lim.soc_floor_pct, trip_floor_pct(v, event_end=ev.end, efficiency=ev.efficiency)
            )
            soc, out = v.soc_pct, 0.0
            for s, hours in zip(a.setpoints_kw, lengths, strict=True):
                out += -s * hours / ev.efficiency
                soc = v.soc_pct - out / v.usable_battery_kwh * 100
                assert soc >= floor - EPS  # at the end of every interval
            assert v.discharged_this_year_kwh + out <= lim.annual_discharge_kwh + EPS
        elif kind is EventKind.RESILIENCE_PRECHARGE:
            assert all(0 <= s <= lim.max_charge_kw + EPS for s in a.setpoints_kw)
            gained = sum(s * h for s, h in zip(a.setpoints_kw, lengths, strict=True))
            gained *= ev.efficiency
            assert v.soc_pct + gained / v.usable_battery_kwh * 100 <= 100 + EPS
        else:
            assert a.power_kw == 0
            assert all(0 <= s <= lim.max_charge_kw + EPS for s in a.setpoints_kw)
            if v.departure is not None and v.departure_target_soc_pct is not None:
                needed = (v.departure_target_soc_pct - v.soc_pct) / 100 * v.usable_battery_kwh
                after = (v.departure - ev.end).total_seconds() / 3600
                assert needed <= lim.max_charge_kw * after * ev.efficiency + EPS
    goal = p.goal_kw
    for i, total in enumerate(p.committed_kw):
        capacity = sum(a.contribution_kw[i] for a in p.selected + p.reserves)
        if goal is None:
            assert total == pytest.approx(capacity, abs=EPS)
        else:
            assert total >= min(goal, capacity) - EPS


@PROPS
@given(ev=events, fleet=fleets())
def test_no_plan_violates_a_constraint(ev, fleet):
    check_plan(plan(ev, fleet), fleet)


@PROPS
@given(ev=events, fleet=fleets(), seed=st.integers(0, 1000))
def test_plan_is_deterministic_whatever_the_input_order(ev, fleet, seed):
    shuffled = list(fleet)
    random.Random(seed).shuffle(shuffled)
    assert plan(ev, fleet) == plan(ev, shuffled)


@PROPS
@given(ev=events, fleet=fleets(), data=st.data())
def test_replan_keeps_constraints_and_restores_target(ev, fleet, data):
    p = plan(ev, fleet)
    chosen = [a.vehicle_id for a in p.selected + p.reserves]
    gone = data.draw(st.sets(st.sampled_from(chosen)) if chosen else st.just(set()))
    r = replan(p, PlanChanges(rejected=frozenset(gone)))
    check_plan(r.plan, fleet)
    assert set(r.restore) == gone & {a.vehicle_id for a in p.selected}
    assert not gone & {a.vehicle_id for a in r.plan.selected + r.plan.reserves}
    assert all(r.plan.excluded[vid] == Exclusion.REJECTED for vid in gone)
