"""Event execution: planning a due event into commands, restores, the due-events fan-out."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from devices import tasks as adapter_tasks
from devices.models import DeviceCommand, OptOut, VehicleState
from dispatch import tasks
from dispatch.execution.activation import activate_event
from dispatch.execution.restores import cancel_or_end
from dispatch.models import EventPlanRun
from portal.models import AuditEvent
from tests.devices.factories import ChargerFactory
from tests.dispatch.events_support import make_event, open_program
from tests.enrollment.factories import EnrollmentFactory

pytestmark = pytest.mark.django_db

DISCHARGE_KW = 9.6  # the charger's approved export: the binding discharge limit


def _enrolled(program, *, soc_pct=80, plugged_in=True):
    charger = ChargerFactory(
        utility=program.utility, max_discharge_kw=11.5, approved_export_kw=DISCHARGE_KW
    )
    e = EnrollmentFactory(program=program, vehicle__charger=charger)
    now = timezone.now()
    with scopes_disabled():
        VehicleState.objects.create(
            utility=program.utility, vehicle=e.vehicle, ts=now, soc_pct=soc_pct,
            power_kw=0.0, plugged_in=plugged_in, charging_state="idle", updated_at=now,
        )  # fmt: skip
    return e.vehicle


def _due_event(utility, *, program=None, **fields):
    """Notified: starts in 30 minutes, notice an hour ahead."""
    return make_event(
        utility, program=program, starts_at=timezone.now() + timedelta(minutes=30), **fields
    )


def _commands(event, **filters):
    with scopes_disabled():
        return list(
            DeviceCommand.objects.filter(
                source_type="dispatch.event", source_id=str(event.pk), **filters
            )
        )


@pytest.fixture
def deliveries(monkeypatch):
    calls = []

    def record(*, utility_id, partner_ids):
        calls.append((utility_id, set(partner_ids)))

    monkeypatch.setattr(adapter_tasks, "enqueue_delivery", record)
    return calls


def test_activation_issues_one_set_of_commands_within_limits(utility_a, deliveries):
    program = open_program(utility_a, discharge_soc_floor_pct=20)
    vehicles = [_enrolled(program) for _ in range(3)]
    _enrolled(program, plugged_in=False)
    event = _due_event(utility_a, program=program, duration_minutes=60)

    result = activate_event(utility_id=event.utility_id, event_id=event.pk)

    commands = _commands(event)
    assert result.status == "issued"
    assert result.vehicles == 3
    assert {c.vehicle_id for c in commands} == {v.pk for v in vehicles}
    assert len(commands) == 3  # one per vehicle, over its active window
    assert all(c.kind == DeviceCommand.Kind.DISCHARGE for c in commands)
    assert all(c.revision == event.modification_number for c in commands)
    assert all(-DISCHARGE_KW - 1e-9 <= c.setpoint_kw < 0 for c in commands)
    assert all(event.starts_at <= c.starts_at < c.ends_at <= event.ends_at for c in commands)
    assert deliveries == [(utility_a.pk, {v.partner_id for v in vehicles})]


def test_activating_twice_issues_nothing_new(utility_a, deliveries):
    program = open_program(utility_a)
    _enrolled(program)
    event = _due_event(utility_a, program=program)
    activate_event(utility_id=event.utility_id, event_id=event.pk)
    before = len(_commands(event))

    again = activate_event(utility_id=event.utility_id, event_id=event.pk)

    assert again.status == "already_planned"
    assert len(_commands(event)) == before > 0
    assert len(deliveries) == 1


def test_an_event_not_yet_notified_is_not_planned(utility_a, deliveries):
    program = open_program(utility_a)
    _enrolled(program)
    event = make_event(utility_a, program=program)  # tomorrow
    assert activate_event(utility_id=event.utility_id, event_id=event.pk).status == "not_plannable"
    assert _commands(event) == []


def test_opted_out_vehicles_get_no_discharge_commands(utility_a, deliveries):
    program = open_program(utility_a)
    kept = _enrolled(program)
    by_event = _enrolled(program)
    by_range = _enrolled(program)
    event = _due_event(utility_a, program=program)
    with scopes_disabled():
        OptOut.objects.create(
            utility=utility_a, partner_id=by_event.partner_id, vehicle=by_event,
            event_ref=str(event.pk),
        )  # fmt: skip
        OptOut.objects.create(
            utility=utility_a, partner_id=by_range.partner_id, vehicle=by_range,
            starts_at=event.starts_at - timedelta(hours=1), ends_at=event.ends_at,
        )  # fmt: skip

    activate_event(utility_id=event.utility_id, event_id=event.pk)

    assert {c.vehicle_id for c in _commands(event)} == {kept.pk}


def test_cancellation_issues_restore_commands(utility_a, deliveries):
    program = open_program(utility_a)
    vehicles = [_enrolled(program) for _ in range(2)]
    event = _due_event(utility_a, program=program)
    activate_event(utility_id=event.utility_id, event_id=event.pk)
    with scopes_disabled():
        event.cancelled_at = timezone.now()
        event.modification_number += 1
        event.save()

    result = cancel_or_end(utility_id=event.utility_id, event_id=event.pk)
    again = cancel_or_end(utility_id=event.utility_id, event_id=event.pk)

    restores = _commands(event, kind=DeviceCommand.Kind.RESTORE)
    holds = _commands(event, kind=DeviceCommand.Kind.CURTAIL)
    # Staggered: each vehicle holds at 0 kW, then restores (see test_restores_are_staggered).
    assert result.created == len(restores) + len(holds) and again.created == 0
    assert {c.vehicle_id for c in restores} == {v.pk for v in vehicles}
    assert all(c.revision == event.modification_number for c in restores)
    assert all(c.setpoint_kw == 0 for c in restores)
    assert deliveries[-1] == (utility_a.pk, {v.partner_id for v in vehicles})
    # A cancelled event is never planned again.
    assert activate_event(utility_id=event.utility_id, event_id=event.pk).status == "not_plannable"


def test_cancelling_in_the_console_restores_the_commanded_vehicles(
    utility_a, deliveries, eager_tasks, django_capture_on_commit_callbacks
):
    from dispatch.services.events import cancel_event

    program = open_program(utility_a)
    vehicles = [_enrolled(program) for _ in range(2)]
    event = _due_event(utility_a, program=program)
    activate_event(utility_id=event.utility_id, event_id=event.pk)

    with django_capture_on_commit_callbacks(execute=True), scope(utility=utility_a.pk):
        cancel_event(event=event, actor=None, reason="feeder back to normal")

    restores = _commands(event, kind=DeviceCommand.Kind.RESTORE)
    assert {c.vehicle_id for c in restores} == {v.pk for v in vehicles}


def test_a_live_event_gets_no_restore_commands(utility_a, deliveries):
    program = open_program(utility_a)
    _enrolled(program)
    event = _due_event(utility_a, program=program)
    activate_event(utility_id=event.utility_id, event_id=event.pk)
    assert cancel_or_end(utility_id=event.utility_id, event_id=event.pk).status == "not_plannable"
    assert _commands(event, kind=DeviceCommand.Kind.RESTORE) == []


def test_the_due_events_task_picks_only_due_unplanned_events_of_any_utility(
    utility_a, utility_b, deliveries, eager_tasks
):
    program_a = open_program(utility_a)
    program_b = open_program(utility_b)
    _enrolled(program_a)
    _enrolled(program_b)
    due_a = _due_event(utility_a, program=program_a)
    due_b = _due_event(utility_b, program=program_b)
    later = make_event(utility_a, program=program_a)  # tomorrow: not notified yet
    past = make_event(
        utility_b, program=program_b, starts_at=timezone.now() - timedelta(hours=5),
        duration_minutes=60,
    )  # fmt: skip
    cancelled = _due_event(utility_b, program=program_b, cancelled_at=timezone.now())
    draft = _due_event(utility_a, program=program_a, scheduled=False)
    already = _due_event(utility_a, program=program_a)
    activate_event(utility_id=already.utility_id, event_id=already.pk)
    issued_before = len(_commands(already))

    started = tasks.activate_due_events.delay().get()

    assert started == 2
    assert _commands(due_a) and _commands(due_b)
    for event in (later, past, cancelled, draft):
        assert _commands(event) == []
    assert len(_commands(already)) == issued_before
    assert tasks.activate_due_events.delay().get() == 0


def test_the_due_events_task_respects_its_batch_size(utility_a, deliveries, eager_tasks):
    program = open_program(utility_a)
    _enrolled(program)
    for _ in range(3):
        _due_event(utility_a, program=program)
    assert tasks.activate_due_events.delay(batch_size=2).get() == 2
    assert tasks.activate_due_events.delay(batch_size=2).get() == 1
    assert tasks.activate_due_events.delay(batch_size=2).get() == 0


def test_the_activate_task_runs_in_the_event_utility(utility_a, deliveries, eager_tasks):
    program = open_program(utility_a)
    _enrolled(program)
    event = _due_event(utility_a, program=program)
    result = tasks.activate_event.delay(utility_id=utility_a.pk, event_id=event.pk).get()
    assert result["status"] == "issued" and result["created"] > 0


def test_it_refuses_a_task_for_another_utilitys_event(
    utility_a, utility_b, deliveries, eager_tasks
):
    program = open_program(utility_a)
    _enrolled(program)
    event = _due_event(utility_a, program=program)

    for task in (tasks.activate_event, tasks.replan_event):
        result = task.delay(utility_id=utility_b.pk, event_id=event.pk).get()
        assert result["status"] == "refused" and result["code"] == "event_unknown"
    assert tasks.restore_event.delay(utility_id=utility_b.pk, event_id=event.pk).get() == 0

    with scopes_disabled():
        assert not EventPlanRun.objects.filter(event=event).exists()
    assert _commands(event) == []
    assert deliveries == []


def test_an_event_with_nothing_to_send_is_planned_once(utility_a, deliveries, eager_tasks):
    program = open_program(utility_a)
    _enrolled(program, plugged_in=False)
    event = _due_event(utility_a, program=program)

    assert tasks.activate_due_events.delay().get() == 1
    assert (
        activate_event(utility_id=event.utility_id, event_id=event.pk).status == "already_planned"
    )
    assert tasks.activate_due_events.delay().get() == 0
    assert _commands(event) == []
    assert deliveries == []
    with scopes_disabled():
        row = AuditEvent.objects.get(action="event.planned", object_id=str(event.pk))
    assert row.changes["revision"] == event.modification_number
    assert row.changes["excluded"] == 1 and row.changes["commands"] == 0
    with scopes_disabled():
        run = EventPlanRun.objects.get(event=event)
    assert run.revision == event.modification_number and run.reasons == {"not plugged in": 1}
