"""The imported premise meter data is what dispatch's V2H M&V credits (through the default
``DISPATCH_PREMISE_INTERVAL_SOURCE``), and the EV interval readers over the rollups."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django_scopes import scope

from billing.selectors.meter import (
    daily_energy,
    ev_interval_rows,
    ev_intervals,
    premise_intervals,
)
from billing.selectors.premise_relief import avoided_import_kw
from dispatch.measurement.run import measure_event
from dispatch.models import Event
from enrollment.models import Enrollment
from tests.billing.factories import csv_bytes, meter_import
from tests.customers.factories import ServiceAccountFactory
from tests.devices.factories import VehicleFactory
from tests.dispatch.mv_support import add_participant, daily, local, mv_event, quarters, rollups

pytestmark = pytest.mark.django_db

EVENT_DAY = date(2026, 7, 15)  # a Wednesday
DAYS = [
    EVENT_DAY - timedelta(days=n)
    for n in range(1, 15)
    if (EVENT_DAY - timedelta(days=n)).weekday() < 5
]


def _premise_csv(utility, *, event_day_17h_kwh: str, event_day_other_kwh: str = "1") -> bytes:
    """Hourly premise meter data for the 46 days up to the event day's end: 3 kWh in the
    17:00 local hour, 1 kWh in every other; on the event day as given."""
    tz = utility.tzinfo
    start = datetime.combine(EVENT_DAY - timedelta(days=46), time(0), tzinfo=tz).astimezone(UTC)
    hours = 47 * 24
    values = []
    for n in range(hours):
        moment = (start + timedelta(hours=n)).astimezone(tz)
        if moment.date() == EVENT_DAY:
            values.append(event_day_17h_kwh if moment.hour == 17 else event_day_other_kwh)
        else:
            values.append("3" if moment.hour == 17 else "1")
    return csv_bytes(start, values)


def _v2h_event(utility):
    start = local(utility, EVENT_DAY, 17)
    return start, mv_event(
        utility, starts_at=start, duration_minutes=60, event_type=Event.Type.V2H_HOME_SUPPLY
    )


def test_v2h_relief_is_the_homes_metered_avoided_import(utility_a):
    account = ServiceAccountFactory(utility=utility_a)
    meter_import(account, data=_premise_csv(utility_a, event_day_17h_kwh="0.5"))
    start, event = _v2h_event(utility_a)
    car = VehicleFactory(utility=utility_a, service_account=account)
    daily(car, DAYS, start=time(17), end=time(18), kw=0)
    rollups(car, quarters(start, start + timedelta(hours=1)), -10)
    add_participant(event, car, rating_kw=11.5)

    with scope(utility=utility_a.pk):
        measure_event(event.pk, now=start + timedelta(hours=3))
    event.refresh_from_db()

    summary = event.measurement["summary"]
    # Baseline 3 kW (the 17:00 hour on the 10 latest weekdays), metered 0.5 kW: 2.5 kW
    # avoided for an hour, not the car's 10 kW nor the 1.2 kW estimate.
    assert summary["home_supply"]["metered"] == 1
    assert summary["home_supply"]["estimated"] == 0
    assert summary["delivered_kwh"] == 2.5


def test_avoided_import_follows_the_same_day_adjustment_and_skips_uncovered_intervals(utility_a):
    account = ServiceAccountFactory(utility=utility_a)
    # The event day runs 50% above the baseline days before the event: the same-day factor
    # is capped at 1.2, so the baseline is 3.6 kW and 1 kW metered avoids 2.6 kW.
    data = _premise_csv(utility_a, event_day_17h_kwh="1", event_day_other_kwh="1.5")
    meter_import(account, data=data)
    start, event = _v2h_event(utility_a)
    grid = quarters(start, start + timedelta(hours=1)) + [start + timedelta(hours=30)]

    with scope(utility=utility_a.pk):
        found = avoided_import_kw(event=event, account_ids=[account.pk, 999999], grid=grid)

    assert found == {account.pk: [2.6, 2.6, 2.6, 2.6, None]}  # no meter data the next day


def test_an_account_without_meter_data_is_left_to_the_estimate(utility_a):
    account = ServiceAccountFactory(utility=utility_a)
    start, event = _v2h_event(utility_a)

    with scope(utility=utility_a.pk):
        assert avoided_import_kw(event=event, account_ids=[account.pk], grid=[start]) == {}


def test_premise_intervals_and_daily_energy_read_the_stored_series(utility_a):
    account = ServiceAccountFactory(utility=utility_a)
    start = local(utility_a, date(2026, 6, 1), 22).astimezone(UTC)
    meter_import(account, data=csv_bytes(start, ["1", "2", "-0.5", "4"]))

    with scope(utility=utility_a.pk):
        intervals = premise_intervals(account, start, start + timedelta(hours=3))
        days = daily_energy(
            account, start=start, end=start + timedelta(days=1), tz=utility_a.tzinfo
        )

    assert [(i.seconds, i.kwh) for i in intervals] == [
        (3600, Decimal("1.000000")),
        (3600, Decimal("2.000000")),
        (3600, Decimal("-0.500000")),
    ]
    # 22:00 and 23:00 local on 1 June, 00:00 and 01:00 on 2 June.
    assert [(d.day, d.import_kwh, d.export_kwh) for d in days] == [
        (date(2026, 6, 1), Decimal("3.000000"), Decimal(0)),
        (date(2026, 6, 2), Decimal("4.000000"), Decimal("0.500000")),
    ]


def test_ev_intervals_are_charging_plus_and_discharging_minus(utility_a):
    car = VehicleFactory(utility=utility_a)
    start = datetime(2026, 7, 1, 0, tzinfo=UTC)
    rollups(car, [start], 8)
    rollups(car, [start + timedelta(minutes=15)], -4)

    with scope(utility=utility_a.pk):
        intervals = ev_intervals(car, start, start + timedelta(hours=1))

    assert [(i.start, i.seconds, i.kwh) for i in intervals] == [
        (start, 900, Decimal("2.000000")),
        (start + timedelta(minutes=15), 900, Decimal("-1.000000")),
    ]


def test_ev_interval_rows_serve_many_vehicles_in_one_query(utility_a, django_assert_num_queries):
    start = datetime(2026, 7, 1, 0, tzinfo=UTC)
    cars = []
    for kw in (4, -8, 12):
        car = VehicleFactory(
            utility=utility_a, service_account=ServiceAccountFactory(utility=utility_a)
        )
        rollups(car, quarters(start, start + timedelta(hours=1)), kw)
        cars.append(car)
    rollups(cars[0], [start + timedelta(hours=5)], 4)  # outside the period

    with scope(utility=utility_a.pk), django_assert_num_queries(1):
        from devices.models import Vehicle

        rows = list(
            ev_interval_rows(
                vehicles=Vehicle.objects.filter(pk__in=[c.pk for c in cars[:2]]).values("pk"),
                start=start,
                end=start + timedelta(hours=1),
            ).order_by("vehicle_id", "start")
        )

    assert len(rows) == 8
    assert rows[0] == {
        "vehicle_id": cars[0].pk,
        "account_id": cars[0].service_account_id,
        "start": start,
        "kwh": Decimal("1.000000"),
    }
    assert {row["kwh"] for row in rows[4:]} == {Decimal("-2.000000")}


def test_ev_intervals_of_an_enrollment_read_its_vehicle(utility_a):
    car = VehicleFactory(utility=utility_a)
    start = datetime(2026, 7, 1, 0, tzinfo=UTC)
    rollups(car, [start], 2)

    with scope(utility=utility_a.pk):
        intervals = ev_intervals(Enrollment(vehicle=car), start, start + timedelta(minutes=15))

    assert [i.kwh for i in intervals] == [Decimal("0.500000")]
