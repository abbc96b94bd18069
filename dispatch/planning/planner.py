"""Constraint-aware dispatch planning: pure functions over plain values.

No ORM here: callers load ``EffectiveLimits`` in bulk (``devices.limits.limits_for_vehicles``)
and the latest vehicle state, build one ``VehicleInput`` per vehicle and call ``plan``. That
keeps planning 100,000 vehicles well inside 5 s and makes every rule testable in isolation.

Sign conventions (every kW is at the grid side of the charger):

* Discharge events (``v2h_home_supply``, ``v2g_export``, ``emergency``): ``power_kw`` and
  ``setpoints_kw`` are **negative** (export / home supply). The battery gives up
  ``|kW| × hours / efficiency``.
* ``resilience_precharge``: ``power_kw`` and ``setpoints_kw`` are **positive** (charging). The
  battery gains ``kW × hours × efficiency``.
* ``load_reduction`` (V1G): ``power_kw`` is the charging setpoint while curtailed, always
  ``0.0`` (charging paused); ``setpoints_kw`` are the interval-average *charging* setpoints
  (``baseline × (1 − curtailed fraction of the interval)``), never negative.

``setpoints_kw[i]`` is the average kW over interval ``i`` (a vehicle whose randomized start
or hour cap falls inside an interval averages its command over the part it is active), so
``setpoint × interval hours`` is exactly the energy of that interval (the last interval ends
with the event: ``EventInput.interval_length_minutes``). ``contribution_kw[i]``
is what the vehicle counts toward the target in interval ``i``, always ≥ 0: for discharge
events the load it takes off the grid — kW exported plus the charging it stops
(``charging_kw``, its current charging, which the command replaces), at most the device's
rating, as measurement and verification credits it (baseline − actual, capped at the rating);
kW charged for pre-charge; kW of charging deferred for V1G.

Allocation: eligible vehicles are ordered fairly (fewest events this season first, then most
energy to offer, then vehicle id) and added while some interval's committed kW is still below
``target × (1 + reserve_margin)``; a vehicle that adds nothing to a short interval stays in
reserve. With ``target_kw=None`` every eligible vehicle is dispatched. Hence, per interval,
committed ≥ min(goal, everything the eligible fleet could give in that interval).

Target profiles (``EventInput.steps``, an event whose target changes from one interval to the
next): each planning interval's goal is the highest step goal it overlaps, so the fleet is
sized interval by interval (for the highest one overall); ``step_shares`` then gives the share
of its planned power each dispatched vehicle runs at in each step, so what is commanded
follows each step's target rather than the highest. The energy, floor and trip checks stay
those of full power throughout: a vehicle asked for less only keeps more in its battery.

Eligibility is the same for every kind: plugged in (or expected to be at the start), not
opted out, under ``events_per_month`` (applied to pre-charge and V1G too, to be safe), some
hours allowed per event, and not departing before the event ends. The trip floor (SoC needed
at the event's end to reach the departure target by recharging at ``max_charge_kw``) is
computed at the event's end even when the hour cap stops the vehicle earlier: conservative.
"""

from __future__ import annotations

import functools
import math
import zlib
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from devices.limits import EffectiveLimits

DEFAULT_EFFICIENCY = 0.9
MIN_SETPOINT_KW = 0.1  # below this a command is not worth sending
_EPS = 1e-9


class EventKind(StrEnum):
    V2H_HOME_SUPPLY = "v2h_home_supply"
    V2G_EXPORT = "v2g_export"
    EMERGENCY = "emergency"
    LOAD_REDUCTION = "load_reduction"  # V1G curtailment
    RESILIENCE_PRECHARGE = "resilience_precharge"


DISCHARGE_KINDS = frozenset({EventKind.V2H_HOME_SUPPLY, EventKind.V2G_EXPORT, EventKind.EMERGENCY})


