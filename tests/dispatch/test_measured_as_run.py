"""M&V of an event as it ran: an early end is measured over the
minutes it ran with its partial interval pro-rated, the hour after it is rebound (never
delivery), and a V2H car supplying its home counts the home's avoided import only."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from django_scopes import scope, scopes_disabled

from dispatch.measurement.run import measure_event
from dispatch.models import Event
from tests.customers.factories import ServiceAccountFactory
from tests.devices.factories import VehicleFactory
from tests.dispatch.mv_support import (
    add_participant,
    daily,
    local,
    mv_event,
    quarters,
    rollups,
    weekdays_before,
)

pytestmark = pytest.mark.django_db

EVENT_DAY = date(2026, 7, 15)  # a Wednesday
DAYS = weekdays_before(EVENT_DAY, 10, skip=[date(2026, 7, 3)])


def _measure(utility, event, *, at):
    with scope(utility=utility.pk):
        measure_event(event.pk, now=at)
    event.refresh_from_db()
    return event.measurement


def test_it_measures_an_event_ended_early_over_the_minutes_it_ran(utility_a):
    # 45 minutes planned, ended after 17: 17 minutes of 10 kW export (a 2 kW baseline).
    start = local(utility_a, EVENT_DAY, 17)
    event = mv_event(
        utility_a, starts_at=start, duration_minutes=45, target_kw=10,
        ended_early_at=start + timedelta(minutes=17),
    )  # fmt: skip
    vehicle = VehicleFactory(utility=utility_a)
    daily(vehicle, DAYS, start=time(17), end=time(19), kw=2)
    rollups(vehicle, quarters(start, start + timedelta(minutes=15)), -8)
    # The second interval: 2 minutes of export, then 13 of charging back at 12 kW.
    rollups(vehicle, [start + timedelta(minutes=15)], (2 * -8 + 13 * 12) / 15)
    # The hour after: charging back at 12 kW for 15 minutes, then the usual 2 kW.
    rollups(vehicle, [start + timedelta(minutes=30)], 12)
    rollups(vehicle, quarters(start + timedelta(minutes=45), start + timedelta(minutes=90)), 2)
    add_participant(event, vehicle, rating_kw=11.5)

    result = _measure(utility_a, event, at=start + timedelta(hours=3))

    summary = result["summary"]
    assert summary["measured_minutes"] == 17.0
    assert len(result["interval_starts"]) == 2  # the interval the end falls in, pro-rated
    # 15 min at 10 kW, and 2/15 of the second interval (whose average is load, not relief).
    assert summary["delivered_kwh"] == 2.5
    assert summary["average_delivered_kw"] == round(2.5 / (17 / 60), 3)
    assert summary["percent_of_target"] == round(100 * 2.5 / (17 / 60) / 10, 1)
    rebound = result["rebound"]
    assert rebound["complete"] and rebound["window_minutes"] == 60
    # 13/15 of the second interval (the 7.333 kW average above the 2 kW baseline), then 10
    # kW above baseline for a whole quarter hour; nothing after.
    kw = [i["rebound_kw"] for i in rebound["intervals"]]
    assert kw[:2] == pytest.approx([(9.333 - 2) * 13 / 15, 10.0], abs=2e-3)
    assert all(v == 0 for v in kw[2:])
    assert rebound["kwh"] == summary["rebound_kwh"] > 0
    with scopes_disabled():
        participant = event.participants.get()
    assert participant.rebound_kwh == rebound["kwh"]


def test_it_credits_a_v2h_car_with_the_homes_avoided_import_only(utility_a, settings):
    settings.DISPATCH_V2H_PREMISE_LOAD_KW = 1.5
    start = local(utility_a, EVENT_DAY, 17)
    event = mv_event(
        utility_a, starts_at=start, duration_minutes=60, event_type=Event.Type.V2H_HOME_SUPPLY
    )
    grid = quarters(start, start + timedelta(hours=1))
    idle, charging = VehicleFactory.create_batch(2, utility=utility_a)
    daily(idle, DAYS, start=time(17), end=time(18), kw=0)
    daily(charging, DAYS, start=time(17), end=time(18), kw=3)
    rollups(idle, grid, -10)  # 10 kW out of a backup-only car: the home only takes 1.5
    rollups(charging, grid, -10)  # its 3 kW of charging stopped counts in full
    add_participant(event, idle, rating_kw=11.5)
    add_participant(event, charging, rating_kw=11.5)

    result = _measure(utility_a, event, at=start + timedelta(hours=3))

    summary = result["summary"]
    assert summary["delivered_kwh"] == 1.5 + 4.5  # never the car's 10 kW
    assert summary["home_supply"] == {
        "premise_load_kw": 1.5, "metered": 0, "estimated": 2, "capped": 2,
    }  # fmt: skip


def premise_meter(*, event, account_ids, grid):
    """A stand-in for billing's premise interval reader: 0.8 kW avoided, every interval."""
    return {account_id: [0.8] * len(grid) for account_id in account_ids}


def test_premise_interval_data_wins_over_the_estimate(client, utility_a, settings):
    settings.DISPATCH_PREMISE_INTERVAL_SOURCE = f"{__name__}.premise_meter"
    start = local(utility_a, EVENT_DAY, 17)
    event = mv_event(
        utility_a, starts_at=start, duration_minutes=60, event_type=Event.Type.V2H_HOME_SUPPLY
    )
    car = VehicleFactory(
        utility=utility_a, service_account=ServiceAccountFactory(utility=utility_a)
    )
    daily(car, DAYS, start=time(17), end=time(18), kw=0)
    rollups(car, quarters(start, start + timedelta(hours=1)), -10)
    add_participant(event, car, rating_kw=11.5)

    summary = _measure(utility_a, event, at=start + timedelta(hours=3))["summary"]

    assert summary["delivered_kwh"] == 0.8
    assert summary["home_supply"]["metered"] == 1


def test_the_report_labels_a_v2h_figure_an_estimate_and_shows_the_rebound(client, utility_a):
    from django.urls import reverse

    from portal.roles import Role
    from tests.portal.factories import make_member

    start = local(utility_a, EVENT_DAY, 17)
    event = mv_event(
        utility_a, starts_at=start, duration_minutes=30, event_type=Event.Type.V2H_HOME_SUPPLY
    )
    car = VehicleFactory(utility=utility_a)
    daily(car, DAYS, start=time(17), end=time(19), kw=0)
    rollups(car, quarters(start, start + timedelta(minutes=30)), -10)
    rollups(car, quarters(start + timedelta(minutes=30), start + timedelta(hours=1)), 6)
    add_participant(event, car, rating_kw=11.5)
    _measure(utility_a, event, at=start + timedelta(hours=3))

    client.force_login(make_member(Role.PROGRAM_ANALYST, utility=utility_a))
    body = client.get(
        reverse("utility:event_report", args=[utility_a.slug, event.pk])
    ).content.decode()
    assert "Estimate" in body and "estimated load of 1.2 kW" in body
    assert "3.0 kWh of load above the baseline in the 60 min after the end" in body
