"""The simulated vehicles: pure Python, no HTTP, no database, no clock of its own.

``Fleet.step(to)`` advances every vehicle from the fleet's current time to ``to``:

* plugged in by a daily schedule in the vehicle's local time (home at ``plugs_in_at``,
  leaves at ``departs_at``); a vehicle that is not plugged in delivers nothing;
* on arrival home, the day's trip has used ``trip_kwh`` (never below the SoC floor: a
  driver who needs more charges elsewhere);
* plugged in with no command, or under ``restore``: unmanaged charging at full power up to
  ``target_soc_pct``; ``charge`` at the set point up to 100 %; ``curtail`` holds at 0 kW;
  ``discharge`` exports at the set point down to the SoC floor;
* power never exceeds the vehicle's own limits, and every kWh through the plug passes the
  charger/inverter one way with efficiency √(round-trip efficiency).

Energy is conserved exactly: ``battery_kwh`` changes by charged × η − discharged ÷ η −
driven. ``speed`` multiplies energy flow only (a demo knob): time stays the wall clock, so
telemetry timestamps are real.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, tzinfo

ROUND_TRIP_EFFICIENCY = 0.90
MAX_SUBSTEP = timedelta(seconds=60)
EPSILON_KWH = 1e-9


class Kind(enum.StrEnum):
    CHARGE = "charge"
    DISCHARGE = "discharge"
    CURTAIL = "curtail"
    RESTORE = "restore"


class ChargingState(enum.StrEnum):
    CHARGING = "charging"
    DISCHARGING = "discharging"
    IDLE = "idle"
    UNPLUGGED = "unplugged"


class CommandStatus(enum.StrEnum):
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    FAILED = "failed"
    OPTED_OUT = "opted_out"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class VehicleSpec:
    vehicle_id: str  # the automaker's id
    vin: str
    usable_battery_kwh: float
    max_charge_kw: float
    max_discharge_kw: float  # 0 for a vehicle that cannot export
    soc_floor_pct: float
    plugs_in_at: time  # local
    departs_at: time  # local
    tz: tzinfo
    trip_kwh: float = 10.0
    target_soc_pct: float = 90.0


@dataclass(frozen=True)
class Command:
    command_id: str
    vehicle_id: str
    kind: Kind
    setpoint_kw: float  # + charge, − discharge
    starts_at: datetime
    ends_at: datetime
    event_id: str = ""


@dataclass
class VehicleState:
    soc_pct: float
    plugged_in: bool
    power_kw: float = 0.0  # at the plug: + charging, − discharging
    charged_kwh: float = 0.0  # drawn from the grid
    discharged_kwh: float = 0.0  # delivered to the grid
    driven_kwh: float = 0.0  # taken from the battery by trips


@dataclass
class TrackedCommand:
    command: Command
    sequence: int  # later commands win where windows overlap
    status: CommandStatus = CommandStatus.ACCEPTED
    opts_out: bool = False  # the driver will opt out when the window starts
    was_plugged_in: bool = False


@dataclass(frozen=True)
class Reading:
    vehicle_id: str
    vin: str
    ts: datetime
    soc_pct: float
    power_kw: float
    plugged_in: bool
    charging_state: ChargingState


@dataclass(frozen=True)
class CommandEvent:
    """A command finished: completed, failed (with a reason) or opted out by the driver."""

    command: Command
    status: CommandStatus
    at: datetime
    reason: str = ""


def is_plugged_in(spec: VehicleSpec, at: datetime) -> bool:
    """Home (and plugged in) from ``plugs_in_at`` to ``departs_at``, local time; the same
    time for both means it never leaves (a depot, a demo)."""
    local = at.astimezone(spec.tz).time()
    if spec.plugs_in_at == spec.departs_at:
        return True
    if spec.plugs_in_at > spec.departs_at:  # home overnight
        return local >= spec.plugs_in_at or local < spec.departs_at
    return spec.plugs_in_at <= local < spec.departs_at


@dataclass
class Fleet:
    vehicles: Mapping[str, VehicleSpec]  # by vehicle id
    now: datetime
    states: dict[str, VehicleState] = field(default_factory=dict)
    round_trip_efficiency: float = ROUND_TRIP_EFFICIENCY
    speed: float = 1.0
    commands: dict[str, TrackedCommand] = field(default_factory=dict)  # by command id
    # Accepted commands not yet finished, by vehicle: what each step has to look at.
    open_commands: dict[str, dict[str, TrackedCommand]] = field(default_factory=dict)
    _sequence: int = 0

    @classmethod
    def build(
        cls,
        specs: Iterable[VehicleSpec],
        *,
        now: datetime,
        initial_soc_pct: Mapping[str, float],
        round_trip_efficiency: float = ROUND_TRIP_EFFICIENCY,
        speed: float = 1.0,
    ) -> Fleet:
        vehicles = {spec.vehicle_id: spec for spec in specs}
        states = {
            vid: VehicleState(
                soc_pct=min(100.0, max(0.0, initial_soc_pct[vid])),
                plugged_in=is_plugged_in(spec, now),
            )
            for vid, spec in vehicles.items()
        }
        return cls(
            vehicles=vehicles,
            now=now,
            states=states,
            round_trip_efficiency=round_trip_efficiency,
            speed=speed,
        )

    @property
    def efficiency(self) -> float:
        """One way through the charger or inverter."""
        return math.sqrt(self.round_trip_efficiency)

    def battery_kwh(self, vehicle_id: str) -> float:
        return (
            self.states[vehicle_id].soc_pct / 100.0 * self.vehicles[vehicle_id].usable_battery_kwh
        )

    # --- Commands ---------------------------------------------------------------------------

    def admission_problem(self, command: Command) -> str:
        """Why this command cannot be carried out (a stable code), or "" if it can."""
        spec = self.vehicles.get(command.vehicle_id)
        if spec is None:
            return "unknown_vehicle"
        if command.ends_at <= command.starts_at:
            return "invalid_window"
        if command.ends_at <= self.now:
            return "window_ended"
        if command.kind == Kind.DISCHARGE:
            if spec.max_discharge_kw <= 0:
                return "discharge_not_supported"
            if command.setpoint_kw >= 0:
                return "invalid_setpoint"
        if command.kind == Kind.CHARGE and command.setpoint_kw <= 0:
            return "invalid_setpoint"
        return ""

    def add(self, command: Command, *, opts_out: bool = False) -> None:
        """Carry out an admitted command (see ``admission_problem``)."""
        self._sequence += 1
        tracked = TrackedCommand(command=command, sequence=self._sequence, opts_out=opts_out)
        self.commands[command.command_id] = tracked
        self.open_commands.setdefault(command.vehicle_id, {})[command.command_id] = tracked

    def cancel(self, command_id: str) -> bool:
        tracked = self.commands.get(command_id)
        if tracked is None or tracked.status != CommandStatus.ACCEPTED:
            return False
        self._close(tracked, CommandStatus.CANCELLED)
        return True

    def _close(self, tracked: TrackedCommand, status: CommandStatus) -> None:
        tracked.status = status
        self.open_commands[tracked.command.vehicle_id].pop(tracked.command.command_id, None)

    def _open(self) -> list[TrackedCommand]:
        return [t for by_id in self.open_commands.values() for t in by_id.values()]

    def _active_command(self, vehicle_id: str, at: datetime) -> TrackedCommand | None:
        best = None
        for tracked in self.open_commands.get(vehicle_id, {}).values():
            c = tracked.command
            if c.starts_at <= at < c.ends_at and (best is None or tracked.sequence > best.sequence):
                best = tracked
        return best

    # --- Time -------------------------------------------------------------------------------

    def step(self, to: datetime) -> tuple[list[Reading], list[CommandEvent]]:
        """Advance to ``to``; return a reading per vehicle at ``to`` and the commands that
        finished on the way."""
        events: list[CommandEvent] = []
        while self.now < to:
            end = min(to, self.now + MAX_SUBSTEP)
            events += self._opt_outs(self.now)
            for vehicle_id in self.vehicles:
                self._advance(vehicle_id, self.now, end)
            self.now = end
            events += self._finished(end)
        readings = [self._reading(vehicle_id) for vehicle_id in self.vehicles]
        return readings, events

    def _opt_outs(self, at: datetime) -> list[CommandEvent]:
        events = []
        for tracked in self._open():
            c = tracked.command
            if tracked.opts_out and c.starts_at <= at:
                self._close(tracked, CommandStatus.OPTED_OUT)
                events.append(CommandEvent(c, CommandStatus.OPTED_OUT, at, "customer_override"))
        return events

    def _finished(self, at: datetime) -> list[CommandEvent]:
        events = []
        for tracked in self._open():
            c = tracked.command
            if c.ends_at > at:
                continue
            if tracked.was_plugged_in:
                self._close(tracked, CommandStatus.COMPLETED)
                events.append(CommandEvent(c, CommandStatus.COMPLETED, c.ends_at))
            else:
                self._close(tracked, CommandStatus.FAILED)
                events.append(CommandEvent(c, CommandStatus.FAILED, c.ends_at, "not_plugged_in"))
        return events

    def _advance(self, vehicle_id: str, start: datetime, end: datetime) -> None:
        spec, state = self.vehicles[vehicle_id], self.states[vehicle_id]
        plugged = is_plugged_in(spec, start)
        if plugged and not state.plugged_in:
            self._drive_home(spec, state)
        state.plugged_in = plugged
        hours = (end - start).total_seconds() / 3600.0 * self.speed
        if not plugged or hours <= 0:
            state.power_kw = 0.0
            return
        active = self._active_command(vehicle_id, start)
        if active is not None:
            active.was_plugged_in = True
        kw, ceiling_pct = self._wanted(spec, active)
        capacity = spec.usable_battery_kwh
        battery = state.soc_pct / 100.0 * capacity
        eta = self.efficiency
        if kw > 0:
            room = max(0.0, ceiling_pct / 100.0 * capacity - battery)
            grid_kwh = min(kw * hours, room / eta)
            battery += grid_kwh * eta
            state.charged_kwh += grid_kwh
            state.power_kw = grid_kwh / hours
        elif kw < 0:
            available = max(0.0, battery - spec.soc_floor_pct / 100.0 * capacity)
            grid_kwh = min(-kw * hours, available * eta)
            battery -= grid_kwh / eta
            state.discharged_kwh += grid_kwh
            state.power_kw = -grid_kwh / hours
        else:
            state.power_kw = 0.0
        state.soc_pct = min(100.0, max(0.0, battery / capacity * 100.0))
        if abs(state.power_kw) < EPSILON_KWH:
            state.power_kw = 0.0

    def _wanted(self, spec: VehicleSpec, active: TrackedCommand | None) -> tuple[float, float]:
        """(power at the plug, SoC ceiling for charging) the vehicle aims for now."""
        if active is None or active.command.kind == Kind.RESTORE:
            return spec.max_charge_kw, spec.target_soc_pct
        c = active.command
        if c.kind == Kind.CHARGE:
            return min(c.setpoint_kw, spec.max_charge_kw), 100.0
        if c.kind == Kind.DISCHARGE:
            return -min(-c.setpoint_kw, spec.max_discharge_kw), 100.0
        return 0.0, 100.0  # curtail

    @staticmethod
    def _drive_home(spec: VehicleSpec, state: VehicleState) -> None:
        capacity = spec.usable_battery_kwh
        battery = state.soc_pct / 100.0 * capacity
        used = min(spec.trip_kwh, max(0.0, battery - spec.soc_floor_pct / 100.0 * capacity))
        state.driven_kwh += used
        state.soc_pct = max(0.0, (battery - used) / capacity * 100.0)

    def _reading(self, vehicle_id: str) -> Reading:
        spec, state = self.vehicles[vehicle_id], self.states[vehicle_id]
        if not state.plugged_in:
            charging_state = ChargingState.UNPLUGGED
        elif state.power_kw > 0:
            charging_state = ChargingState.CHARGING
        elif state.power_kw < 0:
            charging_state = ChargingState.DISCHARGING
        else:
            charging_state = ChargingState.IDLE
        return Reading(
            vehicle_id=vehicle_id,
            vin=spec.vin,
            ts=self.now,
            soc_pct=round(state.soc_pct, 3),
            # Toward zero: a reading rounded up past the rating would be refused as impossible.
            power_kw=math.trunc(state.power_kw * 1000) / 1000,
            plugged_in=state.plugged_in,
            charging_state=charging_state,
        )
