"""The driver's app preferences arrive through the partner API and bind the limits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django_scopes import scope, scopes_disabled

from devices.limits import limits_for_vehicle
from devices.models import CustomerPreference
from portal.models import AuditEvent

pytestmark = pytest.mark.django_db


def url(vehicle) -> str:
    return f"/api/v1/vehicles/{vehicle.vin}/preferences"


def test_it_sets_and_reads_the_drivers_preferences(kestrel_api, vehicle):
    body = {
        "reserve_miles": 60,
        "miles_per_kwh": 2.0,
        "departure_time": "07:30",
        "target_soc_pct": 90,
    }

    response = kestrel_api.put(url(vehicle), body, format="json")

    assert response.status_code == 200
    assert response.json()["reserve_miles"] == 60
    assert kestrel_api.get(url(vehicle)).json()["departure_time"] == "07:30:00"
    with scope(utility=vehicle.utility_id):
        limits = limits_for_vehicle(vehicle, at=datetime(2026, 7, 1, tzinfo=UTC))
        event = AuditEvent.objects.get(action="vehicle.preferences_set")
    # 60 miles at 2 mi/kWh = 30 kWh of a 131 kWh pack.
    assert limits.soc_floor_pct == pytest.approx(30 / 131 * 100)
    assert limits.binding["soc_floor_pct"] == "customer"
    assert event.actor_client_id and event.changes["reserve_miles"] == ["None", "60.0"]


def test_it_replaces_all_preferences_on_put(kestrel_api, vehicle):
    kestrel_api.put(url(vehicle), {"reserve_soc_pct": 40, "target_soc_pct": 80}, format="json")
    kestrel_api.put(url(vehicle), {"target_soc_pct": 85}, format="json")

    with scopes_disabled():
        preference = CustomerPreference.objects.get(vehicle=vehicle)
    assert (preference.reserve_soc_pct, preference.target_soc_pct) == (None, 85)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reserve_soc_pct": 120}, "reserve_soc_pct"),
        ({"target_soc_pct": -1}, "target_soc_pct"),
        ({"miles_per_kwh": 0}, "miles_per_kwh"),
        ({"departure_time": "25:99"}, "departure_time"),
        ({"reserve_miles": "lots"}, "reserve_miles"),
    ],
)
def test_it_refuses_impossible_values_and_keeps_the_old_ones(
    kestrel_api, vehicle, body, field, assert_api_error
):
    kestrel_api.put(url(vehicle), {"reserve_soc_pct": 30}, format="json")

    response = kestrel_api.put(url(vehicle), body, format="json")

    assert_api_error(response, 400, "validation_failed")
    assert field in response.json()["error"]["details"]
    with scopes_disabled():
        assert CustomerPreference.objects.get(vehicle=vehicle).reserve_soc_pct == 30


@pytest.mark.parametrize("whose", ["other_partner_vehicle", "other_utility_vehicle"])
def test_it_answers_404_for_a_vehicle_that_is_not_the_clients(
    whose, request, kestrel_api, vehicle, assert_api_error
):
    other = request.getfixturevalue(whose)

    assert_api_error(
        kestrel_api.put(url(other), {"target_soc_pct": 80}, format="json"), 404, "unknown_vehicle"
    )
    assert_api_error(kestrel_api.get(url(other)), 404, "unknown_vehicle")
    with scopes_disabled():
        assert not CustomerPreference.objects.exists()


def test_it_needs_the_vehicles_write_scope(bearer, kestrel, vehicle, assert_api_error):
    reader = bearer(kestrel, scope="vehicles:read")

    assert reader.get(url(vehicle)).status_code == 200
    assert_api_error(
        reader.put(url(vehicle), {"target_soc_pct": 80}, format="json"), 403, "insufficient_scope"
    )


def test_it_refuses_a_departure_time_with_an_offset_rather_than_dropping_it(
    kestrel_api, vehicle, assert_api_error
):
    response = kestrel_api.put(url(vehicle), {"departure_time": "07:30+02:00"}, format="json")
    error = assert_api_error(response, 400, "validation_failed")
    assert error["details"]["departure_time"][0]["code"] == "offset_not_allowed"
    assert (
        kestrel_api.put(url(vehicle), {"departure_time": "07:30"}, format="json").json()[
            "departure_time"
        ]
        == "07:30:00"
    )


def test_unset_preferences_answer_a_null_updated_at_as_documented(kestrel_api, vehicle):
    from portal.api.schema import ERROR_SCHEMA  # noqa: F401 - the schema module loads

    body = kestrel_api.get(url(vehicle)).json()
    schema = kestrel_api.get("/api/schema/?format=json").json()
    updated_at = schema["components"]["schemas"]["Preference"]["properties"]["updated_at"]
    assert body["updated_at"] is None
    assert updated_at.get("nullable") is True