class Exclusion(StrEnum):
    NOT_PLUGGED_IN = "not plugged in"
    OPTED_OUT = "opted out"
    EVENT_LIMIT = "monthly event limit reached"
    NO_HOURS = "no hours allowed per event"
    DEPARTS_DURING_EVENT = "departs before the event ends"
    NO_DISCHARGE_CAPABILITY = "no discharge capability"
    NO_CHARGE_CAPABILITY = "no charge capability"
    FLOOR = "at or near its SoC floor"
    DEPARTURE_NEED = "energy needed for the next trip"
    ANNUAL_LIMIT = "annual discharge limit reached"
    FULL = "battery already full"
    NOT_CHARGING = "not charging (nothing to curtail)"
    # Set by replan:
    REJECTED = "command rejected"
    OFFLINE = "offline"
    OPTED_OUT_DURING_EVENT = "opted out during the event"
    COMMAND_FAILED = "command failed"
    UNDERDELIVERING = "not delivering (telemetry shortfall)"


@dataclass(frozen=True)
class Step:
    """One interval of the event's target profile (``Event.profile_steps``)."""

    start: datetime
    end: datetime
    target_kw: float | None  # None: everything available; 0: nothing in this interval


@dataclass(frozen=True)
class EventInput:
    kind: EventKind | str
    start: datetime
    end: datetime
    interval_minutes: int = 15
    target_kw: float | None = None  # None: everything available
    reserve_margin: float = 0.1  # fraction over target to commit
    randomize_start_minutes: int = 0
    seed: int = 0
    efficiency: float = DEFAULT_EFFICIENCY
    charge_target_soc_pct: float = 100.0  # resilience pre-charge: charge up to this SoC
    # The target interval by interval; empty: ``target_kw`` throughout. With several steps
    # each planning interval's goal is the highest step goal it overlaps.
    steps: tuple[Step, ...] = ()

    @property
    def window_minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60.0

    @property
    def interval_count(self) -> int:
        return max(1, math.ceil(self.window_minutes / self.interval_minutes - _EPS))

    def interval_length_minutes(self, i: int) -> float:
        """Interval ``i``'s length: the last one ends with the event, so may be shorter."""
        lo = i * self.interval_minutes
        return max(0.0, min(lo + self.interval_minutes, self.window_minutes) - lo)

    def _goal(self, target_kw: float | None) -> float | None:
        if target_kw is None:
            return None
        return max(0.0, target_kw) * (1.0 + max(0.0, self.reserve_margin))

    @property
    def goal_kw(self) -> float | None:
        """The highest goal of the event (its only one without a profile); None: all."""
        if not self.steps:
            return self._goal(self.target_kw)
        goals = [self._goal(s.target_kw) for s in self.steps]
        return None if None in goals else max(goals)

    def step_goal_kw(self, step: Step) -> float:
        goal = self._goal(step.target_kw)
        return math.inf if goal is None else goal

    def interval_bounds(self, i: int) -> tuple[datetime, datetime]:
        lo = self.start + timedelta(minutes=i * self.interval_minutes)
        return lo, lo + timedelta(minutes=self.interval_length_minutes(i))

    @property
    def interval_goals_kw(self) -> tuple[float, ...] | None:
        """Each planning interval's goal (``math.inf``: everything available; 0: nothing);
        None when every interval takes everything available."""
        if not self.steps:
            goal = self.goal_kw
            return None if goal is None else (goal,) * self.interval_count
        goals = []
        for i in range(self.interval_count):
            lo, hi = self.interval_bounds(i)
            overlapping = [self.step_goal_kw(s) for s in self.steps if s.start < hi and s.end > lo]
            goals.append(max(overlapping, default=0.0))
        return None if all(g == math.inf for g in goals) else tuple(goals)


@dataclass(frozen=True, slots=True)
class VehicleInput:
    vehicle_id: Hashable  # ints or strings, one type per fleet (it breaks sort ties)
    limits: EffectiveLimits
    soc_pct: float
    usable_battery_kwh: float
    plugged_in: bool = True  # plugged in now, or expected to be at the event's start
    opted_out: bool = False
    events_this_season: int = 0
    events_this_month: int = 0
    charging_kw: float = 0.0  # current / baseline charging (V1G curtailment)
    departure: datetime | None = None
    departure_target_soc_pct: float | None = None
    discharged_this_year_kwh: float = 0.0  # against limits.annual_discharge_kwh


