"""An OpenADR 3 event all the way to the vehicles, every part real: the VEN polls the loopback
3.0.1 VTN over HTTP, the event is scheduled under the program's guardrails, a Celery worker
process plans it and its commands go over HTTP to the fleet simulator, which accepts them;
the VTN then deletes the event and the worker withdraws the commands at the partner."""

from __future__ import annotations

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from demo.management.commands.run_portal import prepare_runtime_dirs
from devices.models import DeviceCommand
from devices.simulator.state import Behaviour
from dispatch.models import Event
from dispatch.tasks import activate_due_events
from tests.devices.simulator_support import running_simulator
from tests.dispatch import fleet_support
from tests.dispatch import openadr3_support as oa3
from tests.dispatch.openadr3_vtn import LoopbackVtn
from tests.portal.factories import AutomakerPartnerFactory
from tests.worker import celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

FLEET = 4
Status = DeviceCommand.Status


@pytest.fixture
def fleet(utility_a):
    partner = AutomakerPartnerFactory(name="Three Motors", slug="three")
    agreement = fleet_support.webhook_agreement(
        utility=utility_a, partner=partner, timeout_seconds=5.0
    )
    program = fleet_support.open_v2h_program(utility_a, slug="oa3-v2h")
    ids = fleet_support.build_fleet(
        utility=utility_a, partner=partner, program=program, size=FLEET, code="THR"
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


@pytest.fixture
def vtn():
    vtn = LoopbackVtn()
    yield vtn
    vtn.stop()
    vtn.assert_clean()


def _commands(event) -> list[DeviceCommand]:
    with scopes_disabled():
        return list(
            DeviceCommand.objects.filter(source_type="dispatch.event", source_id=str(event.pk))
        )


def test_an_openadr3_event_reaches_the_vehicles_and_its_deletion_withdraws_them(
    fleet, simulator, vtn
):
    src, vtn_program = oa3.routed(fleet.utility, vtn, fleet.program)
    starts = oa3.later(10, now=timezone.now())
    vtn_event = vtn.add_event(
        vtn_program,
        priority=1,
        **oa3.intervals(starts, "EXPORT_CAPACITY_LIMIT", [20, 20]),
        **oa3.kw_descriptor("EXPORT_CAPACITY_LIMIT"),
    )
    ven = oa3.Ven(src)
    ven.poll()
    with scopes_disabled():
        event = Event.objects.get(source=Event.Source.GRID_PROTOCOL)
    assert (event.target_kw, event.priority) == (20.0, 99)
    assert event.status == Event.Status.NOTIFIED  # told at once: it starts within the notice

    with celery_worker(name="oa3") as worker:
        activate_due_events.delay()
        wait_for(
            lambda: (
                len(_commands(event)) >= 3  # 20 kW (+ reserve margin) of 9.6 kW vehicles
                and all(c.status == Status.ACCEPTED for c in _commands(event))
            ),
            timeout=90,
            message=worker.log_path.read_text()[-3000:],
        )
        vtn.delete_event(vtn_event["id"])
        ven.poll()
        event.refresh_from_db()
        assert event.cancelled_at is not None
        dispatched = {c.vehicle_id for c in _commands(event)}

        def withdrawn() -> bool:
            # Cancelled at the partner, and each vehicle told to go back to normal charging.
            commands = _commands(event)
            discharges = [c for c in commands if c.kind == DeviceCommand.Kind.DISCHARGE]
            restores = {c.vehicle_id for c in commands if c.kind == DeviceCommand.Kind.RESTORE}
            return all(c.status == Status.CANCELLED for c in discharges) and restores == dispatched

        try:
            wait_for(withdrawn, timeout=90)
        except AssertionError:
            pytest.fail(f"{[(c.kind, c.status) for c in _commands(event)]}\n"
                        + worker.log_path.read_text()[-3000:])  # fmt: skip
