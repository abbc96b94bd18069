"""The simulation core, without HTTP or a database: physics a fleet simulator must never get
wrong, proven over generated vehicles, commands and time steps."""

from __future__ import annotations

import math
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from devices.simulator.fleet import (
    ChargingState,
    Command,
    CommandStatus,
    Fleet,
    Kind,
    VehicleSpec,
    is_plugged_in,
)

PACIFIC = ZoneInfo("America/Los_Angeles")
# 21:00 in Los Angeles: the schedules below have every vehicle at home.
START = datetime(2026, 7, 1, 4, 0, tzinfo=UTC)


def spec(**overrides) -> VehicleSpec:
    values = {
        "vehicle_id": "veh-1",
        "vin": "1FTVW1EL0NWG00001",
        "usable_battery_kwh": 100.0,
        "max_charge_kw": 10.0,
        "max_discharge_kw": 10.0,
        "soc_floor_pct": 20.0,
        "plugs_in_at": time(18, 0),
        "departs_at": time(7, 30),
        "tz": PACIFIC,
        "trip_kwh": 12.0,
        "target_soc_pct": 90.0,
    }
    values.update(overrides)
    return VehicleSpec(**values)


def command(command_id="c1", *, kind=Kind.DISCHARGE, setpoint_kw=-8.0, start=START, hours=1.0):
    return Command(command_id, "veh-1", kind, setpoint_kw, start, start + timedelta(hours=hours))


def fleet_of(vehicle: VehicleSpec, soc_pct: float, **options) -> Fleet:
    return Fleet.build(
        [vehicle], now=START, initial_soc_pct={vehicle.vehicle_id: soc_pct}, **options
    )


vehicles = st.builds(
    spec,
    usable_battery_kwh=st.floats(20, 200),
    max_charge_kw=st.floats(1, 20),
    max_discharge_kw=st.floats(0, 12),
    soc_floor_pct=st.floats(0, 60),
    plugs_in_at=st.times(),
    departs_at=st.times(),
    trip_kwh=st.floats(0, 40),
    target_soc_pct=st.floats(50, 100),
)
commands = st.lists(
    st.tuples(
        st.sampled_from(list(Kind)),
        st.floats(0.1, 30),  # |set point|
        st.floats(0, 30),  # hours after START
        st.floats(0.1, 12),  # duration in hours
    ),
    max_size=6,
)
steps = st.lists(st.floats(1, 4 * 3600), min_size=1, max_size=30)  # seconds


def build(vehicle, soc_fraction, plan, speed):
    floor = vehicle.soc_floor_pct
    fleet = fleet_of(vehicle, floor + soc_fraction * (100 - floor), speed=speed)
    for index, (kind, magnitude, offset, hours) in enumerate(plan):
        setpoint = -magnitude if kind == Kind.DISCHARGE else magnitude
        c = command(
            f"c{index}",
            kind=kind,
            setpoint_kw=setpoint,
            start=START + timedelta(hours=offset),
            hours=hours,
        )
        if not fleet.admission_problem(c):
            fleet.add(c)
    return fleet


@settings(max_examples=150, deadline=None)
@given(vehicles, st.floats(0, 1), commands, steps, st.sampled_from([1.0, 10.0]))
def test_it_keeps_soc_between_the_floor_and_full(vehicle, soc_fraction, plan, seconds, speed):
    fleet = build(vehicle, soc_fraction, plan, speed)
    for step in seconds:
        readings, _ = fleet.step(fleet.now + timedelta(seconds=step))
        (reading,) = readings
        assert vehicle.soc_floor_pct - 1e-9 <= fleet.states["veh-1"].soc_pct <= 100.0
        assert -vehicle.max_discharge_kw - 1e-6 <= reading.power_kw <= vehicle.max_charge_kw + 1e-6
        if not reading.plugged_in:
            assert reading.power_kw == 0
            assert reading.charging_state == ChargingState.UNPLUGGED


@settings(max_examples=150, deadline=None)
@given(vehicles, st.floats(0, 1), commands, steps, st.sampled_from([1.0, 10.0]))
def test_it_conserves_energy_with_conversion_losses(vehicle, soc_fraction, plan, seconds, speed):
    fleet = build(vehicle, soc_fraction, plan, speed)
    before = fleet.battery_kwh("veh-1")
    for step in seconds:
        fleet.step(fleet.now + timedelta(seconds=step))
    state = fleet.states["veh-1"]
    eta = math.sqrt(0.90)
    expected = before + state.charged_kwh * eta - state.discharged_kwh / eta - state.driven_kwh
    assert math.isclose(fleet.battery_kwh("veh-1"), expected, abs_tol=1e-6)
    # Every kWh through the plug loses some: the grid never gets back more than it gave
    # plus what the battery held.
    assert state.discharged_kwh <= (before + state.charged_kwh * eta) * eta + 1e-6


