"""Device commands of events: the event's commands from a plan, restores after it, their
issue through ``devices.services`` and their withdrawal through the partners' adapters.

Every command is keyed by (``dispatch.event``, event id, vehicle, revision, sequence):
sequence 0 is a vehicle's event command (for an event of several target intervals, sequence
``i`` is its command for interval ``i``), ``HOLD_SEQUENCE`` its hold before a staggered
restore, ``RESTORE_SEQUENCE`` its restore."""

from __future__ import annotations

import math
import zlib
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet

from devices import tasks as adapter_tasks
from devices.models import DeviceCommand
from devices.services.commands import LIVE_COMMAND_STATUSES, CommandSpec, issue_commands
from dispatch.models import Event
from dispatch.planning import planner, profile
from dispatch.planning.inputs import opted_out_vehicles
from dispatch.planning.precedence import held_elsewhere
from portal.models import PartnerAgreement
from portal.tasking import enqueue_on_commit

SOURCE_TYPE = "dispatch.event"
EVENT_SEQUENCE = 0
RESTORE_SEQUENCE = 1_000_000
RESTORE_MINUTES = 15  # a restore's window when the event's planned end has passed
# A vehicle waiting for its staggered restore holds at 0 kW under this sequence.
HOLD_SEQUENCE = 999_999
COMMAND_KIND = {
    planner.EventKind.V2H_HOME_SUPPLY: DeviceCommand.Kind.DISCHARGE,
    planner.EventKind.V2G_EXPORT: DeviceCommand.Kind.DISCHARGE,
    planner.EventKind.EMERGENCY: DeviceCommand.Kind.DISCHARGE,
    planner.EventKind.RESILIENCE_PRECHARGE: DeviceCommand.Kind.CHARGE,
    planner.EventKind.LOAD_REDUCTION: DeviceCommand.Kind.CURTAIL,
}


def event_commands(event: Event) -> QuerySet[DeviceCommand]:
    return DeviceCommand.objects.filter(source_type=SOURCE_TYPE, source_id=str(event.pk))


def active_window(
    plan_start: datetime, a: planner.Assignment, end: datetime
) -> tuple[datetime, datetime]:
    begins = plan_start + timedelta(minutes=a.start_offset_minutes)
    return begins, min(begins + timedelta(hours=a.duration_hours), end)


def toward_zero(kw: float, places: int = 3) -> float:
    """``kw`` to ``places`` decimals, rounded toward zero: a command never asks for more than
    the plan allowed (a vehicle planned down to its floor stays above it)."""
    scale = 10**places
    # The nudge keeps float noise (9.6 × 1000 = 9599.999…) from costing a whole watt.
    return math.trunc(kw * scale + math.copysign(1e-6, kw)) / scale


def command_specs(
    plan: planner.Plan,
    kind: planner.EventKind,
    assignments: Iterable[planner.Assignment] | None = None,
    *,
    not_before: datetime | None = None,
) -> list[CommandSpec]:
    """One command per assignment over its active window (from ``not_before`` at the
    earliest: a reserve brought in mid-event starts now); none for a window already over."""
    command_kind = COMMAND_KIND[kind]
    shares = profile.step_shares(plan.event, plan.committed_kw)
    specs = []
    for a in plan.selected if assignments is None else assignments:
        begins, ends = active_window(plan.event.start, a, plan.event.end)
        if not_before is not None:
            begins = max(begins, not_before)
        if ends <= begins:
            continue
        if not shares:
            specs.append(
                CommandSpec(
                    vehicle_id=a.vehicle_id,
                    kind=command_kind,
                    setpoint_kw=toward_zero(a.power_kw),
                    starts_at=begins,
                    ends_at=ends,
                    sequence=EVENT_SEQUENCE,
                )
            )
            continue
        for i, (step, share) in enumerate(zip(plan.event.steps, shares, strict=True)):
            spec = _step_command(a, kind, step, share, begins, ends, sequence=EVENT_SEQUENCE + i)
            if spec is not None:
                specs.append(spec)
    return specs


def _step_command(
    a: planner.Assignment,
    kind: planner.EventKind,
    step: planner.Step,
    share: float,
    begins: datetime,
    ends: datetime,
    *,
    sequence: int,
) -> CommandSpec | None:
    """The vehicle's command for one target interval: its planned power times the interval's
    share (V1G: charging curtailed by that share of its baseline); none for an interval it
    is not active in or that asks for (next to) nothing."""
    begins, ends = max(begins, step.start), min(ends, step.end)
    if ends <= begins or share <= 0:
        return None
    if kind is planner.EventKind.LOAD_REDUCTION:
        setpoint = a.baseline_kw * (1.0 - share)
        if a.baseline_kw * share < planner.MIN_SETPOINT_KW:
            return None
    else:
        setpoint = a.power_kw * share
        if abs(setpoint) < planner.MIN_SETPOINT_KW:
            return None
    return CommandSpec(
        vehicle_id=a.vehicle_id,
        kind=COMMAND_KIND[kind],
        setpoint_kw=toward_zero(setpoint),
        starts_at=begins,
        ends_at=ends,
        sequence=sequence,
    )


