"""Demo events for a demo utility (see ``demo.seed``): feeders on the demo customers, a
dispatch group, and past events — planned, commanded, answered, opted out of, re-planned and
measured through the project's own execution and M&V code — so the event pages, the console
and the reports have history to show. The live part of the demo is the DR operator
scheduling an event a few minutes ahead against the fleet simulator (README).

Past events are played at their own times: planning runs with ``now`` at the notice time,
the simulated partner's answers are applied as acknowledgements, one customer opts out
mid-event and the plan brings in a reserve, and the telemetry rollups of the event window are
what the commanded vehicles did. Safe to run again: an event is keyed on (program, start),
and one already there is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import F
from django.utils import timezone
from django_scopes import scope

from demo.fleet import state_at
from demo.grid_operator import ensure_demo_grid_source
from devices.models import DeviceCommand, TelemetryRollup, Vehicle
from devices.selectors import LatestState
from devices.services.opt_outs import record_opt_out
from dispatch import selectors
from dispatch.execution.activation import activate_event
from dispatch.execution.commands import event_commands
from dispatch.execution.replanning import replan_event
from dispatch.guardrails import check_event
from dispatch.measurement import participation
from dispatch.measurement.run import measure_event
from dispatch.models import DispatchGroup, Event, EventParticipant
from dispatch.selectors import other_events
from enrollment.models import Enrollment, Program
from portal.customers.models import ServiceAccount
from portal.models import User, Utility

FEEDERS = 4
ROLLUP_MINUTES = 15


@dataclass(frozen=True)
class PastEvent:
    program: str
    event_type: str
    weekdays_ago: int  # the n-th weekday before today
    local_start: time
    minutes: int
    target_kw: float | None
    opt_outs: int = 0  # customers who opt out 15 minutes into the event
    randomize_minutes: int = 0


PAST_EVENTS = (
    PastEvent("peak-relief-v2h", Event.Type.V2H_HOME_SUPPLY, 8, time(19, 0), 120, 120.0, 2),
    PastEvent("smart-charge", Event.Type.LOAD_REDUCTION, 5, time(18, 45), 90, None),
    PastEvent("peak-relief-v2h", Event.Type.V2H_HOME_SUPPLY, 2, time(19, 30), 90, 150.0, 3),
)


def ensure_demo_events(*, utility: Utility) -> int:
    """Feeders, a group and the past events of ``utility``; returns the events created."""
    created = 0
    with scope(utility=utility.pk):
        _ensure_feeders(utility)
        _ensure_group(utility)
        operator = User.objects.filter(email=f"operator@{utility.slug}.demo.test").first()
        for spec in PAST_EVENTS:
            program = Program.objects.filter(slug=spec.program).first()
            if (
                program is None
                or not Enrollment.objects.filter(
                    program=program, status=Enrollment.Status.ACTIVE
                ).exists()
            ):
                continue
            created += _ensure_past_event(utility, program, spec, actor=operator)
        # A grid operator calling events over OpenADR (its VTN runs with ``run_portal``).
        ensure_demo_grid_source(utility=utility)
        # Last month's participation credits, as beat pays them daily.
        last_month = participation.previous_month(timezone.localdate(timezone=utility.tzinfo))
        for program in Program.objects.select_related("utility").order_by("pk"):
            participation.award_monthly_credits(program=program, month=last_month)
    return created


def _ensure_feeders(utility: Utility) -> None:
    """Every demo customer on one of a few feeders (``<UTILITY>-FDR-01`` …)."""
    unset = list(ServiceAccount.objects.filter(feeder="").values_list("pk", "account_number"))
    prefix = utility.slug.upper()
    by_feeder: dict[str, list[int]] = {}
    for pk, number in unset:
        digits = "".join(ch for ch in number if ch.isdigit()) or "0"
        by_feeder.setdefault(f"{prefix}-FDR-{int(digits) % FEEDERS + 1:02d}", []).append(pk)
    for feeder, pks in by_feeder.items():
        ServiceAccount.objects.filter(pk__in=pks).update(feeder=feeder)


def _ensure_group(utility: Utility) -> None:
    group, created = DispatchGroup.objects.get_or_create(
        utility=utility,
        name="Early responders",
        defaults={"description": "Customers who asked to be called first in a grid emergency."},
    )
    if created:
        vehicles = Vehicle.objects.filter(status=Vehicle.Status.ACTIVE).order_by("pk")[::5]
        group.vehicles.set(vehicles)


def _weekday_before(today: date, n: int) -> date:
    day = today
    while n:
        day -= timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def _ensure_past_event(utility: Utility, program: Program, spec: PastEvent, *, actor) -> int:
    tz = utility.tzinfo
    day = _weekday_before(timezone.now().astimezone(tz).date(), spec.weekdays_ago)
    starts_at = datetime.combine(day, spec.local_start, tzinfo=tz)
    if Event.objects.filter(program=program, starts_at=starts_at).exists():
        return 0
    scheduled_at = starts_at - timedelta(days=1)
    event = Event(
        utility=utility,
        program=program,
        event_type=spec.event_type,
        starts_at=starts_at,
        duration_minutes=spec.minutes,
        notification_lead_minutes=120,
        randomize_start_minutes=spec.randomize_minutes,
        target_kw=spec.target_kw,
        created_by=actor,
        scheduled_at=scheduled_at,
    )
    event.refresh_times()
    event.guardrail_results = [
        r._asdict()
        for r in check_event(
            program,
            starts_at=starts_at,
            duration_minutes=spec.minutes,
            priority=0,
            now=scheduled_at,
            tz=tz,
            others=other_events(program=program),
        )
    ]
    event.save()
    planned_at = event.notify_at + timedelta(minutes=1)
    activate_event(
        utility_id=event.utility_id,
        event_id=event.pk,
        now=planned_at,
        states=_states(event, at=event.starts_at),
    )
    _answer_commands(event, at=event.notify_at + timedelta(minutes=2))
    if spec.opt_outs:
        _opt_out(event, count=spec.opt_outs, at=starts_at + timedelta(minutes=15))
    _play_telemetry(event)
    _complete_commands(event)
    measure_event(event_id=event.pk, now=event.ends_at + timedelta(hours=1))
    return 1


def _states(event: Event, *, at: datetime) -> dict[int, LatestState]:
    """The targeted vehicles as the demo pattern had them at ``at`` (readings are every 15
    minutes: the state is the one reported just before)."""
    tz = event.utility.tzinfo
    return {
        v.pk: state_at(v, at=at, tz=tz)
        for v in selectors.targeted_vehicles_for_event(event).order_by()
    }


def _answer_commands(event: Event, *, at: datetime) -> None:
    """The partner cloud accepted every command it received."""
    event_commands(event).filter(status=DeviceCommand.Status.PENDING).update(
        status=DeviceCommand.Status.ACCEPTED, sent_at=at, acknowledged_at=at, attempts=1
    )


def _opt_out(event: Event, *, count: int, at: datetime) -> None:
    """``count`` dispatched customers opt out in their app; the plan replaces them."""
    quitters = list(
        EventParticipant.objects.filter(event=event, role=EventParticipant.Role.SELECTED)
        .select_related("vehicle", "vehicle__utility")
        .order_by("-vehicle_id")[:count]
    )
    for p in quitters:
        record_opt_out(
            vehicle=p.vehicle,
            event_ref=str(event.pk),
            reason="Customer opted out in the app",
            reference=f"demo-optout-{event.pk}-{p.vehicle_id}",
        )
    # The dispatched vehicles report what they were commanded; the rest follow the pattern.
    states = _states(event, at=at)
    for p in EventParticipant.objects.filter(event=event, role=EventParticipant.Role.SELECTED):
        states[p.vehicle_id] = states[p.vehicle_id]._replace(power_kw=p.power_kw)
    replan_event(
        utility_id=event.utility_id, event_id=event.pk, now=at + timedelta(minutes=1), states=states
    )
    _answer_commands(event, at=at + timedelta(minutes=2))


def _complete_commands(event: Event) -> None:
    event_commands(event).filter(status=DeviceCommand.Status.ACCEPTED).update(
        status=DeviceCommand.Status.COMPLETED, acknowledged_at=F("ends_at")
    )


def _play_telemetry(event: Event) -> None:
    """The event window's rollups become what the dispatched vehicles did: their commanded
    power while active (pro rata within an interval), the usual pattern otherwise."""
    step = timedelta(minutes=ROLLUP_MINUTES)
    participants = EventParticipant.objects.filter(
        event=event, role__in=[EventParticipant.Role.SELECTED, EventParticipant.Role.DROPPED]
    ).exclude(active_from=None)
    rollups = {
        (r.vehicle_id, r.interval_start): r
        for r in TelemetryRollup.objects.filter(
            vehicle_id__in=participants.values("vehicle_id"),
            interval_start__gte=event.starts_at - step,
            interval_start__lt=event.ends_at,
        )
    }
    changed = []
    for p in participants:
        begins = p.active_from
        ends = min(p.active_until, p.dropped_at) if p.dropped_at else p.active_until
        slot = begins - timedelta(minutes=begins.minute % ROLLUP_MINUTES, seconds=begins.second)
        while slot < ends:
            rollup = rollups.get((p.vehicle_id, slot))
            if rollup is not None:
                share = (min(slot + step, ends) - max(slot, begins)) / step
                power = p.power_kw * share + rollup.mean_power_kw * (1 - share)
                rollup.mean_power_kw = round(power, 3)
                rollup.energy_charged_kwh = round(max(0.0, power) * 0.25, 4)
                rollup.energy_discharged_kwh = round(max(0.0, -power) * 0.25, 4)
                changed.append(rollup)
            slot += step
    TelemetryRollup.objects.bulk_update(
        changed, ["mean_power_kw", "energy_charged_kwh", "energy_discharged_kwh"], batch_size=2000
    )