@dataclass(frozen=True, slots=True)
class Assignment:
    vehicle_id: Hashable
    power_kw: float  # the command while active (sign convention in the module docstring)
    start_offset_minutes: int  # randomized start, minutes after the event start
    duration_hours: float  # active from start + offset for this long (≤ max_hours_per_event)
    setpoints_kw: tuple[float, ...]  # interval-average setpoint
    contribution_kw: tuple[float, ...]  # kW counted toward the target, ≥ 0
    energy_kwh: float  # battery energy out (discharge) / in (charge) / deferred (V1G)
    baseline_kw: float = 0.0  # the charging kW stopped (V1G: curtailed; discharge: replaced)
    events_this_season: int = 0
    available_kwh: float = 0.0  # what it could give: above floor / room to fill / deferred


@dataclass(frozen=True)
class Plan:
    event: EventInput
    interval_starts: tuple[datetime, ...]
    selected: tuple[Assignment, ...]  # dispatched, in allocation order
    reserves: tuple[Assignment, ...]  # eligible, not dispatched, in replacement order
    committed_kw: tuple[float, ...]  # sum of the selected contributions per interval
    excluded: dict[Hashable, Exclusion] = field(default_factory=dict)

    @property
    def goal_kw(self) -> float | None:
        return self.event.goal_kw

    @property
    def target_met(self) -> bool:
        goals = self.event.interval_goals_kw
        if goals is None:
            return True
        return all(c >= g - 1e-6 for c, g in zip(self.committed_kw, goals, strict=True))

    def assignment(self, vehicle_id: Hashable) -> Assignment | None:
        for a in self.selected:
            if a.vehicle_id == vehicle_id:
                return a
        return None


@dataclass(frozen=True)
class PlanChanges:
    opted_out: frozenset = frozenset()
    rejected: frozenset = frozenset()
    offline: frozenset = frozenset()


@dataclass(frozen=True)
class Replan:
    plan: Plan
    restore: tuple[Hashable, ...]  # removed dispatched vehicles: send them restore commands
    added: tuple[Hashable, ...]  # reserves brought in: send them the event's commands


# --- Per-vehicle evaluation --------------------------------------------------------------


def start_offset_minutes(event: EventInput, vehicle_id: Hashable) -> int:
    """Deterministic for (seed, vehicle): independent of the fleet, stable across replans."""
    spread = min(int(event.randomize_start_minutes), int(math.ceil(event.window_minutes)) - 1)
    if spread <= 0:
        return 0
    digest = zlib.crc32(f"{event.seed}:{vehicle_id}".encode())
    return digest % (spread + 1)


def trip_floor_pct(vehicle: VehicleInput, *, event_end: datetime, efficiency: float) -> float:
    """The SoC needed at the event's end so that recharging at full power until departure
    still reaches the departure target. 0 when no departure is known."""
    if vehicle.departure is None or vehicle.departure_target_soc_pct is None:
        return 0.0
    if vehicle.usable_battery_kwh <= 0:
        return 0.0
    hours = max(0.0, (vehicle.departure - event_end).total_seconds() / 3600.0)
    recharge_pct = (
        vehicle.limits.max_charge_kw * hours * efficiency / vehicle.usable_battery_kwh * 100.0
    )
    return vehicle.departure_target_soc_pct - recharge_pct


@functools.lru_cache(maxsize=4096)
def _profile(event: EventInput, offset: float, duration_minutes: float) -> tuple[float, ...]:
    """Fraction of each interval during which the vehicle is active (of the interval's own
    length: a last interval cut short by the event's end counts only its part). Cached:
    vehicles of one event share a few (offset, duration) pairs."""
    begin, finish = offset, offset + duration_minutes
    fractions = []
    for i in range(event.interval_count):
        lo = i * event.interval_minutes
        length = event.interval_length_minutes(i)
        overlap = min(lo + length, finish) - max(lo, begin)
        fractions.append(min(1.0, overlap / length) if overlap > 0 and length > 0 else 0.0)
    return tuple(fractions)


