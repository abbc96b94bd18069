"""/api/v1/vehicles: registration, updates, lists and lookups by VIN or the partner's id —
only the client's partner's vehicles in the client's utilities exist for it."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from devices.models import Vehicle
from devices.vin import with_check_digit
from portal.models import AuditEvent
from tests.customers.factories import ServiceAccountFactory, issue_code
from tests.devices.factories import VehicleFactory
from tests.portal.factories import AutomakerPartnerFactory, PartnerAgreementFactory

pytestmark = pytest.mark.django_db

VIN = with_check_digit("1FTVW1EL0NWG00001")


def registration(**fields) -> dict:
    return {
        "utility": "alpha",
        "vin": VIN,
        "vehicle_id": "veh-100",
        "model": "F-150 Lightning",
        "model_year": 2024,
        "usable_battery_kwh": 131,
        "capabilities": ["v1g", "v2h"],
        "max_charge_kw": 19.2,
        "max_discharge_kw": 9.6,
        **fields,
    }


def strip_request_id(response) -> dict:
    return {**response.json()["error"], "request_id": None}


# --- Registration ----------------------------------------------------------------------------


def test_it_registers_a_vehicle(kestrel_api, kestrel, kestrel_partner, utility_a):
    response = kestrel_api.post(
        "/api/v1/vehicles",
        registration(vin=VIN.lower(), firmware_version="4.2.1"),
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert response["Location"] == f"/api/v1/vehicles/{VIN}"
    assert body == {
        **registration(firmware_version="4.2.1"),
        "usable_battery_kwh": 131.0,
        "account_number": None,
        "status": "active",
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    with scopes_disabled():
        vehicle = Vehicle.objects.get(vin=VIN)
        event = AuditEvent.objects.get(action="vehicle.registered")
    assert vehicle.utility == utility_a and vehicle.partner == kestrel_partner
    assert (vehicle.supports_v1g, vehicle.supports_v2h, vehicle.supports_v2g) == (True, True, False)
    assert event.actor_client_id == kestrel.client_id
    assert event.object_id == str(vehicle.pk)
    assert event.changes == {"vin": VIN, "vehicle_id": "veh-100"}


def test_it_links_the_customers_service_account_with_the_customers_code(kestrel_api, utility_a):
    account = ServiceAccountFactory(utility=utility_a, account_number="4400012345")
    link = {"account_number": "4400012345", "zip_code": account.zip_code}

    response = kestrel_api.post(
        "/api/v1/vehicles",
        registration(**link, authorization_code=issue_code(account)),
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["account_number"] == "4400012345"
    assert "authorization_code" not in body and "zip_code" not in body


@pytest.mark.parametrize("where", ["nowhere", "another utility", "no code", "wrong zip"])
def test_it_refuses_an_account_without_the_customers_authorization(
    where, kestrel_api, utility_a, utility_b, assert_api_error
):
    utility = utility_b if where == "another utility" else utility_a
    account = ServiceAccountFactory(utility=utility, account_number="4400012345")
    link = {"account_number": "4400012345", "zip_code": account.zip_code}
    if where != "no code":
        link["authorization_code"] = issue_code(account)
    if where == "nowhere":
        link["account_number"] = "4400099999"
    if where == "wrong zip":
        link["zip_code"] = "00000"

    response = kestrel_api.post("/api/v1/vehicles", registration(**link), format="json")

    assert_api_error(response, 400, "account_not_verified")
    with scopes_disabled():
        assert not Vehicle.objects.exists()


def test_it_needs_the_zip_code_to_link_an_account(kestrel_api, assert_api_error):
    response = kestrel_api.post(
        "/api/v1/vehicles", registration(account_number="4400012345"), format="json"
    )
    error = assert_api_error(response, 400, "validation_failed")
    assert error["details"]["zip_code"][0]["code"] == "required"


def test_a_partner_cannot_relink_its_vehicle_to_any_account(
    kestrel_api, vehicle, utility_a, assert_api_error
):
    """The attack of finding 3: PATCH a vehicle onto a guessed account number and ZIP."""
    target = ServiceAccountFactory(utility=utility_a, account_number="4400012399")
    response = kestrel_api.patch(
        "/api/v1/vehicles/by-id/veh-1",
        {"account_number": "4400012399", "zip_code": target.zip_code},
        format="json",
    )
    assert_api_error(response, 400, "account_not_verified")
    with scopes_disabled():
        vehicle.refresh_from_db()
    assert vehicle.service_account_id != target.pk


def test_repeated_failed_links_are_rate_limited(
    kestrel_api, vehicle, utility_a, settings, assert_api_error
):
    settings.CUSTOMER_LOOKUP_FAILURES = {"per_party": 2, "per_address": 50, "window_seconds": 86400}
    for number in ("4400000001", "4400000002"):
        kestrel_api.patch(
            "/api/v1/vehicles/by-id/veh-1",
            {"account_number": number, "zip_code": "94110"},
            format="json",
        )
    response = kestrel_api.patch(
        "/api/v1/vehicles/by-id/veh-1",
        {"account_number": "4400000003", "zip_code": "94110"},
        format="json",
    )
    error = assert_api_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) == error["details"]["retry_after_seconds"]


@pytest.mark.parametrize(
    "vin",
    [
        VIN[:8] + ("0" if VIN[8] != "0" else "1") + VIN[9:],  # wrong check digit
        VIN[:16],
        VIN[:16] + "O",
        "",
    ],
)
def test_it_refuses_an_invalid_vin(vin, kestrel_api, assert_api_error):
    response = kestrel_api.post("/api/v1/vehicles", registration(vin=vin), format="json")

    error = assert_api_error(response, 400, "validation_failed")
    assert error["details"]["vin"][0]["code"] in {"invalid_vin", "blank"}


def test_it_answers_a_utility_outside_the_clients_reach_like_a_nonexistent_one(
    kestrel_api, kestrel_partner, utility_b, assert_api_error
):
    PartnerAgreementFactory(utility=utility_b, partner=kestrel_partner)

    outside = kestrel_api.post("/api/v1/vehicles", registration(utility="bravo"), format="json")
    missing = kestrel_api.post("/api/v1/vehicles", registration(utility="nope"), format="json")

    assert_api_error(outside, 404, "not_found")
    assert strip_request_id(outside) == strip_request_id(missing)
    with scopes_disabled():
        assert not Vehicle.objects.exists()


@pytest.mark.parametrize("holder", ["another utility", "another partner here"])
def test_it_refuses_a_vin_active_elsewhere_without_saying_where(
    holder, kestrel_api, kestrel_partner, utility_a, utility_b, assert_api_error
):
    if holder == "another utility":
        # Kestrel's own registration in Bravo, which this client does not reach.
        PartnerAgreementFactory(utility=utility_b, partner=kestrel_partner)
        VehicleFactory(utility=utility_b, partner=kestrel_partner, vin=VIN)
    else:
        VehicleFactory(utility=utility_a, partner=AutomakerPartnerFactory(name="Osprey"), vin=VIN)

    response = kestrel_api.post("/api/v1/vehicles", registration(), format="json")

    error = assert_api_error(response, 409, "vin_active_elsewhere")
    assert error["details"] == {}
    text = response.content.decode().lower()
    assert "bravo" not in text and "osprey" not in text


def test_it_accepts_a_vin_whose_other_registration_ended(kestrel_api, utility_b):
    VehicleFactory(utility=utility_b, vin=VIN, status=Vehicle.Status.INACTIVE)

    assert kestrel_api.post("/api/v1/vehicles", registration(), format="json").status_code == 201


@pytest.mark.parametrize(
    "again",
    [registration(vehicle_id="veh-other"), registration(vin=with_check_digit("1FTVW1EL0NWG00002"))],
)
def test_it_refuses_registering_the_same_vehicle_twice(again, kestrel_api, assert_api_error):
    assert kestrel_api.post("/api/v1/vehicles", registration(), format="json").status_code == 201

    error = assert_api_error(
        kestrel_api.post("/api/v1/vehicles", again, format="json"), 409, "vehicle_exists"
    )
    assert error["details"]["field"] in {"vin", "vehicle_id"}


def test_it_needs_a_discharge_rating_for_a_bidirectional_vehicle(kestrel_api, assert_api_error):
    response = kestrel_api.post(
        "/api/v1/vehicles",
        registration(capabilities=["v1g", "v2g"], max_discharge_kw=0),
        format="json",
    )

    error = assert_api_error(response, 400, "validation_failed")
    assert "max_discharge_kw" in error["details"]


@pytest.mark.parametrize(
    "fields",
    [
        {"capabilities": []},
        {"capabilities": ["v3g"]},
        {"capabilities": "v1g"},
        {"model_year": 1999},
        {"model_year": 10**30},
        {"max_charge_kw": -1},
        {"max_charge_kw": "fast"},
        {"vehicle_id": None},
        {"vehicle_id": "x" * 65},
        {"vehicle_id": "nul\x00"},
        {"utility": None},
        {"utility": ["alpha"]},
        {"account_number": {"n": 1}},
    ],
)
def test_it_refuses_bad_fields(fields, kestrel_api, assert_api_error):
    response = kestrel_api.post("/api/v1/vehicles", registration(**fields), format="json")

    error = assert_api_error(response, 400, "validation_failed")
    assert set(error["details"]) & {*fields, "non_field_errors"}


@pytest.mark.parametrize("literal", ["1e400", "-1e400", "1" + "0" * 400, "NaN", "Infinity"])
def test_it_refuses_numbers_out_of_range(literal, kestrel_api, assert_api_error):
    body = json.dumps(registration(usable_battery_kwh="HUGE")).replace('"HUGE"', literal)

    response = kestrel_api.post("/api/v1/vehicles", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] in {"validation_failed", "malformed_request"}


# --- Reading ----------------------------------------------------------------------------------


def test_it_lists_only_the_partners_vehicles_in_the_clients_utilities(
    kestrel_api, vehicle, other_partner_vehicle, other_utility_vehicle
):
    body = kestrel_api.get("/api/v1/vehicles").json()

    assert body["count"] == 1
    assert [v["vin"] for v in body["results"]] == [vehicle.vin]


def test_it_filters_the_list(kestrel_api, kestrel_partner, utility_a, vehicle):
    second = VehicleFactory(utility=utility_a, partner=kestrel_partner, partner_vehicle_id="veh-2")

    def vins(**query) -> list[str]:
        return [v["vin"] for v in kestrel_api.get("/api/v1/vehicles", query).json()["results"]]

    assert vins(vin=second.vin.lower()) == [second.vin]
    assert vins(vehicle_id="veh-1") == [vehicle.vin]
    assert sorted(vins(utility="alpha")) == sorted([vehicle.vin, second.vin])
    assert vins(utility="bravo") == []
    assert vins(status="inactive") == []


def test_it_lists_in_a_constant_number_of_queries(kestrel_api, kestrel_partner, utility_a):
    def queries_to_list() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert kestrel_api.get("/api/v1/vehicles").status_code == 200
        return len(queries)

    VehicleFactory(utility=utility_a, partner=kestrel_partner)
    few = queries_to_list()
    account = ServiceAccountFactory(utility=utility_a)
    VehicleFactory.create_batch(
        8, utility=utility_a, partner=kestrel_partner, service_account=account
    )
    assert queries_to_list() == few


def test_it_retrieves_by_vin_or_by_the_partners_id(kestrel_api, vehicle):
    by_vin = kestrel_api.get(f"/api/v1/vehicles/{vehicle.vin.lower()}")
    by_id = kestrel_api.get("/api/v1/vehicles/by-id/veh-1")

    assert by_vin.status_code == 200
    assert by_vin.json() == by_id.json()
    assert by_vin.json()["vehicle_id"] == "veh-1"


@pytest.mark.parametrize("method", ["get", "patch"])
@pytest.mark.parametrize("whose", ["other_partner_vehicle", "other_utility_vehicle", None])
def test_it_answers_404_for_a_vehicle_that_is_not_the_clients(
    method, whose, request, kestrel_api, vehicle, assert_api_error
):
    if whose is None:
        vin, vehicle_id = with_check_digit("1FTVW1EL0NWG99999"), "nobody"
    else:
        other = request.getfixturevalue(whose)
        vin, vehicle_id = other.vin, other.partner_vehicle_id

    by_vin = getattr(kestrel_api, method)(f"/api/v1/vehicles/{vin}", {}, format="json")
    by_id = getattr(kestrel_api, method)(f"/api/v1/vehicles/by-id/{vehicle_id}", {}, format="json")

    assert_api_error(by_vin, 404, "unknown_vehicle")
    assert_api_error(by_id, 404, "unknown_vehicle")
    assert strip_request_id(by_vin) == strip_request_id(by_id)


@pytest.mark.parametrize("path", ["not-a-vin", "by-id/%00", "by-id/" + "x" * 500])
def test_it_answers_404_for_odd_lookups(path, kestrel_api, assert_api_error):
    assert_api_error(kestrel_api.get(f"/api/v1/vehicles/{path}"), 404, "unknown_vehicle")


def test_it_prefers_the_active_registration_of_a_vin(kestrel_api, kestrel_partner, utility_a):
    VehicleFactory(
        utility=utility_a,
        partner=kestrel_partner,
        vin=VIN,
        partner_vehicle_id="old",
        status=Vehicle.Status.INACTIVE,
    )
    VehicleFactory(utility=utility_a, partner=kestrel_partner, vin=VIN, partner_vehicle_id="new")

    assert kestrel_api.get(f"/api/v1/vehicles/{VIN}").json()["vehicle_id"] == "new"


def test_it_asks_which_utility_when_a_partner_id_is_in_several(
    issue_client, bearer, kestrel_partner, utility_a, utility_b, assert_api_error
):
    api = bearer(issue_client("Kestrel Auto", "alpha", "bravo"))
    VehicleFactory(utility=utility_a, partner=kestrel_partner, partner_vehicle_id="veh-9")
    VehicleFactory(utility=utility_b, partner=kestrel_partner, partner_vehicle_id="veh-9")

    assert_api_error(api.get("/api/v1/vehicles/by-id/veh-9"), 409, "ambiguous_vehicle")
    in_bravo = api.get("/api/v1/vehicles/by-id/veh-9", {"utility": "bravo"})
    assert in_bravo.status_code == 200 and in_bravo.json()["utility"] == "bravo"


# --- Updates --------------------------------------------------------------------------------


def test_it_updates_a_vehicle_and_audits_the_change(kestrel_api, vehicle, utility_a):
    account = ServiceAccountFactory(utility=utility_a, account_number="4400012345")

    response = kestrel_api.patch(
        "/api/v1/vehicles/by-id/veh-1",
        {
            "firmware_version": "5.0",
            "capabilities": ["v1g"],
            "max_discharge_kw": 0,
            "account_number": "4400012345",
            "zip_code": account.zip_code,
            "authorization_code": issue_code(account),
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["capabilities"] == ["v1g"] and body["firmware_version"] == "5.0"
    assert body["account_number"] == "4400012345"
    with scopes_disabled():
        event = AuditEvent.objects.get(action="vehicle.updated")
    assert event.changes["firmware_version"] == ["", "5.0"]
    assert event.changes["supports_v2g"] == [True, False]
    assert event.changes["account_number"] == [None, "4400012345"]


def test_it_changes_nothing_for_an_empty_patch(kestrel_api, vehicle):
    assert (
        kestrel_api.patch(f"/api/v1/vehicles/{vehicle.vin}", {}, format="json").status_code == 200
    )
    with scopes_disabled():
        assert not AuditEvent.objects.filter(action="vehicle.updated").exists()


@pytest.mark.parametrize("field", ["vin", "utility"])
def test_it_refuses_changing_the_vin_or_utility(field, kestrel_api, vehicle, assert_api_error):
    response = kestrel_api.patch(
        f"/api/v1/vehicles/{vehicle.vin}", {field: "anything"}, format="json"
    )
    error = assert_api_error(response, 400, "validation_failed")
    assert field in error["details"]


def test_it_deactivates_and_refuses_reactivating_a_vin_taken_meanwhile(
    kestrel_api, vehicle, utility_b, assert_api_error
):
    response = kestrel_api.patch(
        f"/api/v1/vehicles/{vehicle.vin}", {"status": "inactive"}, format="json"
    )
    assert response.json()["status"] == "inactive"
    with scopes_disabled():
        event = AuditEvent.objects.get(action="vehicle.updated")
    assert (event.from_state, event.to_state) == ("active", "inactive")

    VehicleFactory(utility=utility_b, vin=vehicle.vin)  # the car moved on
    response = kestrel_api.patch(
        f"/api/v1/vehicles/{vehicle.vin}", {"status": "active"}, format="json"
    )
    assert_api_error(response, 409, "vin_active_elsewhere")


def test_it_refuses_a_vehicle_id_in_use(
    kestrel_api, vehicle, kestrel_partner, utility_a, assert_api_error
):
    VehicleFactory(utility=utility_a, partner=kestrel_partner, partner_vehicle_id="veh-2")

    response = kestrel_api.patch(
        f"/api/v1/vehicles/{vehicle.vin}", {"vehicle_id": "veh-2"}, format="json"
    )

    assert_api_error(response, 409, "vehicle_exists")


# --- Scopes ----------------------------------------------------------------------------------


def test_it_needs_the_write_scope_to_register_or_update(bearer, kestrel, vehicle, assert_api_error):
    reader = bearer(kestrel, "vehicles:read")

    assert reader.get("/api/v1/vehicles").status_code == 200
    assert_api_error(
        reader.post("/api/v1/vehicles", registration(), format="json"), 403, "insufficient_scope"
    )
    assert_api_error(
        reader.patch(f"/api/v1/vehicles/{vehicle.vin}", {}, format="json"),
        403,
        "insufficient_scope",
    )
    writer_only = bearer(kestrel, "telemetry:write")
    assert_api_error(writer_only.get("/api/v1/vehicles"), 403, "insufficient_scope")


def test_it_cuts_access_to_a_utility_whose_agreement_ended(kestrel_api, vehicle, utility_a):
    from portal.models import PartnerAgreement

    with scopes_disabled():
        PartnerAgreement.objects.filter(utility=utility_a).update(
            status=PartnerAgreement.Status.ENDED
        )

    assert kestrel_api.get("/api/v1/vehicles").json()["count"] == 0
    assert kestrel_api.get(f"/api/v1/vehicles/{vehicle.vin}").status_code == 404
