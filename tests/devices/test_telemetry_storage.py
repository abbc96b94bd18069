"""Telemetry storage: 15-minute energy rollups (checked by hand and against a recomputation
from every stored reading, whatever the order and batching of the posts), concurrent
batches, the latest-state selector and the retention command."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scope, scopes_disabled
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.models import TelemetryReading, TelemetryRollup, Vehicle, VehicleState
from devices.selectors import LatestState, latest_states
from devices.telemetry.ingest import ingest as ingest_batch
from devices.telemetry.readings import epoch_us
from devices.telemetry.rollups import energy_by_interval
from portal.models import AuditEvent
from tests.devices.factories import VehicleFactory
from tests.devices.partner_api import reading, readings_of, rollups_of, state_of, ts

pytestmark = pytest.mark.django_db


def ingest(vehicle, readings):
    with scope(utility=[vehicle.utility_id]):
        return ingest_batch(
            partner=vehicle.partner, utility_ids=[vehicle.utility_id], readings=readings
        )


def energies(vehicle) -> dict[datetime, tuple[float, float, int]]:
    return {
        start: (
            round(rollup.energy_charged_kwh, 9),
            round(rollup.energy_discharged_kwh, 9),
            rollup.readings,
        )
        for start, rollup in rollups_of(vehicle).items()
        if rollup.readings
        or rollup.energy_charged_kwh > 1e-9
        or rollup.energy_discharged_kwh > 1e-9
    }


def recomputed(vehicle) -> dict[datetime, tuple[float, float, int]]:
    """The rollups computed afresh from every stored reading."""
    points = [(epoch_us(r.ts), r.power_kw) for r in readings_of(vehicle)]
    return {
        datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=start): (
            round(charged, 9),
            round(discharged, 9),
            count,
        )
        for start, (charged, discharged, count) in energy_by_interval(points).items()
        if count or charged > 1e-9 or discharged > 1e-9
    }


B = ts(0)  # a quarter-hour boundary


def test_it_rolls_up_energy_per_quarter_hour(kestrel_api, vehicle):
    kestrel_api.post(
        "/api/v1/telemetry",
        {
            "readings": [
                reading(at=ts(0), power_kw=6),
                reading(at=ts(5), power_kw=6),
                reading(at=ts(10), power_kw=-6, charging_state="discharging"),
            ]
        },
        format="json",
    )

    rollups = rollups_of(vehicle)
    first, second = rollups[B], rollups[B + timedelta(minutes=15)]
    # 6 kW for 10 minutes; then −6 kW held for 15 minutes, 5 of them in the first quarter.
    assert first.energy_charged_kwh == pytest.approx(1.0)
    assert first.energy_discharged_kwh == pytest.approx(0.5)
    assert first.mean_power_kw == pytest.approx(2.0)
    assert first.readings == 3
    assert second.energy_charged_kwh == 0
    assert second.energy_discharged_kwh == pytest.approx(1.0)
    assert second.mean_power_kw == pytest.approx(-4.0)
    assert second.readings == 0
    assert len(rollups) == 2


def test_it_holds_a_reading_for_at_most_fifteen_minutes(vehicle):
    ingest(vehicle, [reading(at=ts(5), power_kw=10), reading(at=ts(60), power_kw=10)])

    assert energies(vehicle) == {
        B: (pytest.approx(10 * 10 / 60), 0, 1),  # 10 min of the first quarter
        B + timedelta(minutes=15): (pytest.approx(10 * 5 / 60), 0, 0),  # the hold's last 5
        B + timedelta(minutes=60): (pytest.approx(2.5), 0, 1),
    }


def test_it_recomputes_the_intervals_a_late_reading_lands_in(vehicle):
    in_order = [reading(at=ts(m), power_kw=p) for m, p in [(0, 6), (5, 6), (10, -6), (40, 3)]]
    ingest(vehicle, [in_order[0], in_order[3]])
    before = energies(vehicle)

    ingest(vehicle, [in_order[2], in_order[1]])  # late, out of order

    assert energies(vehicle) == recomputed(vehicle) != before
    assert energies(vehicle)[B] == (pytest.approx(1.0), pytest.approx(0.5), 3)


def test_it_changes_no_rollup_for_duplicates(vehicle):
    batch = [reading(at=ts(m), power_kw=5) for m in range(0, 30, 3)]
    ingest(vehicle, batch)
    first = energies(vehicle)

    result = ingest(vehicle, batch)

    assert (result.accepted, result.duplicates) == (0, len(batch))
    assert energies(vehicle) == first


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    points=st.dictionaries(
        st.integers(min_value=0, max_value=24 * 60 * 60),  # seconds after B
        st.floats(min_value=-9.6, max_value=11.5, allow_nan=False).map(lambda kw: round(kw, 2)),
        min_size=1,
        max_size=40,
    ),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_it_keeps_rollups_equal_to_a_recomputation_whatever_the_order(
    points, seed, kestrel_partner, utility_a
):
    vehicle = VehicleFactory(
        utility=utility_a, partner=kestrel_partner, max_charge_kw=11.5, max_discharge_kw=9.6
    )
    base = B - timedelta(days=1)
    readings = [
        reading(vehicle.partner_vehicle_id, at=base + timedelta(seconds=s), power_kw=kw)
        for s, kw in points.items()
    ]
    shuffle = random.Random(seed)
    shuffle.shuffle(readings)
    while readings:
        size = shuffle.randint(1, len(readings))
        batch, readings = readings[:size], readings[size:]
        resent = shuffle.sample(batch, k=shuffle.randint(0, len(batch)))
        ingest(vehicle, batch + resent)

    assert energies(vehicle) == recomputed(vehicle)
    latest = max(points)
    assert state_of(vehicle).ts == base + timedelta(seconds=latest)


def test_it_keeps_rollups_right_when_rows_arrive_with_no_state_row(vehicle):
    """Readings stored some other way (no state row) are built on like any others."""
    ingest(vehicle, [reading(at=ts(0), power_kw=8)])
    with scopes_disabled():
        VehicleState.objects.filter(vehicle=vehicle).delete()

    ingest(vehicle, [reading(at=ts(5), power_kw=8)])

    # The first reading's hold ended at the second one either way.
    assert energies(vehicle)[B] == (pytest.approx(8 * 15 / 60), 0, 2)


@pytest.mark.django_db(transaction=True)
def test_it_serializes_concurrent_batches_of_the_same_vehicles(kestrel_partner, utility_a):
    vehicles = VehicleFactory.create_batch(
        20, utility=utility_a, partner=kestrel_partner, max_charge_kw=11.5
    )
    batches = [
        [
            reading(v.partner_vehicle_id, at=ts(minute), power_kw=(minute % 7) - 3)
            for v in vehicles
            for minute in minutes
        ]
        for minutes in (range(0, 60, 2), range(1, 60, 2), range(0, 60, 3))
    ]
    errors: list[BaseException] = []

    def post(batch):
        try:
            ingest(vehicles[0], batch)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    for vehicle in vehicles:
        assert len(readings_of(vehicle)) == 60  # the third batch only repeats the first two
        assert energies(vehicle) == recomputed(vehicle)


def test_it_takes_a_first_batch_for_a_large_fleet(kestrel_partner, utility_a):
    """Vehicles without a state are built on by looking their neighbours up in windows; a
    batch naming 1,200 of them must be looked up in a bounded number of statements."""
    with scopes_disabled():
        fleet = Vehicle.objects.bulk_create(
            VehicleFactory.build(utility=utility_a, partner=kestrel_partner, max_charge_kw=11.5)
            for _ in range(1200)
        )
    batch = [reading(v.partner_vehicle_id, at=ts(m), power_kw=6) for v in fleet for m in (0, 5)]

    result = ingest(fleet[0], batch)

    assert (result.accepted, result.rejected) == (2400, [])
    # 6 kW from minute 0 on; the second reading's hold runs 5 minutes into the next quarter.
    assert energies(fleet[-1]) == {
        B: (pytest.approx(1.5), 0, 2),
        B + timedelta(minutes=15): (pytest.approx(0.5), 0, 0),
    }


# --- Latest state ---------------------------------------------------------------------------


def test_it_reads_the_latest_state_of_a_fleet_in_one_query(
    vehicle, kestrel_partner, utility_a, other_utility_vehicle
):
    ingest(vehicle, [reading(at=ts(0), soc=40), reading(at=ts(5), soc=45)])
    quiet = VehicleFactory(utility=utility_a, partner=kestrel_partner, partner_vehicle_id="quiet")
    with scopes_disabled():
        VehicleState.objects.create(
            utility=other_utility_vehicle.utility,
            vehicle=other_utility_vehicle,
            ts=ts(0),
            soc_pct=10,
            power_kw=0,
            plugged_in=False,
            charging_state="unplugged",
            updated_at=ts(0),
        )

    with scope(utility=[utility_a.pk]), CaptureQueriesContext(connection) as queries:
        states = latest_states()
    assert len(queries) == 1
    assert set(states) == {vehicle.pk}  # the other utility's state is out of scope
    assert states[vehicle.pk] == LatestState(ts(5), 45.0, 7.2, True, "charging")

    with scope(utility=[utility_a.pk]):
        assert latest_states(vehicle_ids=[quiet.pk]) == {}
        assert set(latest_states(vehicle_ids=[vehicle.pk, quiet.pk])) == {vehicle.pk}


# --- Retention ------------------------------------------------------------------------------


def _stored(vehicle, *, days_ago: int, count: int):
    at = datetime.now(UTC) - timedelta(days=days_ago)
    with scopes_disabled():
        TelemetryReading.objects.bulk_create(
            TelemetryReading(
                utility_id=vehicle.utility_id,
                vehicle=vehicle,
                ts=at + timedelta(minutes=i),
                soc_pct=50,
                power_kw=1,
                plugged_in=True,
                charging_state="charging",
                received_at=at,
            )
            for i in range(count)
        )
        TelemetryRollup.objects.create(
            utility_id=vehicle.utility_id, vehicle=vehicle, interval_start=at, readings=count
        )


def test_it_purges_old_readings_in_batches_and_keeps_rollups(
    vehicle, other_utility_vehicle, capsys
):
    _stored(vehicle, days_ago=100, count=25)
    _stored(vehicle, days_ago=40, count=5)
    _stored(other_utility_vehicle, days_ago=100, count=5)

    call_command("purge_telemetry", utility="alpha", older_than_days=60, batch_size=10)

    assert len(readings_of(vehicle)) == 5
    assert len(readings_of(other_utility_vehicle)) == 5
    assert len(rollups_of(vehicle)) == 2
    assert "Deleted 25 readings" in capsys.readouterr().out
    with scopes_disabled():
        event = AuditEvent.objects.get(action="telemetry.purged")
    assert event.utility == vehicle.utility
    assert event.changes == {"older_than_days": 60, "deleted": 25}


@pytest.mark.parametrize("days", ["0", "30", "-5"])
def test_it_refuses_to_purge_readings_that_may_still_get_late_company(days, vehicle):
    _stored(vehicle, days_ago=35, count=3)

    with pytest.raises(CommandError):
        call_command("purge_telemetry", "--utility", "alpha", "--older-than-days", days)
    assert len(readings_of(vehicle)) == 3


def test_it_refuses_an_unknown_utility():
    with pytest.raises(CommandError, match="No utility"):
        call_command("purge_telemetry", utility="nope", older_than_days=90)
