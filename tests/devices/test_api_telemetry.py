"""POST /api/v1/telemetry: valid readings are stored and bad ones come back with their index
and a stable code; re-posts are duplicates; late data never overwrites a newer state; each
partner's units and field names are normalized."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django_scopes import scopes_disabled

from devices.models import AdapterConfig, TelemetryReading
from devices.telemetry.ingest import MAX_READINGS_PER_BATCH
from portal.models import PartnerAgreement
from tests.devices.factories import VehicleFactory
from tests.devices.partner_api import reading, readings_of, state_of, ts

pytestmark = pytest.mark.django_db


def post(api, readings, **extra):
    return api.post("/api/v1/telemetry", {"readings": readings, **extra}, format="json")


def test_it_stores_readings_and_keeps_the_latest_state(kestrel_api, vehicle):
    response = post(
        kestrel_api,
        [
            reading(at=ts(0), soc=50, power_kw=7.2),
            reading(at=ts(1), soc=51, power_kw=-9.6, charging_state="discharging"),
        ],
    )

    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 2, "duplicates": 0, "rejected": []}
    stored = readings_of(vehicle)
    assert [(r.ts, r.soc_pct, r.power_kw) for r in stored] == [
        (ts(0), 50.0, 7.2),
        (ts(1), 51.0, -9.6),
    ]
    assert stored[0].utility_id == vehicle.utility_id
    state = state_of(vehicle)
    assert (state.ts, state.soc_pct, state.power_kw, state.charging_state) == (
        ts(1),
        51.0,
        -9.6,
        "discharging",
    )


def test_it_identifies_the_vehicle_by_vin(kestrel_api, vehicle):
    response = post(kestrel_api, [{**reading(), "vehicle_id": None, "vin": vehicle.vin.lower()}])

    assert response.json()["accepted"] == 1


def test_it_counts_reposted_readings_as_duplicates(kestrel_api, vehicle):
    batch = [reading(at=ts(0)), reading(at=ts(1))]
    assert post(kestrel_api, batch).json()["accepted"] == 2

    same_instant_other_offset = reading(at=ts(1).astimezone(timezone(timedelta(hours=-7))))
    again = post(kestrel_api, [*batch, same_instant_other_offset, reading(at=ts(2))])

    assert again.json() == {"accepted": 1, "duplicates": 3, "rejected": []}
    assert len(readings_of(vehicle)) == 3


def test_it_counts_repeats_within_a_batch_as_duplicates(kestrel_api, vehicle):
    response = post(kestrel_api, [reading(at=ts(0)), reading(at=ts(0), soc=99)])

    assert response.json() == {"accepted": 1, "duplicates": 1, "rejected": []}
    assert readings_of(vehicle)[0].soc_pct == 50.0  # the first one wins


def test_it_accepts_late_readings_without_overwriting_a_newer_state(kestrel_api, vehicle):
    post(kestrel_api, [reading(at=ts(30), soc=80)])

    response = post(kestrel_api, [reading(at=ts(10), soc=60), reading(at=ts(0), soc=55)])

    assert response.json()["accepted"] == 2
    assert [r.ts for r in readings_of(vehicle)] == [ts(0), ts(10), ts(30)]
    state = state_of(vehicle)
    assert (state.ts, state.soc_pct) == (ts(30), 80.0)

    post(kestrel_api, [reading(at=ts(31), soc=81)])
    assert state_of(vehicle).soc_pct == 81.0


def test_it_keeps_the_valid_readings_of_a_batch_with_bad_ones(kestrel_api, vehicle):
    response = post(
        kestrel_api,
        [reading(at=ts(0)), reading(at=ts(1), soc=101), reading(at=ts(2)), "junk"],
    )

    body = response.json()
    assert body["accepted"] == 2
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [
        (1, "soc_out_of_range"),
        (3, "invalid_value"),
    ]
    assert all(r["message"] for r in body["rejected"])
    assert len(readings_of(vehicle)) == 2


def _naive() -> str:
    return ts().replace(tzinfo=None).isoformat()


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"vehicle_id": None}, "missing_field"),
        ({"vehicle_id": 12}, "invalid_value"),
        ({"vehicle_id": "nobody"}, "unknown_vehicle"),
        ({"vehicle_id": "veh\x00"}, "unknown_vehicle"),
        ({"vehicle_id": "v" * 5000}, "unknown_vehicle"),
        ({"vin": "1FTVW1EL0NW000000"}, "unknown_vehicle"),  # does not match veh-1's VIN
        ({"ts": None}, "missing_field"),
        ({"ts": 1751400000}, "invalid_timestamp"),
        ({"ts": "yesterday"}, "invalid_timestamp"),
        ({"ts": "NAIVE"}, "invalid_timestamp"),
        ({"ts": "2026-02-30T00:00:00Z"}, "invalid_timestamp"),
        ({"ts": "0001-01-01T00:00:00+05:00"}, "invalid_timestamp"),
        ({"ts": "FUTURE"}, "timestamp_in_future"),
        ({"ts": "ANCIENT"}, "timestamp_too_old"),
        ({"soc": None}, "missing_field"),
        ({"soc": "55"}, "invalid_value"),
        ({"soc": True}, "invalid_value"),
        ({"soc": -0.1}, "soc_out_of_range"),
        ({"soc": 100.5}, "soc_out_of_range"),
        ({"soc": 10**400}, "invalid_value"),
        ({"power_kw": None}, "missing_field"),
        ({"power_kw": [1]}, "invalid_value"),
        ({"power_kw": 13.2}, "power_exceeds_rating"),  # rating 11.5 kW + 10 % + 0.5 kW
        ({"power_kw": -11.6}, "power_exceeds_rating"),  # discharge rating 9.6 kW
        ({"plugged_in": None}, "missing_field"),
        ({"plugged_in": "yes"}, "invalid_value"),
        ({"plugged_in": 1}, "invalid_value"),
        ({"charging_state": None}, "missing_field"),
        ({"charging_state": "warp"}, "invalid_value"),
        ({"charging_state": {"a": 1}}, "invalid_value"),
    ],
)
def test_it_rejects_a_bad_reading_with_its_code(fields, code, kestrel_api, vehicle):
    special = {
        "NAIVE": _naive(),
        "FUTURE": (datetime.now(UTC) + timedelta(minutes=6)).isoformat(),
        "ANCIENT": (datetime.now(UTC) - timedelta(days=31)).isoformat(),
    }
    bad = reading(**{k: special.get(v, v) if isinstance(v, str) else v for k, v in fields.items()})

    response = post(kestrel_api, [reading(at=ts(0)), bad])

    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 1
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [(1, code)]


def test_it_accepts_power_within_the_rating_tolerance_and_a_small_clock_skew(kestrel_api, vehicle):
    soon = datetime.now(UTC) + timedelta(minutes=4)
    response = post(
        kestrel_api,
        [reading(at=ts(0), power_kw=13.1), reading(at=ts(1), power_kw=-11.0), reading(at=soon)],
    )
    assert response.json()["accepted"] == 3


def test_it_reads_the_clock_skew_from_settings(kestrel_api, vehicle, settings):
    settings.TELEMETRY_FUTURE_SKEW_SECONDS = 0
    soon = datetime.now(UTC) + timedelta(seconds=30)

    response = post(kestrel_api, [reading(at=soon)])

    assert response.json()["rejected"][0]["code"] == "timestamp_in_future"


@pytest.mark.parametrize("whose", ["other_partner_vehicle", "other_utility_vehicle"])
def test_it_treats_another_partners_or_utilitys_vehicle_as_unknown(
    whose, request, kestrel_api, vehicle
):
    other = request.getfixturevalue(whose)

    response = post(
        kestrel_api,
        [
            reading(other.partner_vehicle_id),
            {**reading(), "vehicle_id": None, "vin": other.vin},
            reading("no-such-vehicle"),
        ],
    )

    rejected = response.json()["rejected"]
    assert {r["code"] for r in rejected} == {"unknown_vehicle"}
    assert len({r["message"] for r in rejected}) == 1  # the same words for all three
    assert readings_of(other) == []


def test_it_ignores_inactive_vehicles(kestrel_api, vehicle):
    with scopes_disabled():
        type(vehicle).objects.filter(pk=vehicle.pk).update(status="inactive")

    assert post(kestrel_api, [reading()]).json()["rejected"][0]["code"] == "unknown_vehicle"


def test_it_asks_for_the_vin_when_a_vehicle_id_is_in_two_utilities(
    issue_client, bearer, kestrel_partner, utility_a, utility_b
):
    api = bearer(issue_client("Kestrel Auto", "alpha", "bravo"))
    in_a = VehicleFactory(utility=utility_a, partner=kestrel_partner, partner_vehicle_id="veh-9")
    VehicleFactory(utility=utility_b, partner=kestrel_partner, partner_vehicle_id="veh-9")

    response = post(api, [reading("veh-9"), reading("veh-9", at=ts(1), vin=in_a.vin)])

    body = response.json()
    assert body["accepted"] == 1
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [(0, "ambiguous_vehicle")]
    assert len(readings_of(in_a)) == 1


def test_it_normalizes_each_agreements_units_and_field_names(
    kestrel_api, kestrel_partner, vehicle, utility_a
):
    with scopes_disabled():
        agreement = PartnerAgreement.objects.get(utility=utility_a, partner=kestrel_partner)
        AdapterConfig.objects.create(
            utility=utility_a,
            agreement=agreement,
            power_unit=AdapterConfig.PowerUnit.W,
            soc_unit=AdapterConfig.SocUnit.FRACTION,
            field_map={"carId": "vehicle_id", "stateOfCharge": "soc", "powerW": "power_kw"},
        )

    response = post(
        kestrel_api,
        [
            {
                "carId": "veh-1",
                "ts": ts(0).isoformat(),
                "stateOfCharge": 0.29,
                "powerW": -7200,
                "plugged_in": True,
                "charging_state": "Discharging",
            },
            {
                "carId": "veh-1",
                "ts": ts(1).isoformat(),
                "stateOfCharge": 29,  # percent where a fraction is agreed
                "powerW": 0,
                "plugged_in": True,
                "charging_state": "idle",
            },
        ],
    )

    body = response.json()
    assert body["accepted"] == 1
    assert body["rejected"][0]["code"] == "soc_out_of_range"
    [stored] = readings_of(vehicle)
    assert (stored.soc_pct, stored.power_kw, stored.charging_state) == (29.0, -7.2, "discharging")


def test_it_refuses_more_than_a_batch_and_stores_nothing(kestrel_api, vehicle, assert_api_error):
    too_many = [reading(at=ts(i / 100)) for i in range(MAX_READINGS_PER_BATCH + 1)]

    response = post(kestrel_api, too_many)

    error = assert_api_error(response, 413, "batch_too_large")
    assert error["details"] == {"max_readings": MAX_READINGS_PER_BATCH, "got": 5001}
    assert readings_of(vehicle) == []


def test_it_takes_a_full_batch(kestrel_api, vehicle):
    batch = [reading(at=ts(i / 100)) for i in range(MAX_READINGS_PER_BATCH)]

    assert post(kestrel_api, batch).json()["accepted"] == MAX_READINGS_PER_BATCH


def test_it_answers_an_empty_batch(kestrel_api):
    assert post(kestrel_api, []).json() == {"accepted": 0, "duplicates": 0, "rejected": []}


@pytest.mark.parametrize(
    "body",
    [
        "",
        "{",
        "null",
        "[]",
        '"readings"',
        "{}",
        '{"readings": null}',
        '{"readings": {"0": {}}}',
        '{"readings": "all of them"}',
        '{"readings": 5}',
    ],
)
def test_it_answers_a_malformed_body_with_400(body, kestrel_api):
    response = kestrel_api.post("/api/v1/telemetry", body, content_type="application/json")

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] in {"validation_failed", "malformed_request"}


def test_it_answers_deeply_nested_json_without_a_500(kestrel_api):
    body = '{"readings": ' + "[" * 100_000 + "]" * 100_000 + "}"

    response = kestrel_api.post("/api/v1/telemetry", body, content_type="application/json")

    assert response.status_code == 400


def test_it_rejects_each_non_object_reading(kestrel_api):
    response = post(kestrel_api, [None, 1, "x", [], True])

    codes = {(r["index"], r["code"]) for r in response.json()["rejected"]}
    assert codes == {(i, "invalid_value") for i in range(5)}


def test_it_needs_the_telemetry_scope(bearer, kestrel, vehicle, assert_api_error):
    api = bearer(kestrel, "vehicles:read vehicles:write")

    assert_api_error(post(api, [reading()]), 403, "insufficient_scope")
    with scopes_disabled():
        assert not TelemetryReading.objects.exists()


def test_it_accepts_a_raw_json_body_with_big_numbers(kestrel_api, vehicle):
    body = json.dumps({"readings": [reading(soc="BIG")]}).replace('"BIG"', "1e400")

    response = kestrel_api.post("/api/v1/telemetry", body, content_type="application/json")

    assert response.json()["rejected"][0]["code"] == "invalid_value"