def test_it_returns_ninety_percent_of_the_energy_round_trip():
    fleet = fleet_of(spec(), 50.0)
    fleet.add(command("charge", kind=Kind.CHARGE, setpoint_kw=10.0, hours=1))
    fleet.add(command("discharge", setpoint_kw=-10.0, start=START + timedelta(hours=1), hours=2))
    fleet.step(START + timedelta(hours=1))
    state = fleet.states["veh-1"]
    assert math.isclose(state.charged_kwh, 10.0)
    assert math.isclose(fleet.battery_kwh("veh-1"), 50.0 + 10.0 * math.sqrt(0.9))
    # Discharging at 10 kW for 0.9 h takes out of the battery exactly what the charge put in.
    fleet.step(START + timedelta(hours=1.9))
    assert math.isclose(fleet.battery_kwh("veh-1"), 50.0)
    assert math.isclose(state.discharged_kwh, 9.0)


def test_it_stops_discharging_at_the_floor():
    fleet = fleet_of(spec(soc_floor_pct=30.0), 32.0)
    fleet.add(command(setpoint_kw=-10.0, hours=2))
    readings, _ = fleet.step(START + timedelta(hours=1))
    assert math.isclose(readings[0].soc_pct, 30.0)
    assert readings[0].power_kw == 0
    assert readings[0].charging_state == ChargingState.IDLE


def test_it_discharges_no_faster_than_the_vehicle_allows():
    fleet = fleet_of(spec(max_discharge_kw=9.6), 80.0)
    fleet.add(command(setpoint_kw=-50.0))
    readings, _ = fleet.step(START + timedelta(minutes=30))
    assert readings[0].power_kw == -9.6
    assert math.isclose(fleet.states["veh-1"].discharged_kwh, 4.8)


def test_it_charges_unmanaged_to_the_target_when_no_command_applies():
    fleet = fleet_of(spec(target_soc_pct=80.0), 79.0)
    readings, _ = fleet.step(START + timedelta(hours=1))
    assert math.isclose(readings[0].soc_pct, 80.0)


def test_it_holds_at_zero_while_curtailed_and_resumes_after():
    fleet = fleet_of(spec(), 50.0)
    fleet.add(command(kind=Kind.CURTAIL, setpoint_kw=0.0, hours=1))
    readings, _ = fleet.step(START + timedelta(minutes=30))
    assert readings[0].power_kw == 0
    assert readings[0].soc_pct == 50.0
    readings, events = fleet.step(START + timedelta(hours=1, minutes=30))
    assert readings[0].power_kw == 10.0
    assert [(e.command.command_id, e.status) for e in events] == [("c1", CommandStatus.COMPLETED)]


def test_it_fails_a_command_for_a_vehicle_that_was_never_plugged_in():
    away = spec(plugs_in_at=time(23, 0), departs_at=time(23, 30))  # home 30 min a day
    fleet = fleet_of(away, 60.0)
    fleet.add(command(setpoint_kw=-5.0, hours=1))
    readings, events = fleet.step(START + timedelta(hours=1))
    assert readings[0].plugged_in is False
    assert fleet.states["veh-1"].discharged_kwh == 0
    assert [(e.status, e.reason) for e in events] == [(CommandStatus.FAILED, "not_plugged_in")]


def test_it_uses_the_trip_energy_when_the_vehicle_comes_home():
    fleet = fleet_of(spec(trip_kwh=12.0, target_soc_pct=50.0), 50.0)
    # 21:00 → next day 17:00 (away from 07:30) → 19:00 (home again).
    fleet.step(START + timedelta(hours=20))
    assert fleet.states["veh-1"].plugged_in is False
    fleet.step(START + timedelta(hours=22))
    assert math.isclose(fleet.states["veh-1"].driven_kwh, 12.0)


def test_it_opts_out_when_the_window_starts():
    fleet = fleet_of(spec(), 70.0)
    fleet.add(command(start=START + timedelta(minutes=10)), opts_out=True)
    _, events = fleet.step(START + timedelta(minutes=5))
    assert events == []
    _, events = fleet.step(START + timedelta(minutes=20))
    assert [(e.status, e.reason) for e in events] == [
        (CommandStatus.OPTED_OUT, "customer_override")
    ]
    assert fleet.states["veh-1"].discharged_kwh == 0


def test_it_explains_what_it_cannot_do():
    fleet = fleet_of(spec(max_discharge_kw=0.0), 70.0)
    assert fleet.admission_problem(command()) == "discharge_not_supported"
    assert fleet.admission_problem(command(kind=Kind.CHARGE, setpoint_kw=-1)) == "invalid_setpoint"
    assert fleet.admission_problem(command(hours=-1)) == "invalid_window"
    assert fleet.admission_problem(command(start=START - timedelta(hours=2))) == "window_ended"
    unknown = Command("x", "nope", Kind.CURTAIL, 0, START, START + timedelta(hours=1))
    assert fleet.admission_problem(unknown) == "unknown_vehicle"


def test_it_follows_the_daily_schedule_in_local_time():
    vehicle = spec()
    assert is_plugged_in(vehicle, datetime(2026, 7, 1, 18, 0, tzinfo=PACIFIC))
    assert is_plugged_in(vehicle, datetime(2026, 7, 2, 7, 29, tzinfo=PACIFIC))
    assert not is_plugged_in(vehicle, datetime(2026, 7, 2, 7, 30, tzinfo=PACIFIC))
    assert not is_plugged_in(vehicle, datetime(2026, 7, 2, 12, 0, tzinfo=PACIFIC))
