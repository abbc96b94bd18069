"""Events that follow their target interval by interval (issue 14, point 7): the profile read
from OpenADR intervals, the planner's per-interval goals, a command per interval, the
measurement's target per interval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dispatch.execution.commands import command_specs
from dispatch.grid.oadr2b_profile import shifted_profile, target_profile
from dispatch.grid.oadr2b_xml import Interval, Signal, VtnEvent
from dispatch.measurement.intervals import target_kw
from dispatch.models import Event
from dispatch.planning.planner import EventInput, EventKind, Step, plan, replan
from dispatch.planning.profile import step_shares
from tests.dispatch.test_planning import f150

START = datetime(2026, 7, 15, 17, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def steps(*targets, minutes=15):
    return tuple(
        Step(START + i * minutes * MIN, START + (i + 1) * minutes * MIN, t)
        for i, t in enumerate(targets)
    )


def profiled(*targets, minutes=15, **kw):
    return EventInput(
        kind=EventKind.V2G_EXPORT,
        start=START,
        end=START + len(targets) * minutes * MIN,
        steps=steps(*targets, minutes=minutes),
        **kw,
    )


def per_step(specs, event):
    """kW commanded in each step (the sum of the setpoints in force at its middle)."""
    totals = []
    for step in event.steps:
        middle = step.start + (step.end - step.start) / 2
        totals.append(-sum(s.setpoint_kw for s in specs if s.starts_at <= middle < s.ends_at))
    return totals


def test_the_planner_sizes_the_fleet_for_the_highest_interval():
    event = profiled(30, 80, 10)
    result = plan(event, [f150(i) for i in range(20)])

    assert event.interval_goals_kw == pytest.approx((33.0, 88.0, 11.0))
    assert len(result.selected) == 10  # 9.6 kW each: 88 kW needs 10
    assert result.target_met


def test_each_vehicle_s_commands_follow_the_interval_targets():
    event = profiled(30, 80, 10)
    result = plan(event, [f150(i) for i in range(20)])

    specs = command_specs(result, EventKind.V2G_EXPORT)

    assert len(specs) == 3 * len(result.selected)  # one command per vehicle and interval
    low, high, last = per_step(specs, event)
    assert 33.0 - 0.1 <= low <= 34.0  # 30 kW + reserve margin, not the fleet's 96 kW
    assert high == pytest.approx(96.0, abs=0.01)  # the full fleet for the 80 kW interval
    assert 11.0 - 0.1 <= last <= 12.0
    assert {s.sequence for s in specs} == {0, 1, 2}


def test_an_interval_that_asks_for_nothing_gets_no_command():
    event = profiled(50, 0, 50)
    result = plan(event, [f150(i) for i in range(10)])

    specs = command_specs(result, EventKind.V2G_EXPORT)

    assert step_shares(event, result.committed_kw) == (1.0, 0.0, 1.0)
    assert per_step(specs, event)[1] == 0
    assert {s.sequence for s in specs} == {0, 2}
    assert result.committed_kw[1] >= 0  # capacity is still counted; nothing is commanded


def test_an_all_available_interval_runs_everyone_at_full_power():
    event = profiled(None, 20)
    result = plan(event, [f150(i) for i in range(6)])

    assert event.interval_goals_kw == (float("inf"), pytest.approx(22.0))
    assert len(result.selected) == 6  # every vehicle, for the all-available interval
    specs = command_specs(result, EventKind.V2G_EXPORT)
    everyone, limited = per_step(specs, event)
    assert everyone == pytest.approx(6 * 9.6, abs=0.01)
    assert 22.0 - 0.1 <= limited <= 23.0


def test_a_replan_brings_reserves_in_for_the_interval_that_falls_short():
    event = profiled(10, 40)
    result = plan(event, [f150(i) for i in range(10)])
    dropped = result.selected[0].vehicle_id

    again = replan(result, {dropped: "offline"})

    assert again.plan.target_met
    assert len(again.added) == 1 and dropped in again.restore


def test_a_single_target_keeps_one_command_per_vehicle():
    event = EventInput(kind=EventKind.V2G_EXPORT, start=START, end=START + 45 * MIN, target_kw=30)
    result = plan(event, [f150(i) for i in range(10)])

    specs = command_specs(result, EventKind.V2G_EXPORT)

    assert step_shares(event, result.committed_kw) == ()
    assert len(specs) == len(result.selected) == 4
    assert {s.sequence for s in specs} == {0}


def _vtn_event(*signals, minutes=45):
    return VtnEvent(
        event_id="e",
        modification_number=0,
        market_context="oadr://iso/peak",
        status="far",
        starts_at=START,
        duration=minutes * MIN,
        signals=signals,
    )


def _signal(name, values, *, minutes=15, units="W", scale="k"):
    intervals = tuple(
        Interval(starts_at=START + i * minutes * MIN, duration=minutes * MIN, value=v)
        for i, v in enumerate(values)
    )
    return Signal(name=name, signal_type="x", intervals=intervals, units=units, scale=scale)


def test_the_profile_follows_each_interval_with_the_scale_code_applied():
    rows = target_profile(_vtn_event(_signal("LOAD_DISPATCH", (30, 80, 10))))

    assert [(r["offset_minutes"], r["duration_minutes"], r["target_kw"]) for r in rows] == [
        (0, 15, 30.0),
        (15, 15, 80.0),
        (30, 15, 10.0),
    ]


def test_simple_levels_give_all_available_nothing_or_an_emergency_per_interval():
    rows = target_profile(_vtn_event(_signal("SIMPLE", (1, 0, 3), scale="none", units="")))

    assert [(r["target_kw"], r["level"]) for r in rows] == [(None, 1), (0.0, 0), (None, 3)]


def test_equal_intervals_merge_and_a_late_start_shifts_the_profile():
    rows = target_profile(_vtn_event(_signal("LOAD_DISPATCH", (20, 20, 60))))
    assert [(r["offset_minutes"], r["duration_minutes"]) for r in rows] == [(0, 30), (30, 15)]

    left = shifted_profile(rows, by_minutes=20, duration_minutes=25)

    assert [(r["offset_minutes"], r["duration_minutes"], r["target_kw"]) for r in left] == [
        (0, 10, 20.0),
        (10, 15, 60.0),
    ]


def _event(profile, *, minutes=45, target=80.0, **fields):
    event = Event(
        starts_at=START, duration_minutes=minutes, target_kw=target, target_profile=profile,
        event_type=Event.Type.V2G_EXPORT, notification_lead_minutes=0, **fields,
    )  # fmt: skip
    event.refresh_times()
    return event


PROFILE = [
    {"offset_minutes": 0, "duration_minutes": 15, "target_kw": 30.0, "level": 1},
    {"offset_minutes": 15, "duration_minutes": 15, "target_kw": 80.0, "level": 3},
    {"offset_minutes": 30, "duration_minutes": 15, "target_kw": 10.0, "level": 1},
]


def test_an_event_is_an_emergency_only_while_its_level_3_interval_runs():
    event = _event(PROFILE)

    assert not event.emergency_at(START + 5 * MIN)
    assert event.emergency_at(START + 20 * MIN)
    assert not event.emergency_at(START + 40 * MIN)
    assert [s.emergency for s in event.profile_steps()] == [False, True, False]


def test_an_extension_lengthens_the_last_interval_and_an_early_end_cuts_the_profile():
    extended = _event(PROFILE, extended_minutes=15)
    assert extended.profile_steps()[-1].ends_at == START + 60 * MIN

    ended = _event(PROFILE, ended_early_at=START + 20 * MIN)
    assert [s.ends_at for s in ended.profile_steps()] == [START + 15 * MIN, START + 20 * MIN]


def test_the_measured_target_follows_the_intervals():
    event = _event(PROFILE)

    assert target_kw(event, START, START + 15 * MIN) == 30.0
    assert target_kw(event, START + 15 * MIN, START + 30 * MIN) == 80.0
    assert target_kw(event, START + 10 * MIN, START + 20 * MIN) == pytest.approx(55.0)
    assert target_kw(_event([]), START, START + 15 * MIN) == 80.0  # one target throughout
