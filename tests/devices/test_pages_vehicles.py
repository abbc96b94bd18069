"""The vehicle and charger pages: lists with filters and a fixed query count, the vehicle
page's effective limits and its 48-hour chart, and the charger page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from devices.models import CustomerPreference, DeviceCommand, OptOut
from portal.roles import Role
from tests.customers.factories import ServiceAccountFactory
from tests.devices.factories import (
    BatteryPolicyFactory,
    ChargerFactory,
    VehicleFactory,
    VehicleStateFactory,
)
from tests.devices.isolation_cases import add_readings, partner_in, signed_in

pytestmark = pytest.mark.django_db


def vehicle_list(utility, **query):
    return reverse("utility:vehicle_list", args=[utility.slug]), query


def vehicle_url(vehicle):
    return reverse("utility:vehicle_detail", args=[vehicle.utility.slug, vehicle.pk])


# --- Vehicle list ---------------------------------------------------------------------------


def test_it_lists_vehicles_with_their_latest_state_and_account(client, utility_a):
    account = ServiceAccountFactory(utility=utility_a, account_number="4400012345")
    vehicle = VehicleFactory(
        utility=utility_a, partner=partner_in(utility_a), service_account=account
    )
    VehicleStateFactory(vehicle=vehicle, soc_pct=71, power_kw=-9.6, plugged_in=True)
    signed_in(client, Role.CUSTOMER_SERVICE, utility_a)

    response = client.get(reverse("utility:vehicle_list", args=[utility_a.slug]))

    assert response.status_code == 200
    body = response.content.decode()
    assert vehicle.vin in body
    assert "Alpha Power Devices Marker Motors" in body
    assert "71 % · " in body and "-9.6 kW discharging" in body and "plugged in" in body
    assert "minutes ago" in body
    assert "4400012345" in body
    assert reverse("utility:customer_detail", args=[utility_a.slug, account.pk]) in body


def test_it_shows_a_dr_operator_the_account_number_without_a_customer_link(client, utility_a):
    account = ServiceAccountFactory(utility=utility_a, account_number="4400012399")
    VehicleFactory(utility=utility_a, service_account=account)
    signed_in(client, Role.DR_OPERATOR, utility_a)  # VIEW_DEVICES, not VIEW_CUSTOMERS

    body = client.get(reverse("utility:vehicle_list", args=[utility_a.slug])).content.decode()

    assert "4400012399" in body
    assert reverse("utility:customer_detail", args=[utility_a.slug, account.pk]) not in body


def test_it_refuses_the_device_pages_to_a_role_without_view_devices(client, utility_a):
    vehicle = VehicleFactory(utility=utility_a)
    charger = ChargerFactory(utility=utility_a)
    signed_in(client, Role.SETTLEMENT_ANALYST, utility_a)
    for url in (
        reverse("utility:vehicle_list", args=[utility_a.slug]),
        vehicle_url(vehicle),
        reverse("utility:charger_list", args=[utility_a.slug]),
        reverse("utility:charger_detail", args=[utility_a.slug, charger.pk]),
    ):
        assert client.get(url).status_code == 403, url


def test_it_says_when_no_vehicles_are_registered(client, utility_a):
    signed_in(client, Role.AUDITOR, utility_a)
    body = client.get(reverse("utility:vehicle_list", args=[utility_a.slug])).content.decode()
    assert "No vehicles are registered yet" in body


def _fleet(utility, n: int) -> None:
    partner = partner_in(utility)
    for _ in range(n):
        vehicle = VehicleFactory(
            utility=utility,
            partner=partner,
            service_account=ServiceAccountFactory(utility=utility),
        )
        VehicleStateFactory(vehicle=vehicle)


def test_it_lists_50_vehicles_with_the_queries_of_5(
    client, utility_a, django_assert_max_num_queries
):
    signed_in(client, Role.CUSTOMER_SERVICE, utility_a)
    url = reverse("utility:vehicle_list", args=[utility_a.slug])
    _fleet(utility_a, 5)
    client.get(url)  # warm the session and caches
    with CaptureQueriesContext(connection) as five:
        assert client.get(url).status_code == 200

    _fleet(utility_a, 45)
    with django_assert_max_num_queries(len(five.captured_queries)):
        response = client.get(url)
    assert response.status_code == 200
    assert len(response.context["object_list"]) == 50


def test_it_pages_the_list_at_50(client, utility_a):
    _fleet(utility_a, 51)
    signed_in(client, Role.CUSTOMER_SERVICE, utility_a)
    url = reverse("utility:vehicle_list", args=[utility_a.slug])
    first, second = client.get(url), client.get(url, {"page": 2})
    assert len(first.context["object_list"]) == 50
    assert len(second.context["object_list"]) == 1
    assert "Page 1 of 2 · 51 in all" in first.content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "lightning"}, {"truck"}),
        ({"q": "OEM-77"}, {"sedan"}),
        ({"mode": "v2g"}, {"truck"}),
        ({"mode": "v1g"}, {"truck", "sedan", "parked"}),
        ({"status": "inactive"}, {"parked"}),
        ({"plugged_in": "yes"}, {"truck"}),
        ({"plugged_in": "no"}, {"sedan", "parked"}),
    ],
)
def test_it_filters_vehicles(client, utility_a, query, expected):
    truck = VehicleFactory(utility=utility_a, model="F-150 Lightning")
    sedan = VehicleFactory(
        utility=utility_a,
        model="Ioniq 5",
        partner_vehicle_id="OEM-77",
        supports_v2h=False,
        supports_v2g=False,
    )
    parked = VehicleFactory(
        utility=utility_a, model="Bolt", status="inactive", supports_v2h=False, supports_v2g=False
    )
    VehicleStateFactory(vehicle=truck, plugged_in=True)
    VehicleStateFactory(vehicle=sedan, plugged_in=False)  # parked never reported
    names = {truck.pk: "truck", sedan.pk: "sedan", parked.pk: "parked"}
    signed_in(client, Role.CUSTOMER_SERVICE, utility_a)

    response = client.get(reverse("utility:vehicle_list", args=[utility_a.slug]), query)

    assert {names[v.pk] for v in response.context["object_list"]} == expected


def test_it_filters_by_a_partner_of_this_utility_only(client, utility_a, utility_b):
    ours = VehicleFactory(utility=utility_a, partner=partner_in(utility_a))
    VehicleFactory(utility=utility_a)
    foreign = partner_in(utility_b)
    signed_in(client, Role.CUSTOMER_SERVICE, utility_a)
    url = reverse("utility:vehicle_list", args=[utility_a.slug])

    mine = client.get(url, {"partner": ours.partner_id})
    theirs = client.get(url, {"partner": foreign.pk})

    assert [v.pk for v in mine.context["object_list"]] == [ours.pk]
    assert foreign.name not in mine.content.decode()  # not offered as a choice
    assert theirs.status_code == 200
    assert list(theirs.context["object_list"]) == []
    assert "Select a valid choice" in theirs.content.decode()


@pytest.mark.parametrize(
    "query",
    [{"partner": "not-a-number"}, {"mode": "v9g"}, {"status": "gone"}, {"plugged_in": "maybe"}],
)
def test_it_answers_bad_filter_values_with_errors_and_no_rows(client, utility_a, query):
    VehicleFactory(utility=utility_a)
    signed_in(client, Role.CUSTOMER_SERVICE, utility_a)

    response = client.get(reverse("utility:vehicle_list", args=[utility_a.slug]), query)

    assert response.status_code == 200
    body = response.content.decode()
    assert 'class="errorlist' in body
    assert "No vehicles match these filters." in body


# --- Vehicle page ---------------------------------------------------------------------------


def test_it_shows_the_registry_preference_state_commands_and_opt_outs(client, utility_a):
    charger = ChargerFactory(utility=utility_a, model="Quasar 2")
    vehicle = VehicleFactory(utility=utility_a, charger=charger, firmware_version="3.1.4")
    VehicleStateFactory(vehicle=vehicle, soc_pct=55, charging_state="discharging")
    now = timezone.now()
    with scopes_disabled():
        CustomerPreference.objects.create(
            utility=utility_a, vehicle=vehicle, reserve_miles=100, target_soc_pct=90
        )
        DeviceCommand.objects.create(
            utility=utility_a,
            vehicle=vehicle,
            partner=vehicle.partner,
            kind=DeviceCommand.Kind.DISCHARGE,
            setpoint_kw=-7.5,
            starts_at=now,
            ends_at=now + timedelta(hours=2),
            idempotency_key="evt-1:veh:0",
            status=DeviceCommand.Status.REJECTED,
            status_reason="Vehicle not plugged in",
        )
        OptOut.objects.create(
            utility=utility_a, vehicle=vehicle, partner=vehicle.partner, event_ref="EVT-42"
        )
    signed_in(client, Role.DR_OPERATOR, utility_a)

    response = client.get(vehicle_url(vehicle))

    assert response.status_code == 200
    body = response.content.decode()
    assert vehicle.vin in body and "3.1.4" in body and "Quasar 2" in body
    assert "100 miles (at 2.5 mi/kWh)" in body and "90 %" in body
    assert "55.0 %" in body and "discharging" in body
    assert "Discharge at setpoint, -7.5 kW" in body and "Vehicle not plugged in" in body
    assert "Event EVT-42" in body


def test_it_names_the_source_that_binds_each_limit(client, utility_a):
    partner = partner_in(utility_a)
    charger = ChargerFactory(
        utility=utility_a, max_charge_kw=11.5, max_discharge_kw=11.5, approved_export_kw=5.0
    )
    vehicle = VehicleFactory(
        utility=utility_a, partner=partner, charger=charger, usable_battery_kwh=100
    )
    VehicleStateFactory(vehicle=vehicle, soc_pct=80)
    policy = BatteryPolicyFactory(
        utility=utility_a, partner=partner, discharge_soc_floor_pct=20, max_discharge_kw=9.6
    )
    with scopes_disabled():
        CustomerPreference.objects.create(utility=utility_a, vehicle=vehicle, reserve_soc_pct=35)
    signed_in(client, Role.CUSTOMER_SERVICE, utility_a)

    response = client.get(vehicle_url(vehicle))

    rows = {row.key: row for row in response.context["limits"].rows}
    assert (rows["max_charge_kw"].value, rows["max_charge_kw"].source) == ("11.5 kW", "charger")
    assert (rows["max_discharge_kw"].value, rows["max_discharge_kw"].source) == (
        "5 kW",
        "interconnection",
    )
    assert (rows["soc_floor_pct"].value, rows["soc_floor_pct"].source) == ("35 %", "customer")
    assert rows["annual_discharge_kwh"].source == "automaker"
    assert str(policy) in rows["annual_discharge_kwh"].why
    body = response.content.decode()
    assert "Export limit approved at interconnection" in body
    assert "Driver’s setting in the automaker app: 35 % reserve" in body
    # (80 % − 35 %) × 100 kWh may leave the battery.
    assert "45.0 kWh" in body


def test_it_explains_why_a_vehicle_without_a_charger_may_not_discharge(client, utility_a):
    vehicle = VehicleFactory(utility=utility_a, charger=None)
    signed_in(client, Role.CUSTOMER_SERVICE, utility_a)

    response = client.get(vehicle_url(vehicle))

    rows = {row.key: row for row in response.context["limits"].rows}
    assert rows["max_discharge_kw"].value == "0 kW"
    assert rows["max_discharge_kw"].source == "charger"
    assert "No bidirectional charger on record" in rows["max_discharge_kw"].why
    assert rows["events_per_month"].value == "No limit"


def test_it_draws_48_hours_of_telemetry_as_an_accessible_svg(client, utility_a):
    vehicle = VehicleFactory(utility=utility_a)
    add_readings(vehicle, count=8, every=timedelta(minutes=10), soc=62.5, power=-9.6)
    signed_in(client, Role.CUSTOMER_SERVICE, utility_a)

    response = client.get(vehicle_url(vehicle))

    body = response.content.decode()
    svg = re.search(r"<svg[^>]*>.*?</svg>", body, re.S).group(0)
    assert 'role="img"' in svg
    assert 'aria-labelledby="telemetry-title telemetry-desc"' in svg
    assert f'<title id="telemetry-title">State of charge and power of {vehicle.vin}' in svg
    assert "latest 62.5 %" in svg and "latest \u22129.6 kW" in svg
    assert re.search(r'<path d="M[\d.]+,[\d.]+ L', svg)
    assert "<script" not in body
    # The data table fallback, in the utility's local time.
    assert "<details>" in body
    first = response.context["chart"].points[0].at
    assert timezone.localtime(first, utility_a.tzinfo).strftime("%H:%M") in body
    assert "Times in America/Los_Angeles" in body


def test_it_labels_the_time_axis_in_local_time(client, utility_a):
    vehicle = VehicleFactory(utility=utility_a)
    add_readings(vehicle, count=4, every=timedelta(hours=1))
    signed_in(client, Role.CUSTOMER_SERVICE, utility_a)

    chart = client.get(vehicle_url(vehicle)).context["chart"]

    # Six-hourly ticks over 48 hours at local 00/06/12/18, whatever the server's zone (the
    # exact count through DST changes is tested in test_pages_charts).
    assert 7 <= len(chart.x_ticks) <= 9
    assert {t.label for t in chart.x_ticks} == {"00:00", "06:00", "12:00", "18:00"}
    midnights = [t for t in chart.x_ticks if t.label == "00:00"]
    assert midnights and all(t.sublabel for t in midnights)


def test_it_averages_dense_telemetry_into_at_most_400_points(client, utility_a):
    vehicle = VehicleFactory(utility=utility_a)
    # A reading every 30 s for 48 h, plus older readings that must not count.
    add_readings(vehicle, count=48 * 120, every=timedelta(seconds=30), power=4.0)
    add_readings(
        vehicle,
        count=10,
        every=timedelta(minutes=1),
        end=timezone.now() - timedelta(hours=49),
        power=-50.0,
    )
    signed_in(client, Role.CUSTOMER_SERVICE, utility_a)

    chart = client.get(vehicle_url(vehicle)).context["chart"]

    assert chart.interval_minutes == 10
    assert 288 <= len(chart.points) <= 290
    assert sum(p.readings for p in chart.points) == 48 * 120
    assert {round(p.power_kw, 6) for p in chart.points} == {4.0}


def test_it_says_when_there_is_no_telemetry_to_chart(client, utility_a):
    vehicle = VehicleFactory(utility=utility_a)
    signed_in(client, Role.CUSTOMER_SERVICE, utility_a)

    response = client.get(vehicle_url(vehicle))

    body = response.content.decode()
    assert response.context["chart"] is None
    assert "<svg" not in body
    assert "No readings in the last 48 hours." in body
    assert "No telemetry has arrived for this vehicle yet." in body


def test_it_answers_404_for_an_unknown_vehicle(client, utility_a):
    signed_in(client, Role.CUSTOMER_SERVICE, utility_a)
    url = reverse("utility:vehicle_detail", args=[utility_a.slug, 999999])
    assert client.get(url).status_code == 404


# --- Chargers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"maker": "Wallbox"}, {"quasar"}),
        ({"current_type": "ac"}, {"wallbox_ac"}),
        ({"certification": "cert_sae_j3072"}, {"wallbox_ac"}),
        ({"certification": "cert_ul9741"}, {"quasar"}),
        ({"backup_capable": "yes"}, {"quasar"}),
        ({"backup_capable": "no"}, {"wallbox_ac"}),
        ({"q": "ZZ-1"}, {"wallbox_ac"}),
    ],
)
def test_it_filters_chargers(client, utility_a, query, expected):
    quasar = ChargerFactory(utility=utility_a)
    ac = ChargerFactory(
        utility=utility_a,
        maker="Emporia",
        model="Pro",
        serial="ZZ-1",
        current_type="ac",
        backup_capable=False,
        cert_ul9741=False,
        cert_ul1741_sb=False,
        cert_sae_j3072=True,
    )
    names = {quasar.pk: "quasar", ac.pk: "wallbox_ac"}
    signed_in(client, Role.INTERCONNECTION_ENGINEER, utility_a)

    response = client.get(reverse("utility:charger_list", args=[utility_a.slug]), query)

    assert {names[c.pk] for c in response.context["object_list"]} == expected


def test_it_offers_only_this_utilitys_charger_makers(client, utility_a, utility_b):
    ChargerFactory(utility=utility_a, maker="Wallbox")
    ChargerFactory(utility=utility_b, maker="Bravo-Only Chargers")
    signed_in(client, Role.INTERCONNECTION_ENGINEER, utility_a)
    url = reverse("utility:charger_list", args=[utility_a.slug])

    assert "Bravo-Only Chargers" not in client.get(url).content.decode()
    response = client.get(url, {"maker": "Bravo-Only Chargers", "certification": "ul"})
    assert response.status_code == 200
    assert list(response.context["object_list"]) == []
    assert "No chargers match these filters." in response.content.decode()


def test_it_shows_a_charger_with_its_vehicles(client, utility_a):
    charger = ChargerFactory(utility=utility_a, approved_export_kw=7.6)
    vehicle = VehicleFactory(utility=utility_a, charger=charger)
    signed_in(client, Role.INTERCONNECTION_ENGINEER, utility_a)

    response = client.get(reverse("utility:charger_detail", args=[utility_a.slug, charger.pk]))

    body = response.content.decode()
    assert response.status_code == 200
    assert charger.serial in body
    assert "UL 9741, UL 1741-SB" in body
    assert "7.6 kW (approved at interconnection)" in body
    assert vehicle.vin in body
