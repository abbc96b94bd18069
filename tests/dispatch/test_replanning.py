"""Planning with real inputs, participants and plan runs, re-planning during the event, and
new revisions (extensions) withdrawing the previous revision's commands."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from devices import tasks as adapter_tasks
from devices.models import BatteryPolicy, CustomerPreference, DeviceCommand, OptOut, VehicleState
from devices.services.opt_outs import record_opt_out
from dispatch import tasks
from dispatch.execution import commands as dispatch_commands
from dispatch.execution.activation import activate_event
from dispatch.execution.replanning import replan_event
from dispatch.execution.restores import cancel_or_end
from dispatch.models import Event, EventParticipant, EventPlanRun
from dispatch.services.events import extend
from portal.models import AuditEvent
from tests.devices.factories import ChargerFactory
from tests.dispatch.events_support import make_event, open_program
from tests.enrollment.factories import EnrollmentFactory
from tests.portal.factories import PartnerAgreementFactory

pytestmark = pytest.mark.django_db

DISCHARGE_KW = 9.6
Role = EventParticipant.Role
Status = DeviceCommand.Status
Kind = DeviceCommand.Kind


def _enrolled(program, *, soc_pct=80, plugged_in=True, state_age=timedelta(0), power_kw=0.0):
    charger = ChargerFactory(
        utility=program.utility, max_discharge_kw=11.5, approved_export_kw=DISCHARGE_KW
    )
    e = EnrollmentFactory(program=program, vehicle__charger=charger)
    now = timezone.now()
    with scopes_disabled():
        VehicleState.objects.create(
            utility=program.utility, vehicle=e.vehicle, ts=now - state_age, soc_pct=soc_pct,
            power_kw=power_kw, plugged_in=plugged_in, charging_state="idle", updated_at=now,
        )  # fmt: skip
    return e.vehicle


def _set_state(vehicle, **fields):
    with scopes_disabled():
        VehicleState.objects.filter(vehicle=vehicle).update(**fields)


def _commands(event, **filters):
    with scopes_disabled():
        return list(
            DeviceCommand.objects.filter(
                source_type="dispatch.event", source_id=str(event.pk), **filters
            ).order_by("pk")
        )


def _participants(event):
    with scopes_disabled():
        return {p.vehicle_id: p for p in EventParticipant.objects.filter(event=event)}


@pytest.fixture
def outbox(monkeypatch):
    """What execution asked the adapters to do: deliveries and cancellations."""
    sent = {"deliveries": [], "cancels": []}
    monkeypatch.setattr(
        adapter_tasks,
        "enqueue_delivery",
        lambda *, utility_id, partner_ids: sent["deliveries"].append(set(partner_ids)),
    )
    monkeypatch.setattr(
        dispatch_commands,
        "enqueue_on_commit",
        lambda task, **kwargs: sent["cancels"].append((task.name, kwargs)),
    )
    return sent


def _active_event(utility, program, *, target_kw, minutes_ago=5, duration=60, **fields):
    return make_event(
        utility,
        program=program,
        starts_at=timezone.now() - timedelta(minutes=minutes_ago),
        duration_minutes=duration,
        target_kw=target_kw,
        notification_lead_minutes=60,
        **fields,
    )


# --- Planning writes participants and a plan run -----------------------------------------


def test_planning_records_every_vehicle_with_its_role_and_reason(utility_a, outbox):
    program = open_program(utility_a, discharge_soc_floor_pct=20)
    dispatched = [_enrolled(program) for _ in range(2)]
    reserve = [_enrolled(program) for _ in range(2)]
    unplugged = _enrolled(program, plugged_in=False)
    offline = _enrolled(program, state_age=timedelta(hours=3))
    # 9.6 kW each: a 15 kW target with a 10 % margin needs two vehicles.
    event = _active_event(utility_a, program, target_kw=15, minutes_ago=-30)

    result = activate_event(utility_id=event.utility_id, event_id=event.pk)

    participants = _participants(event)
    roles = {vid: p.role for vid, p in participants.items()}
    assert result.status == "issued" and result.vehicles == 2
    assert sorted(roles.values()) == sorted(
        [Role.SELECTED] * 2 + [Role.RESERVE] * 2 + [Role.EXCLUDED] * 2
    )
    assert {v.pk for v in dispatched + reserve} == {
        vid for vid, r in roles.items() if r in (Role.SELECTED, Role.RESERVE)
    }
    assert participants[unplugged.pk].reason == "not plugged in"
    assert participants[offline.pk].reason == "offline"
    chosen = [p for p in participants.values() if p.role == Role.SELECTED]
    assert all(p.power_kw == pytest.approx(-DISCHARGE_KW) for p in chosen)
    assert all(p.rating_kw >= DISCHARGE_KW for p in chosen)
    assert all(p.enrollment_id for p in participants.values())
    commands = _commands(event)
    assert {c.vehicle_id for c in commands} == {p.vehicle_id for p in chosen}
    for c in commands:
        p = participants[c.vehicle_id]
        assert (c.starts_at, c.ends_at) == (p.active_from, p.active_until)
        assert c.setpoint_kw == pytest.approx(p.power_kw, abs=1e-3)
    with scopes_disabled():
        run = EventPlanRun.objects.get(event=event)
    assert run.kind == "plan" and run.selected == 2 and run.reserves == 2 and run.excluded == 2
    assert run.committed_kw == [pytest.approx(2 * DISCHARGE_KW)] * 4
    assert run.reasons == {"not plugged in": 1, "offline": 1}


def test_planning_uses_the_monthly_event_count_and_departure_times(utility_a, outbox):
    program = open_program(utility_a)
    busy = _enrolled(program)
    leaving = _enrolled(program)
    free = _enrolled(program)
    event = _active_event(utility_a, program, target_kw=None, minutes_ago=-30)
    # ``busy`` already took part in three events this month; the partner allows three.
    with scopes_disabled():
        BatteryPolicy.objects.create(
            utility=utility_a, partner=busy.partner, events_per_month_peak=3,
            events_per_month_off_peak=3, max_hours_per_event=4, annual_discharge_kwh=4000,
            discharge_soc_floor_pct=10, max_discharge_kw=11.5,
        )  # fmt: skip
    for i in range(3):
        past = make_event(
            utility_a, program=program, starts_at=event.starts_at - timedelta(minutes=90 + i),
            duration_minutes=30,
        )  # fmt: skip
        with scopes_disabled():
            EventParticipant.objects.create(
                utility=utility_a, event=past, vehicle=busy, role=Role.SELECTED,
                selected_at=past.starts_at,
            )  # fmt: skip
    # ``leaving`` departs half-way through the event.
    departs = (event.starts_at + timedelta(minutes=30)).astimezone(utility_a.tzinfo).time()
    with scopes_disabled():
        CustomerPreference.objects.create(
            utility=utility_a, vehicle=leaving, departure_time=departs, target_soc_pct=90
        )

    activate_event(utility_id=event.utility_id, event_id=event.pk)

    participants = _participants(event)
    assert busy.partner_id != free.partner_id  # the policy binds only busy's partner
    assert participants[busy.pk].role == Role.EXCLUDED
    assert participants[busy.pk].reason == "monthly event limit reached"
    assert participants[leaving.pk].reason == "departs before the event ends"
    assert participants[free.pk].role == Role.SELECTED


# --- Re-planning ----------------------------------------------------------------------------


def _planned_active_event(utility, *, dispatched=2, reserves=2, target_kw=15):
    program = open_program(utility)
    vehicles = [_enrolled(program) for _ in range(dispatched + reserves)]
    for v in vehicles:
        PartnerAgreementFactory(utility=utility, partner=v.partner)
    event = _active_event(utility, program, target_kw=target_kw)
    activate_event(utility_id=event.utility_id, event_id=event.pk)
    participants = _participants(event)
    chosen = [v for v in vehicles if participants[v.pk].role == Role.SELECTED]
    spare = [v for v in vehicles if participants[v.pk].role == Role.RESERVE]
    assert len(chosen) == dispatched and len(spare) == reserves
    return event, chosen, spare


def test_nothing_changed_means_no_replan(utility_a, outbox):
    event, _, _ = _planned_active_event(utility_a)
    assert replan_event(utility_id=event.utility_id, event_id=event.pk).status == "unchanged"
    with scopes_disabled():
        assert EventPlanRun.objects.filter(event=event).count() == 1


def test_an_opt_out_during_the_event_brings_in_a_reserve(utility_a, outbox):
    event, chosen, spare = _planned_active_event(utility_a)
    quitter = chosen[0]
    with scope(utility=utility_a.pk):
        record_opt_out(vehicle=quitter, event_ref=str(event.pk), reason="Driving to the ER")

    result = replan_event(utility_id=event.utility_id, event_id=event.pk)

    participants = _participants(event)
    assert result.status == "replanned" and result.dropped == 1 and result.added == 1
    assert participants[quitter.pk].role == Role.DROPPED
    assert participants[quitter.pk].reason == "opted out during the event"
    assert participants[quitter.pk].dropped_at is not None
    newcomer = [v for v in spare if participants[v.pk].role == Role.SELECTED]
    assert len(newcomer) == 1
    new_command = _commands(event, vehicle=newcomer[0], kind=DeviceCommand.Kind.DISCHARGE)
    assert len(new_command) == 1
    assert new_command[0].starts_at >= timezone.now() - timedelta(minutes=1)  # starts now
    assert new_command[0].ends_at == participants[newcomer[0].pk].active_until
    # The opted-out vehicle gets no restore: its owner already took it back.
    assert _commands(event, vehicle=quitter, kind=DeviceCommand.Kind.RESTORE) == []
    with scopes_disabled():
        run = EventPlanRun.objects.filter(event=event).latest("id")
        audit = AuditEvent.objects.get(action="event.replanned", object_id=str(event.pk))
    assert run.kind == "replan" and run.added == 1 and run.dropped == 1
    assert run.reasons == {"opted out during the event": 1}
    assert run.committed_kw[-1] == pytest.approx(2 * DISCHARGE_KW)
    assert "1 opted out during the event" in audit.comment
    # Nothing new happened: the next run changes nothing.
    assert replan_event(utility_id=event.utility_id, event_id=event.pk).status == "unchanged"


def test_rejected_and_failed_commands_are_replaced_and_restored(utility_a, outbox):
    event, chosen, spare = _planned_active_event(utility_a, reserves=3)
    with scopes_disabled():
        DeviceCommand.objects.filter(vehicle=chosen[0], source_id=str(event.pk)).update(
            status=Status.REJECTED, status_reason="vehicle asleep"
        )
        DeviceCommand.objects.filter(vehicle=chosen[1], source_id=str(event.pk)).update(
            status=Status.FAILED
        )

    result = replan_event(utility_id=event.utility_id, event_id=event.pk)

    participants = _participants(event)
    assert result.dropped == 2 and result.added == 2
    assert participants[chosen[0].pk].reason == "command rejected"
    assert participants[chosen[1].pk].reason == "command failed"
    for v in chosen:
        restores = _commands(event, vehicle=v, kind=DeviceCommand.Kind.RESTORE)
        assert [c.status for c in restores] == [Status.PENDING]
    assert sum(participants[v.pk].role == Role.SELECTED for v in spare) == 2


def test_offline_unplugged_and_underdelivering_vehicles_are_replaced(utility_a, outbox):
    event, chosen, spare = _planned_active_event(utility_a, dispatched=2, reserves=3)
    now = timezone.now()
    # An accepted command: the partner took it, the vehicle should be exporting.
    with scopes_disabled():
        DeviceCommand.objects.filter(source_id=str(event.pk)).update(status=Status.ACCEPTED)
        EventParticipant.objects.filter(event=event, vehicle=chosen[1]).update(
            active_from=now - timedelta(minutes=20)
        )
    _set_state(chosen[0], ts=now - timedelta(hours=2))  # stopped reporting
    _set_state(chosen[1], ts=now, power_kw=-1.0)  # asked for −9.6 kW, gives −1 kW
    _set_state(spare[0], plugged_in=False, ts=now)  # a reserve unplugged

    result = replan_event(utility_id=event.utility_id, event_id=event.pk)

    participants = _participants(event)
    assert participants[chosen[0].pk].reason == "offline"
    assert participants[chosen[1].pk].reason == "not delivering (telemetry shortfall)"
    assert participants[spare[0].pk].role == Role.EXCLUDED
    assert participants[spare[0].pk].reason == "not plugged in"
    assert result.dropped == 2 and result.added == 2
    assert {participants[v.pk].role for v in spare[1:]} == {Role.SELECTED}
    # The dropped vehicles' accepted commands are withdrawn through their agreements.
    cancelled = [kw for name, kw in outbox["cancels"] if name == "devices.cancel_commands"]
    withdrawn = {pk for kw in cancelled for pk in kw["command_ids"]}
    with scopes_disabled():
        expected = set(
            DeviceCommand.objects.filter(
                vehicle__in=chosen[:2], kind=DeviceCommand.Kind.DISCHARGE
            ).values_list("pk", flat=True)
        )
    assert withdrawn == expected


def test_with_no_reserves_left_the_shortfall_is_recorded(utility_a, outbox):
    event, chosen, _ = _planned_active_event(utility_a, dispatched=2, reserves=0)
    with scope(utility=utility_a.pk):
        record_opt_out(vehicle=chosen[0], event_ref=str(event.pk))
    result = replan_event(utility_id=event.utility_id, event_id=event.pk)
    assert result.dropped == 1 and result.added == 0
    with scopes_disabled():
        run = EventPlanRun.objects.filter(event=event).latest("id")
    assert run.committed_kw[-1] == pytest.approx(DISCHARGE_KW)


def test_an_opt_out_replans_at_once_through_the_signal(
    utility_a, outbox, eager_tasks, django_capture_on_commit_callbacks
):
    event, chosen, spare = _planned_active_event(utility_a)
    with django_capture_on_commit_callbacks(execute=True), scope(utility=utility_a.pk):
        record_opt_out(vehicle=chosen[0], event_ref=str(event.pk))
    participants = _participants(event)
    assert participants[chosen[0].pk].role == Role.DROPPED
    assert any(participants[v.pk].role == Role.SELECTED for v in spare)


def test_the_live_events_task_replans_every_planned_live_event(
    utility_a, utility_b, outbox, eager_tasks
):
    event_a, chosen_a, _ = _planned_active_event(utility_a)
    event_b, _, _ = _planned_active_event(utility_b)
    _set_state(chosen_a[0], ts=timezone.now() - timedelta(hours=2))
    unplanned = _active_event(utility_a, open_program(utility_a), target_kw=5)

    assert tasks.replan_live_events.delay().get() == 2

    assert _participants(event_a)[chosen_a[0].pk].role == Role.DROPPED
    with scopes_disabled():
        assert EventPlanRun.objects.filter(event=event_b).count() == 1
        assert not EventPlanRun.objects.filter(event=unplanned).exists()


def test_a_completed_event_is_not_replanned(utility_a, outbox):
    event, chosen, _ = _planned_active_event(utility_a)
    _set_state(chosen[0], ts=timezone.now() - timedelta(hours=2))
    later = timezone.now() + timedelta(hours=2)
    assert (
        replan_event(utility_id=event.utility_id, event_id=event.pk, now=later).status
        == "not_plannable"
    )


# --- New revisions ----------------------------------------------------------------------------


def test_an_extension_replans_and_withdraws_the_previous_revision(utility_a, outbox):
    event, chosen, spare = _planned_active_event(utility_a, dispatched=2, reserves=0)
    first = _commands(event)
    with scope(utility=utility_a.pk):
        extend(
            event=Event.objects.get(pk=event.pk), minutes=30, actor=None,
            expected_modification=event.modification_number, reason="heat wave",
        )  # fmt: skip
    event.refresh_from_db()

    result = activate_event(utility_id=event.utility_id, event_id=event.pk)

    assert result.status == "issued" and event.modification_number == 1
    latest = _commands(event, revision=1)
    assert {c.vehicle_id for c in latest} == {v.pk for v in chosen}
    assert all(c.ends_at <= event.ends_at for c in latest)
    assert max(c.ends_at for c in latest) > max(c.ends_at for c in first)
    cancelled = [kw for name, kw in outbox["cancels"] if name == "devices.cancel_commands"]
    assert {pk for kw in cancelled for pk in kw["command_ids"]} == {c.pk for c in first}
    with scopes_disabled():
        runs = list(EventPlanRun.objects.filter(event=event).order_by("id"))
    assert [r.revision for r in runs] == [0, 1]
    # Planned from now on, not from the event's start.
    assert runs[1].interval_starts[0] >= runs[0].interval_starts[0] > event.starts_at.isoformat()


def test_a_vehicle_no_longer_dispatched_after_a_revision_is_restored(utility_a, outbox):
    program = open_program(utility_a)
    vehicles = [_enrolled(program) for _ in range(2)]
    event = _active_event(utility_a, program, target_kw=None, minutes_ago=-30)
    activate_event(utility_id=event.utility_id, event_id=event.pk)
    _set_state(vehicles[0], plugged_in=False)
    with scopes_disabled():
        Event.objects.filter(pk=event.pk).update(modification_number=1)

    activate_event(utility_id=event.utility_id, event_id=event.pk)

    restores = _commands(event, kind=DeviceCommand.Kind.RESTORE)
    assert [c.vehicle_id for c in restores] == [vehicles[0].pk]
    assert _participants(event)[vehicles[0].pk].role == Role.EXCLUDED


def test_ending_early_withdraws_the_live_commands(utility_a, outbox):
    event, chosen, _ = _planned_active_event(utility_a, dispatched=2, reserves=0)
    with scopes_disabled():
        Event.objects.filter(pk=event.pk).update(ended_early_at=timezone.now())
    result = cancel_or_end(utility_id=event.utility_id, event_id=event.pk)
    assert result.vehicles == 2
    cancelled = [kw for name, kw in outbox["cancels"] if name == "devices.cancel_commands"]
    with scopes_disabled():
        live = set(
            DeviceCommand.objects.filter(
                source_id=str(event.pk), kind=DeviceCommand.Kind.DISCHARGE
            ).values_list("pk", flat=True)
        )
    assert {pk for kw in cancelled for pk in kw["command_ids"]} == live


def test_opted_out_reserves_are_never_brought_in(utility_a, outbox):
    event, chosen, spare = _planned_active_event(utility_a, dispatched=2, reserves=2)
    with scopes_disabled():
        OptOut.objects.create(
            utility=utility_a, partner_id=spare[0].partner_id, vehicle=spare[0],
            starts_at=event.starts_at, ends_at=event.ends_at,
        )  # fmt: skip
        DeviceCommand.objects.filter(vehicle=chosen[0], source_id=str(event.pk)).update(
            status=Status.REJECTED
        )
    replan_event(utility_id=event.utility_id, event_id=event.pk)
    participants = _participants(event)
    assert participants[spare[0].pk].role == Role.EXCLUDED
    assert participants[spare[1].pk].role == Role.SELECTED


def test_a_start_time_only_departure_uses_the_next_morning(utility_a, outbox):
    program = open_program(utility_a)
    vehicle = _enrolled(program)
    event = _active_event(utility_a, program, target_kw=None, minutes_ago=-30)
    start_local = event.starts_at.astimezone(utility_a.tzinfo)
    # Leaves every day an hour before the event's local start: next departure is tomorrow.
    with scopes_disabled():
        CustomerPreference.objects.create(
            utility=utility_a, vehicle=vehicle,
            departure_time=time((start_local.hour - 1) % 24, start_local.minute),
            target_soc_pct=80,
        )  # fmt: skip
    activate_event(utility_id=event.utility_id, event_id=event.pk)
    assert _participants(event)[vehicle.pk].role == Role.SELECTED


def test_restores_after_an_early_end_are_staggered_and_spare_held_vehicles(
    utility_a, outbox, settings
):
    event, chosen, _ = _planned_active_event(utility_a, dispatched=6, reserves=0, target_kw=None)
    # One of them is dispatched in another live event: its restore must not touch it.
    other = make_event(utility_a, program=event.program, starts_at=event.starts_at)
    with scopes_disabled():
        EventParticipant.objects.create(
            utility=utility_a, event=other, vehicle=chosen[0], role=EventParticipant.Role.SELECTED,
            selected_at=event.starts_at,
        )  # fmt: skip
    ended = timezone.now().replace(microsecond=0)
    with scopes_disabled():
        Event.objects.filter(pk=event.pk).update(ended_early_at=ended, modification_number=1)
    cancel_or_end(utility_id=event.utility_id, event_id=event.pk, now=ended)

    with scopes_disabled():
        restores = list(DeviceCommand.objects.filter(source_id=str(event.pk), kind=Kind.RESTORE))
        holds = {
            c.vehicle_id: c
            for c in DeviceCommand.objects.filter(source_id=str(event.pk), kind=Kind.CURTAIL)
        }
    assert {c.vehicle_id for c in restores} == {v.pk for v in chosen[1:]}
    window = timedelta(minutes=15)
    assert all(ended <= c.starts_at < ended + window for c in restores)
    assert len({c.starts_at for c in restores}) > 1  # spread, not all at once
    for c in restores:
        if c.starts_at > ended:  # until its turn the vehicle holds at 0 kW
            hold = holds[c.vehicle_id]
            assert (hold.starts_at, hold.ends_at, hold.setpoint_kw) == (ended, c.starts_at, 0)
    assert chosen[0].pk not in holds


def test_the_restore_window_is_a_setting(settings):
    settings.DISPATCH_RESTORE_STAGGER_MINUTES = 5
    assert dispatch_commands.restore_stagger() == timedelta(minutes=5)
    settings.DISPATCH_RESTORE_STAGGER_MINUTES = "soon"
    with pytest.raises(ValueError, match="DISPATCH_RESTORE_STAGGER_MINUTES"):
        dispatch_commands.restore_stagger()
