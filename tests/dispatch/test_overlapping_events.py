"""Two overlapping events and one fleet, every part real: a Celery worker
process plans a running V2H event whose commands go over HTTP to the fleet simulator; an
emergency of higher priority is called over it; the worker plans the emergency, which takes
the vehicles, and re-plans the first event without them (reason on its console, their
commands there cancelled at the partner, no restore sent over the emergency's command).
Measured afterwards, each vehicle's kWh is counted by one event at a time, never twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from demo.management.commands.run_portal import prepare_runtime_dirs
from devices.models import DeviceCommand, Vehicle
from devices.simulator.state import Behaviour
from dispatch.measurement import premise
from dispatch.measurement.baselines import mv_grid
from dispatch.measurement.run import measure_event
from dispatch.models import Event, EventParticipant
from dispatch.services.events import end_early
from dispatch.tasks import activate_event
from enrollment.incentives.models import Incentive
from tests.devices.simulator_support import running_simulator
from tests.dispatch import e2e_support, fleet_support
from tests.dispatch.console_support import add_rollups
from tests.dispatch.test_dispatch_faults import admin
from tests.incentives.support import performance_offer
from tests.portal.factories import AutomakerPartnerFactory
from tests.worker import celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

FLEET = 6
Role = EventParticipant.Role
Status = DeviceCommand.Status


@pytest.fixture
def fleet(utility_a):
    partner = AutomakerPartnerFactory(name="Overlap Motors", slug="overlap")
    agreement = fleet_support.webhook_agreement(
        utility=utility_a, partner=partner, timeout_seconds=5.0
    )
    program = fleet_support.open_v2h_program(utility_a, slug="overlap-v2h")
    ids = fleet_support.build_fleet(
        utility=utility_a, partner=partner, program=program, size=FLEET, code="PRC"
    )
    prepare_runtime_dirs()
    return fleet_support.Fleet(utility_a, partner, agreement, program, ids)


@pytest.fixture
def simulator(fleet):
    with running_simulator(
        utility_slugs=[fleet.utility.slug],
        partner_names=[fleet.partner.slug],
        behaviour=Behaviour(reject_rate=0.0, opt_out_rate=0.0),
        telemetry_interval=3600.0,
        step_seconds=3600.0,
    ) as sim:
        fleet_support.point_at(fleet.agreement, sim.endpoint(fleet.partner.slug))
        yield sim


def _running_event(program, *, event_type, priority, started_ago) -> Event:
    now = timezone.now()
    event = Event(
        utility=program.utility, program=program, event_type=event_type,
        starts_at=now - started_ago, duration_minutes=60, priority=priority,
        scheduled_at=now - started_ago - timedelta(minutes=1),
    )  # fmt: skip
    event.refresh_times()
    with scopes_disabled():
        event.save()
    return event


def _commands(event) -> list[DeviceCommand]:
    with scopes_disabled():
        return list(
            DeviceCommand.objects.filter(source_type="dispatch.event", source_id=str(event.pk))
        )


def _roles(event) -> dict[int, tuple[str, str]]:
    with scopes_disabled():
        return {
            p.vehicle_id: (p.role, p.reason) for p in EventParticipant.objects.filter(event=event)
        }


def _amounts_by_event(offer) -> dict[str, list]:
    amounts: dict[str, list] = {}
    for period, amount in Incentive.objects.filter(offer=offer).values_list("period_key", "amount"):
        amounts.setdefault(period.removeprefix("event:"), []).append(amount)
    return amounts


def _partner_status(sim) -> dict[str, str]:
    (agreement,) = admin(sim, "GET", "state")["agreements"]
    return {cid: c["status"] for cid, c in agreement["commands"].items()}


def test_it_commits_a_vehicle_to_the_event_that_takes_precedence(fleet, simulator):
    peak = _running_event(
        fleet.program, event_type=Event.Type.V2H_HOME_SUPPLY, priority=0,
        started_ago=timedelta(minutes=2),
    )  # fmt: skip
    with celery_worker(name="overlap") as worker:
        activate_event.delay(utility_id=fleet.utility.pk, event_id=peak.pk)
        wait_for(
            lambda: (
                len(_commands(peak)) == FLEET
                and all(c.status == Status.ACCEPTED for c in _commands(peak))
            ),
            timeout=60,
            message=worker.log_path.read_text()[-3000:],
        )
        emergency = _running_event(
            fleet.program, event_type=Event.Type.EMERGENCY, priority=5,
            started_ago=timedelta(minutes=1),
        )  # fmt: skip
        activate_event.delay(utility_id=fleet.utility.pk, event_id=emergency.pk)

        def settled() -> bool:
            peak_roles = _roles(peak)
            return (
                all(role == Role.DROPPED for role, _ in peak_roles.values())
                and all(c.status == Status.ACCEPTED for c in _commands(emergency))
                and len(_commands(emergency)) == FLEET
                # cancelled at the partner: the adapter's cancel call answered so
                and all(c.status == Status.CANCELLED for c in _commands(peak))
            )

        try:
            wait_for(settled, timeout=60)
        except AssertionError:  # say where it stands
            pytest.fail(
                f"{_roles(peak)}\n{_partner_status(simulator)}\n"
                f"{[(c.kind, c.status) for c in _commands(peak)]}\n"
                f"{[(c.kind, c.status) for c in _commands(emergency)]}"
            )

    # The emergency has every vehicle; the peak event dropped them, saying why.
    assert {v: r for v, (r, _) in _roles(emergency).items()} == dict.fromkeys(
        fleet.vehicle_ids, Role.SELECTED
    )
    reasons = {reason for _, reason in _roles(peak).values()}
    assert reasons == {f"taken by event #{emergency.pk}, which takes precedence"}
    # No restore (nor hold) went out over the emergency's commands: the partner received
    # only the two events' discharge commands.
    assert all(c.kind == DeviceCommand.Kind.DISCHARGE for c in _commands(peak))
    assert set(_partner_status(simulator)) == {
        c.idempotency_key for c in [*_commands(peak), *_commands(emergency)]
    }

    # Measured: the vehicles exported 9.6 kW throughout; each kWh is counted once.
    with scopes_disabled():
        vehicles = list(Vehicle.objects.filter(pk__in=fleet.vehicle_ids))
        end = timezone.now() + timedelta(minutes=1)
        for event in (peak, emergency):
            event.refresh_from_db()
            event.ended_early_at = end
            event.refresh_times()
            event.save(update_fields=["ended_early_at", "ends_at"])
    e2e_support.idle_history(vehicles, around=peak.starts_at)
    add_rollups(vehicles, mv_grid(starts_at=peak.starts_at, ends_at=end), power_kw=-9.6)
    after = end + timedelta(hours=2)
    offer = performance_offer(fleet.program, season_cap=None)
    with scope(utility=fleet.utility.pk):
        peak_kwh = measure_event(peak.pk, now=after).delivered_kwh
        emergency_kwh = measure_event(emergency.pk, now=after).delivered_kwh
    with scopes_disabled():
        committed = min(
            EventParticipant.objects.filter(event=peak).values_list("selected_at", flat=True)
        )
        taken = set(
            EventParticipant.objects.filter(event=peak).values_list("dropped_at", flat=True)
        )
        won = set(
            EventParticipant.objects.filter(event=emergency).values_list("selected_at", flat=True)
        )
    assert taken == won  # the peak event counts each vehicle up to the emergency's moment
    # V2H home supply caps each car at the premise's estimated load; both events are home
    # supply in a V2H program, so the fleet's relief is that estimate per vehicle over the
    # time the vehicles were committed (from the peak event's plan), counted once — not
    # once per event.
    hours = (end - committed).total_seconds() / 3600
    per_vehicle_kw = premise.premise_load_kw()
    assert emergency_kwh > 0
    assert peak_kwh + emergency_kwh == pytest.approx(FLEET * per_vehicle_kw * hours, abs=0.01)
    # And paid once: each event pays its own kWh at the offer's rate, so the two events'
    # payments add up to the fleet's relief once.
    with scopes_disabled():
        paid = {event_ref: sum(amounts) for event_ref, amounts in _amounts_by_event(offer).items()}
    assert str(emergency.pk) in paid
    assert set(paid) <= {str(peak.pk), str(emergency.pk)}
    assert float(sum(paid.values())) == pytest.approx(
        float(offer.rate_per_kwh) * (peak_kwh + emergency_kwh), abs=0.01 * 2 * FLEET
    )


def test_ending_early_restores_the_fleet_over_the_stagger_window_at_the_partner(fleet, simulator):
    """The operator ends a running event: the partner receives, per vehicle, a 0 kW hold
    from the end and a restore at a moment spread over the stagger window, never every
    vehicle back to full-rate charging at once; a vehicle another live event holds is left
    alone."""
    peak = _running_event(
        fleet.program, event_type=Event.Type.V2H_HOME_SUPPLY, priority=0,
        started_ago=timedelta(minutes=2),
    )  # fmt: skip
    with celery_worker(name="restore") as worker:
        activate_event.delay(utility_id=fleet.utility.pk, event_id=peak.pk)
        wait_for(
            lambda: (
                len(_commands(peak)) == FLEET
                and all(c.status == Status.ACCEPTED for c in _commands(peak))
            ),
            timeout=60,
            message=worker.log_path.read_text()[-3000:],
        )
        held_elsewhere = fleet.vehicle_ids[0]
        other = _running_event(
            fleet.program, event_type=Event.Type.V2H_HOME_SUPPLY, priority=0,
            started_ago=timedelta(minutes=2),
        )  # fmt: skip
        with scopes_disabled():
            EventParticipant.objects.create(
                utility=fleet.utility, event=other, vehicle_id=held_elsewhere,
                role=Role.SELECTED, selected_at=other.starts_at,
            )  # fmt: skip
        with scope(utility=fleet.utility.pk):
            ended = end_early(event=peak, actor=None, reason="Grid operator released the peak")
        ended_at = ended.ended_early_at

        def delivered() -> list[DeviceCommand]:
            after = [c for c in _commands(peak) if c.kind != DeviceCommand.Kind.DISCHARGE]
            if len(after) == 2 * (FLEET - 1) and all(c.status == Status.ACCEPTED for c in after):
                return after
            return []

        wait_for(lambda: bool(delivered()), timeout=60, message=worker.log_path.read_text()[-3000:])
        commands = delivered()

    restores = {c.vehicle_id: c for c in commands if c.kind == DeviceCommand.Kind.RESTORE}
    holds = {c.vehicle_id: c for c in commands if c.kind == DeviceCommand.Kind.CURTAIL}
    assert set(restores) == set(holds) == set(fleet.vehicle_ids) - {held_elsewhere}
    window = timedelta(minutes=settings.DISPATCH_RESTORE_STAGGER_MINUTES)
    starts = sorted(c.starts_at for c in restores.values())
    assert all(ended_at <= at < ended_at + window for at in starts)
    assert len(set(starts)) > 1, "every vehicle restored at the same moment"
    for vehicle_id, restore in restores.items():
        hold = holds[vehicle_id]
        # From the end (as soon as the worker ran the restore), at 0 kW, until its turn.
        assert ended_at <= hold.starts_at < ended_at + timedelta(seconds=30)
        assert hold.setpoint_kw == 0
        assert hold.ends_at == restore.starts_at
    # The partner has every one of them, once, as the simulator's own record says.
    record = _partner_status(simulator)
    assert {c.idempotency_key for c in commands} <= set(record)
