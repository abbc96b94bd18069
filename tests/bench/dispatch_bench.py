"""Dispatch planning benchmark: ``dispatch.planning.planner.plan`` for 100,000 vehicles.

Synthetic ``VehicleInput``s are built before the clock starts (limits from a pool of
realistic profiles combined with ``devices.limits.combine``; SoC, plug state, opt-outs,
event counts, charging and departures varied deterministically), then ``plan()`` is timed
for a 4-hour event in 15-minute intervals with a randomized start: a V2G export for "all
available" (every eligible vehicle gets 16 setpoints), a V2G export with a target, and a
V1G load reduction with a target; plus a ``replan`` after 1 % of the dispatched vehicles opt
out. Median of a few runs. Pure Python: no database.

``run_planning_benchmark()`` prints one table; call it after ``django.setup()`` (as
tests/bench/run.py does), or run this file: ``python tests/bench/dispatch_bench.py``.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

FLEET_SIZE = 100_000
PLAN_TARGET_S = 5.0
START = datetime(2026, 7, 15, 0, 0, tzinfo=UTC)


def limit_profiles():
    from devices.limits import LimitSource, combine

    profiles = []
    vehicles = [(9.6, 9.6), (10.2, 10.2), (11.5, 11.5), (19.2, 0.0), (7.2, 7.2)]
    for charge, discharge in vehicles:
        for floor in (10.0, 20.0, 30.0):
            for events in (1, 3, None):
                for hours in (2.0, 4.0, None):
                    profiles.append(
                        combine(
                            [
                                LimitSource(
                                    name="automaker",
                                    soc_floor_pct=floor,
                                    events_per_month=events,
                                    max_hours_per_event=hours,
                                    annual_discharge_kwh=4_000,
                                ),
                                LimitSource(
                                    name="vehicle",
                                    max_charge_kw=charge,
                                    max_discharge_kw=discharge,
                                ),
                                LimitSource(name="interconnection", max_discharge_kw=9.6),
                            ]
                        )
                    )
    return profiles


def synthetic_fleet(n: int = FLEET_SIZE, *, seed: int = 6):
    from dispatch.planning.planner import VehicleInput

    rng = random.Random(seed)
    profiles = limit_profiles()
    event_end = START + timedelta(hours=22)
    fleet = []
    for i in range(n):
        departs = rng.random() < 0.5
        fleet.append(
            VehicleInput(
                vehicle_id=i,
                limits=profiles[i % len(profiles)],
                soc_pct=rng.uniform(10, 100),
                usable_battery_kwh=rng.choice((77.4, 98.0, 131.0, 200.0)),
                plugged_in=rng.random() < 0.85,
                opted_out=rng.random() < 0.03,
                events_this_season=rng.randint(0, 12),
                events_this_month=rng.randint(0, 3),
                charging_kw=rng.choice((0.0, 7.2, 11.5)),
                departure=event_end + timedelta(hours=rng.uniform(0, 12)) if departs else None,
                departure_target_soc_pct=rng.uniform(50, 90) if departs else None,
                discharged_this_year_kwh=rng.uniform(0, 1_000),
            )
        )
    return fleet


def _event(kind: str, target_kw: float | None):
    from dispatch.planning.planner import EventInput

    start = START + timedelta(hours=18)
    return EventInput(
        kind=kind,
        start=start,
        end=start + timedelta(hours=4),
        interval_minutes=15,
        target_kw=target_kw,
        reserve_margin=0.1,
        randomize_start_minutes=10,
        seed=42,
    )


def _timed(fn, runs: int):
    timings, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings), result


def run_planning_benchmark(n: int = FLEET_SIZE, *, runs: int = 3):
    from dispatch.planning.planner import PlanChanges, plan, replan
    from tests.bench.devices_bench import Row, print_rows

    fleet = synthetic_fleet(n)
    rows = []
    cases = [
        ("plan v2g_export, all available", "v2g_export", None),
        ("plan v2g_export, target 100 MW", "v2g_export", 100_000.0),
        ("plan load_reduction, target 50 MW", "load_reduction", 50_000.0),
    ]
    last = None
    for label, kind, target in cases:
        event = _event(kind, target)
        seconds, result = _timed(lambda event=event: plan(event, fleet), runs)
        committed = min(result.committed_kw)
        rows.append(
            Row(
                f"{label}, {n:,} vehicles",
                f"{seconds:.2f} s",
                f"≤ {PLAN_TARGET_S:.0f} s",
                "ok" if seconds <= PLAN_TARGET_S else "MISSED",
                f"median of {runs}; {len(result.selected):,} dispatched, "
                f"{len(result.reserves):,} reserve, {len(result.excluded):,} excluded; "
                f"min committed {committed / 1000:,.1f} MW",
            )
        )
        last = result
    gone = frozenset(a.vehicle_id for a in last.selected[::100])
    seconds, result = _timed(lambda: replan(last, PlanChanges(opted_out=gone)), runs)
    rows.append(
        Row(
            f"replan after {len(gone):,} opt-outs",
            f"{seconds:.2f} s",
            "",
            "",
            f"median of {runs}; {len(result.added):,} reserves brought in, "
            f"target {'met' if result.plan.target_met else 'not met'}",
        )
    )
    print()
    print_rows(rows, title=f"Dispatch planning (pure Python, {n:,} synthetic vehicles)")
    return rows


def main() -> None:
    import argparse

    import django

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fleet", type=int, default=FLEET_SIZE)
    args = parser.parse_args()
    django.setup()
    run_planning_benchmark(args.fleet)


if __name__ == "__main__":
    main()