def evaluate(event: EventInput, vehicle: VehicleInput) -> Assignment | Exclusion:
    """What this vehicle could do for the event, or why it cannot take part."""
    limits = vehicle.limits
    if vehicle.opted_out:
        return Exclusion.OPTED_OUT
    if not vehicle.plugged_in:
        return Exclusion.NOT_PLUGGED_IN
    if vehicle.events_this_month >= limits.events_per_month:
        return Exclusion.EVENT_LIMIT
    if limits.max_hours_per_event <= 0:
        return Exclusion.NO_HOURS
    if vehicle.departure is not None and vehicle.departure < event.end:
        return Exclusion.DEPARTS_DURING_EVENT

    kind = EventKind(event.kind)
    eff = event.efficiency
    offset = start_offset_minutes(event, vehicle.vehicle_id)
    duration_minutes = min(limits.max_hours_per_event * 60.0, event.window_minutes - offset)
    hours = duration_minutes / 60.0
    if hours <= 0:
        return Exclusion.NO_HOURS
    usable = max(0.0, vehicle.usable_battery_kwh)
    baseline = 0.0

    if kind in DISCHARGE_KINDS:
        if limits.max_discharge_kw <= 0:
            return Exclusion.NO_DISCHARGE_CAPABILITY
        trip = trip_floor_pct(vehicle, event_end=event.end, efficiency=eff)
        floor = max(limits.soc_floor_pct, trip)
        available = max(0.0, (vehicle.soc_pct - floor) / 100.0 * usable)
        annual_left = limits.annual_discharge_kwh - vehicle.discharged_this_year_kwh
        if annual_left <= 0:
            return Exclusion.ANNUAL_LIMIT
        energy_cap = min(available, annual_left)
        power = min(limits.max_discharge_kw, energy_cap * eff / hours)
        if power < MIN_SETPOINT_KW:
            if annual_left < available:
                return Exclusion.ANNUAL_LIMIT
            return Exclusion.DEPARTURE_NEED if trip > limits.soc_floor_pct else Exclusion.FLOOR
        energy = power * hours / eff
        offer = energy_cap
        command = -power
        # Charging stopped counts too (the grid sees charging → export), up to the rating.
        rating = max(limits.max_charge_kw, limits.max_discharge_kw)
        baseline = min(max(0.0, vehicle.charging_kw), limits.max_charge_kw)
        credited = min(power + baseline, rating)
    elif kind is EventKind.RESILIENCE_PRECHARGE:
        if limits.max_charge_kw <= 0:
            return Exclusion.NO_CHARGE_CAPABILITY
        headroom = max(0.0, (event.charge_target_soc_pct - vehicle.soc_pct) / 100.0 * usable)
        power = min(limits.max_charge_kw, headroom / eff / hours)
        if power < MIN_SETPOINT_KW:
            return Exclusion.FULL
        energy = power * hours * eff
        offer = headroom
        command = power
    else:  # V1G load reduction
        baseline = min(max(0.0, vehicle.charging_kw), limits.max_charge_kw)
        if baseline < MIN_SETPOINT_KW:
            return Exclusion.NOT_CHARGING
        if vehicle.departure is not None and vehicle.departure_target_soc_pct is not None:
            # Conservatively assume nothing is charged during the window.
            needed = max(0.0, (vehicle.departure_target_soc_pct - vehicle.soc_pct) / 100.0)
            after = max(0.0, (vehicle.departure - event.end).total_seconds() / 3600.0)
            if needed * usable > limits.max_charge_kw * after * eff:
                return Exclusion.DEPARTURE_NEED
        power = baseline
        energy = offer = baseline * hours
        command = 0.0

    fractions = _profile(event, offset, duration_minutes)
    active = tuple(power * f for f in fractions)
    if kind is EventKind.LOAD_REDUCTION:
        setpoints = tuple(baseline - c for c in active)
        contribution = active
    elif kind is EventKind.RESILIENCE_PRECHARGE:
        setpoints = contribution = active
    else:
        setpoints = tuple(-c for c in active)
        contribution = active if credited == power else tuple(credited * f for f in fractions)
    return Assignment(
        vehicle_id=vehicle.vehicle_id,
        power_kw=command,
        start_offset_minutes=offset,
        duration_hours=hours,
        setpoints_kw=setpoints,
        contribution_kw=contribution,
        energy_kwh=energy,
        baseline_kw=baseline,
        events_this_season=vehicle.events_this_season,
        available_kwh=offer,
    )


# --- Allocation ----------------------------------------------------------------------------


def fair_key(a: Assignment):
    """The allocation order: fewest events this season, most energy to offer, vehicle id."""
    return (a.events_this_season, -a.available_kwh, a.vehicle_id)


