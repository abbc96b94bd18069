"""Issue 14, point 7, against OpenLEADR's VTN on loopback (mutual TLS, signed messages): an
event's target follows each of its intervals — into the event's profile, the vehicles'
commands and the emergency treatment of a SIMPLE level 3 interval only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from devices.models import DeviceCommand, VehicleState
from dispatch.execution.activation import activate_event
from dispatch.models import Event, GridSignalRoute
from portal.roles import Role
from tests.devices.factories import ChargerFactory
from tests.dispatch.events_support import open_program
from tests.dispatch.grid_support import Loop, route, source
from tests.dispatch.test_ven_protocol import answered, grid_events, make_running, wait_answer
from tests.dispatch.vtn_support import ScriptedVtn, running_ven, vtn_event
from tests.enrollment.factories import EnrollmentFactory
from tests.portal.factories import make_member

pytestmark = pytest.mark.django_db(transaction=True)
DISCHARGE_KW = 9.6


@pytest.fixture
def loop():
    loop = Loop()
    yield loop
    loop.close()


@pytest.fixture
def vtn(loop, tmp_path):
    vtn = ScriptedVtn(loop, tmp_path)
    yield vtn
    vtn.stop()


@pytest.fixture
def src(utility_a, vtn):
    src = source(utility_a, vtn_url=vtn.url, vtn_fingerprint=vtn.fingerprint)
    route(src, open_program(utility_a, name="Peak relief", status="open"))
    return src


def _fleet(src, n):
    with scopes_disabled():
        program = GridSignalRoute.objects.get(source=src).program
    now = timezone.now()
    for _ in range(n):
        charger = ChargerFactory(
            utility=program.utility, max_discharge_kw=11.5, approved_export_kw=DISCHARGE_KW
        )
        vehicle = EnrollmentFactory(program=program, vehicle__charger=charger).vehicle
        with scopes_disabled():
            VehicleState.objects.create(
                utility=program.utility, vehicle=vehicle, ts=now, soc_pct=80, power_kw=0.0,
                plugged_in=True, charging_state="idle", updated_at=now,
            )  # fmt: skip


def _commanded_kw(event, at):
    """The kW the event's discharge commands ask for at ``at``, the whole fleet together."""
    with scopes_disabled():
        commands = DeviceCommand.objects.filter(
            source_type="dispatch.event",
            source_id=str(event.pk),
            kind=DeviceCommand.Kind.DISCHARGE,
            starts_at__lte=at,
            ends_at__gt=at,
        )
        return -sum(c.setpoint_kw for c in commands)


def test_an_event_of_three_intervals_becomes_a_profile_the_commands_follow(
    utility_a, src, vtn, loop, settings, client
):
    _fleet(src, 12)
    starts = (timezone.now() + timedelta(minutes=30)).replace(second=0, microsecond=0)
    vtn.distribute(vtn_event("steps", starts_at=starts, minutes=45, values=(30, 80, 10)))
    with running_ven(loop, settings, vtn):
        wait_answer(vtn, "steps", 0, "optIn")
    (event,) = grid_events(utility_a)
    assert event.duration_minutes == 45 and event.target_kw == 80.0
    assert [(r["offset_minutes"], r["duration_minutes"], r["target_kw"]) for r in
            event.target_profile] == [(0, 15, 30.0), (15, 15, 80.0), (30, 15, 10.0)]  # fmt: skip

    # Planned when its notice begins (the beat's due-events run does this in production).
    result = activate_event(utility_id=utility_a.pk, event_id=event.pk, now=event.notify_at)

    assert result.status == "issued"
    minute = timedelta(minutes=1)
    first, second, third = (_commanded_kw(event, starts + m * minute) for m in (7, 22, 37))
    assert 33.0 - 0.1 <= first <= 34.0  # 30 kW and the reserve margin, not the fleet
    assert second >= 88.0  # 80 kW and the margin: the fleet was sized for it
    assert 11.0 - 0.1 <= third <= 12.0
    client.force_login(make_member(Role.DR_OPERATOR, utility=utility_a))
    page = client.get(reverse("utility:event_detail", args=[utility_a.slug, event.pk]))
    body = page.content.decode()
    assert 'id="event-target-profile"' in body and "80 kW" in body and "10 kW" in body


def test_simple_levels_1_then_3_are_an_emergency_on_the_second_interval_only(
    utility_a, src, vtn, loop, settings
):
    starts = (timezone.now() + timedelta(hours=3)).replace(second=0, microsecond=0)
    vtn.distribute(
        vtn_event("levels", starts_at=starts, minutes=60, values=(1, 3), signal_name="SIMPLE")
    )
    with running_ven(loop, settings, vtn):
        wait_answer(vtn, "levels", 0, "optIn")
    (event,) = grid_events(utility_a)
    assert event.event_type != Event.Type.EMERGENCY
    assert [(s.target_kw, s.level, s.emergency) for s in event.profile_steps()] == [
        (None, 1.0, False),
        (None, 3.0, True),
    ]
    assert not event.emergency_at(starts + timedelta(minutes=10))
    assert event.emergency_at(starts + timedelta(minutes=40))


def test_new_interval_values_for_a_running_event_carry_over_to_its_replacement(
    utility_a, src, vtn, loop, settings
):
    starts = timezone.now() - timedelta(minutes=5)
    vtn.distribute(vtn_event("change", starts_at=starts, minutes=60, values=(40, 40)))
    with running_ven(loop, settings, vtn):
        wait_answer(vtn, "change", 0, "optIn")
        (event,) = grid_events(utility_a)
        make_running(event)
        vtn.distribute(vtn_event("change", starts_at=starts, modification=1, values=(40, 70)))
        wait_answer(vtn, "change", 1)
    assert answered(vtn, "change", 1, "optIn"), vtn.answers()
    old, new = grid_events(utility_a)
    assert old.pk == event.pk and new.cancelled_at is None
    # What is left of the VTN's 60 minutes, from the next minute: 40 kW until its 30th, then 70.
    rows = new.target_profile
    assert [r["target_kw"] for r in rows] == [40.0, 70.0]
    boundary = new.starts_at + timedelta(minutes=rows[1]["offset_minutes"])
    assert abs(boundary - (starts + timedelta(minutes=30))) < timedelta(minutes=1)
    assert sum(r["duration_minutes"] for r in rows) == new.duration_minutes