def restore_stagger() -> timedelta:
    """The window restores after an early end or a cancellation are spread over, so the
    fleet does not snap back to full-rate charging at once (settings, fails loudly)."""
    minutes = settings.DISPATCH_RESTORE_STAGGER_MINUTES
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 0:
        raise ValueError(
            f"DISPATCH_RESTORE_STAGGER_MINUTES must be a whole number ≥ 0, not {minutes!r}."
        )
    return timedelta(minutes=minutes)


def restore_offset(event: Event, vehicle_id: int, window: timedelta) -> timedelta:
    """A per-vehicle delay in [0, window], randomized by hashing (stable for the event and
    vehicle, so running the restore again sends the same commands)."""
    seconds = int(window.total_seconds())
    if seconds <= 0:
        return timedelta(0)
    return timedelta(seconds=zlib.crc32(f"restore:{event.pk}:{vehicle_id}".encode()) % seconds)


def restore_specs(
    event: Event, vehicle_ids: Iterable[int], *, now: datetime, stagger: bool = False
) -> list[CommandSpec]:
    """A restore command for each of ``vehicle_ids`` whose customer has not opted out of the
    event (an opt-out already hands the vehicle back: there is nothing to restore) and that
    no other live event holds (its command drives the vehicle now). ``stagger``: each vehicle
    holds at 0 kW (curtail) until its randomized moment within ``restore_stagger()``, then
    restores, so the fleet's charging comes back spread out, not at once."""
    vehicle_ids = set(vehicle_ids)
    if vehicle_ids:
        vehicle_ids -= opted_out_vehicles(event, vehicle_ids)
    if vehicle_ids:
        vehicle_ids -= held_elsewhere(event=event, vehicle_ids=vehicle_ids, now=now)
    planned_end = event.starts_at + timedelta(
        minutes=event.duration_minutes + event.extended_minutes
    )
    window = restore_stagger() if stagger else timedelta(0)
    specs = []
    for vid in sorted(vehicle_ids):
        at = now + restore_offset(event, vid, window)
        if at > now:
            specs.append(
                CommandSpec(
                    vehicle_id=vid,
                    kind=DeviceCommand.Kind.CURTAIL,
                    setpoint_kw=0.0,
                    starts_at=now,
                    ends_at=at,
                    sequence=HOLD_SEQUENCE,
                )
            )
        specs.append(
            CommandSpec(
                vehicle_id=vid,
                kind=DeviceCommand.Kind.RESTORE,
                setpoint_kw=0.0,
                starts_at=at,
                ends_at=max(planned_end, at + timedelta(minutes=RESTORE_MINUTES)),
                sequence=RESTORE_SEQUENCE,
            )
        )
    return specs


def issue(event: Event, specs: list[CommandSpec]) -> int:
    if not specs:
        return 0
    issued = issue_commands(
        source_type=SOURCE_TYPE,
        source_id=str(event.pk),
        revision=event.modification_number,
        specs=specs,
        with_commands=False,
    )
    if issued.pending_partner_ids:
        adapter_tasks.enqueue_delivery(
            utility_id=event.utility_id, partner_ids=issued.pending_partner_ids
        )
    return issued.created


def withdraw(event: Event, commands: QuerySet[DeviceCommand]) -> int:
    """Cancel these live commands through their partners' adapters once the transaction
    commits (pending ones never leave; accepted ones are cancelled at the partner)."""
    rows = list(commands.filter(status__in=LIVE_COMMAND_STATUSES).values_list("pk", "partner_id"))
    if not rows:
        return 0
    by_partner: dict[int, list[int]] = defaultdict(list)
    for pk, partner_id in rows:
        by_partner[partner_id].append(pk)
    agreements = PartnerAgreement.objects.filter(
        utility_id=event.utility_id, partner_id__in=by_partner
    ).values_list("pk", "partner_id")
    for agreement_id, partner_id in agreements:
        enqueue_on_commit(
            adapter_tasks.cancel_commands,
            utility_id=event.utility_id,
            agreement_id=agreement_id,
            command_ids=by_partner[partner_id],
        )
    return len(rows)
