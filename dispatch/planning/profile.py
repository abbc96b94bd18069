"""Following a target profile: the share of its planned power each dispatched vehicle runs at
in each step of an event whose target changes from one interval to the next (see
``planner``'s module docstring)."""

from __future__ import annotations

from dispatch.planning.planner import EventInput


def step_shares(event: EventInput, committed_kw: tuple[float, ...]) -> tuple[float, ...]:
    """The share of its planned power each dispatched vehicle runs at in each profile step.

    The plan selects vehicles for the step with the highest goal; a step whose goal is lower
    would over-deliver at full power, so every vehicle runs at ``goal / committed`` there
    (committed: the least over the planning intervals the step overlaps, so each of them still
    meets its goal), 0 for a step that asks for nothing. The highest step, a step asking for
    everything available, and an event without a profile run at full power (``()``)."""
    if not event.steps:
        return ()
    top = max(event.step_goal_kw(step) for step in event.steps)
    shares = []
    for step in event.steps:
        goal = event.step_goal_kw(step)
        if goal >= top:
            shares.append(1.0 if goal > 0 else 0.0)
            continue
        within = [
            committed_kw[i]
            for i in range(min(event.interval_count, len(committed_kw)))
            if step.start < event.interval_bounds(i)[1] and step.end > event.interval_bounds(i)[0]
        ]
        least = min((c for c in within if c > 0), default=0.0)
        shares.append(0.0 if goal <= 0 or least <= 0 else min(1.0, goal / least))
    return tuple(shares)