def _allocate(
    candidates: Iterable[Assignment],
    committed: list[float],
    goals: tuple[float, ...] | None,
    *,
    from_interval: int = 0,
) -> tuple[list[Assignment], list[Assignment]]:
    """Greedy in the given order: take a candidate while it adds to an interval below its
    goal (intervals before ``from_interval`` are over and count as met)."""
    selected: list[Assignment] = []
    reserves: list[Assignment] = []
    if goals is None:
        for a in candidates:
            selected.append(a)
            for i, c in enumerate(a.contribution_kw):
                committed[i] += c
        return selected, reserves
    short = {i for i, c in enumerate(committed) if c < goals[i] and i >= from_interval}
    for a in candidates:
        if not short or not any(a.contribution_kw[i] > 0 for i in short):
            reserves.append(a)
            continue
        selected.append(a)
        for i, c in enumerate(a.contribution_kw):
            if c:
                committed[i] += c
                if i in short and committed[i] >= goals[i]:
                    short.discard(i)
    return selected, reserves


def plan(event: EventInput, vehicles: Iterable[VehicleInput]) -> Plan:
    if event.end <= event.start:
        raise ValueError("The event must end after it starts.")
    if event.interval_minutes <= 0:
        raise ValueError("The interval length must be positive.")
    if not 0 < event.efficiency <= 1:
        raise ValueError("Efficiency must be in (0, 1].")
    candidates: list[Assignment] = []
    excluded: dict[Hashable, Exclusion] = {}
    for v in vehicles:
        result = evaluate(event, v)
        if isinstance(result, Assignment):
            candidates.append(result)
        else:
            excluded[v.vehicle_id] = result
    candidates.sort(key=fair_key)
    committed = [0.0] * event.interval_count
    selected, reserves = _allocate(candidates, committed, event.interval_goals_kw)
    return Plan(
        event=event,
        interval_starts=tuple(event.interval_bounds(i)[0] for i in range(event.interval_count)),
        selected=tuple(selected),
        reserves=tuple(reserves),
        committed_kw=tuple(committed),
        excluded=excluded,
    )


def replan(
    plan: Plan,
    changes: PlanChanges | Mapping[Hashable, Exclusion],
    *,
    from_interval: int = 0,
) -> Replan:
    """Drop opted-out, rejected and offline vehicles (dispatched or reserve) and bring in
    reserves, in their order, until every interval from ``from_interval`` on (the ones not
    over yet) meets the goal again.

    Reserves keep the setpoints planned with the event (their randomized start included);
    for a telemetry shortfall or fresh state, plan again from current inputs instead."""
    if isinstance(changes, PlanChanges):
        reasons: dict[Hashable, Exclusion] = {}
        for vid in changes.offline:
            reasons[vid] = Exclusion.OFFLINE
        for vid in changes.rejected:
            reasons[vid] = Exclusion.REJECTED
        for vid in changes.opted_out:
            reasons[vid] = Exclusion.OPTED_OUT_DURING_EVENT
    else:
        reasons = dict(changes)
    excluded = dict(plan.excluded)
    committed = [0.0] * len(plan.committed_kw)
    kept: list[Assignment] = []
    restore: list[Hashable] = []
    for a in plan.selected:
        if a.vehicle_id in reasons:
            restore.append(a.vehicle_id)
            excluded[a.vehicle_id] = reasons[a.vehicle_id]
            continue
        kept.append(a)
        for i, c in enumerate(a.contribution_kw):
            committed[i] += c
    pool = []
    for a in plan.reserves:
        if a.vehicle_id in reasons:
            excluded[a.vehicle_id] = reasons[a.vehicle_id]
        else:
            pool.append(a)
    goals = plan.event.interval_goals_kw
    if goals is None:
        added, reserves = [], pool  # "all available": nothing was held back
    else:
        added, reserves = _allocate(pool, committed, goals, from_interval=from_interval)
    new_plan = replace(
        plan,
        selected=tuple(kept + added),
        reserves=tuple(reserves),
        committed_kw=tuple(committed),
        excluded=excluded,
    )
    return Replan(plan=new_plan, restore=tuple(restore), added=tuple(a.vehicle_id for a in added))
