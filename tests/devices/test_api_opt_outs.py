"""POST /api/v1/opt-outs: a customer's opt-out of one event or a time range marks the
vehicle's live commands it covers opted_out; the partner's reference makes it idempotent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django_scopes import scopes_disabled

from devices.models import DeviceCommand, OptOut
from portal.models import AuditEvent
from tests.devices.factories import VehicleFactory
from tests.devices.partner_api import command

pytestmark = pytest.mark.django_db

Status = DeviceCommand.Status
NOW = datetime.now(UTC).replace(microsecond=0)


def opt_out(api, **body):
    return api.post("/api/v1/opt-outs", body, format="json")


def statuses(*commands) -> list[str]:
    with scopes_disabled():
        for cmd in commands:
            cmd.refresh_from_db()
    return [cmd.status for cmd in commands]


def test_it_opts_a_vehicle_out_of_an_event(
    kestrel_api, kestrel, vehicle, kestrel_partner, utility_a
):
    live = [
        command(vehicle, status=status) for status in (Status.PENDING, Status.SENT, Status.ACCEPTED)
    ]
    done = command(vehicle, status=Status.COMPLETED)
    other_event = command(vehicle, source_id="evt-2")
    other_vehicle = command(
        VehicleFactory(utility=utility_a, partner=kestrel_partner, partner_vehicle_id="veh-2"),
        source_id="evt-1",
    )

    response = opt_out(
        kestrel_api, vehicle_id="veh-1", event_id="evt-1", reason="Road trip", reference="oo-1"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body == {
        "reference": "oo-1",
        "utility": "alpha",
        "vehicle_id": "veh-1",
        "vin": vehicle.vin,
        "event_id": "evt-1",
        "starts_at": None,
        "ends_at": None,
        "reason": "Road trip",
        "received_at": body["received_at"],
    }
    assert statuses(*live) == [Status.OPTED_OUT] * 3
    assert statuses(done, other_event, other_vehicle) == [
        Status.COMPLETED,
        Status.PENDING,
        Status.PENDING,
    ]
    with scopes_disabled():
        event = AuditEvent.objects.get(action="vehicle.opted_out")
    assert event.actor_client_id == kestrel.client_id
    assert event.changes["commands_opted_out"] == sorted(c.idempotency_key for c in live)


def test_it_opts_a_vehicle_out_of_a_time_range(kestrel_api, vehicle):
    def at(hours: float) -> datetime:
        return NOW + timedelta(hours=hours)

    overlapping = command(vehicle, starts_at=at(1), ends_at=at(3))
    inside = command(vehicle, starts_at=at(2.5), ends_at=at(2.75))
    before = command(vehicle, starts_at=at(0), ends_at=at(2))  # ends as the range starts
    after = command(vehicle, starts_at=at(4), ends_at=at(5))

    response = opt_out(
        kestrel_api,
        vin=vehicle.vin.lower(),
        starts_at=at(2).isoformat(),
        ends_at=at(4).astimezone(UTC).isoformat().replace("+00:00", "Z"),
    )

    assert response.status_code == 201, response.content
    assert statuses(overlapping, inside, before, after) == [
        Status.OPTED_OUT,
        Status.OPTED_OUT,
        Status.PENDING,
        Status.PENDING,
    ]


def test_it_is_idempotent_on_the_partners_reference(kestrel_api, vehicle, assert_api_error):
    first = opt_out(kestrel_api, vehicle_id="veh-1", event_id="evt-1", reference="oo-1")
    again = opt_out(kestrel_api, vehicle_id="veh-1", event_id="evt-1", reference="oo-1")
    different = opt_out(kestrel_api, vehicle_id="veh-1", event_id="evt-2", reference="oo-1")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert_api_error(different, 409, "reference_conflict")
    with scopes_disabled():
        assert OptOut.objects.count() == 1
        assert AuditEvent.objects.filter(action="vehicle.opted_out").count() == 1


def test_it_refuses_a_reference_the_partner_used_in_another_utility(
    kestrel_api, vehicle, other_utility_vehicle, assert_api_error
):
    with scopes_disabled():
        OptOut.objects.create(
            utility=other_utility_vehicle.utility,
            vehicle=other_utility_vehicle,
            partner=other_utility_vehicle.partner,
            event_ref="evt-1",
            partner_reference="oo-1",
        )

    response = opt_out(kestrel_api, vehicle_id="veh-1", event_id="evt-1", reference="oo-1")

    error = assert_api_error(response, 409, "reference_conflict")
    assert "bravo" not in str(error).lower()


def test_it_records_opt_outs_without_a_reference_each_time(kestrel_api, vehicle):
    assert opt_out(kestrel_api, vehicle_id="veh-1", event_id="evt-1").status_code == 201
    assert opt_out(kestrel_api, vehicle_id="veh-1", event_id="evt-1").status_code == 201


@pytest.mark.parametrize("whose", ["other_partner_vehicle", "other_utility_vehicle", None])
def test_it_answers_404_for_a_vehicle_that_is_not_the_clients(
    whose, request, kestrel_api, vehicle, assert_api_error
):
    vehicle_id = request.getfixturevalue(whose).partner_vehicle_id if whose else "nobody"

    response = opt_out(kestrel_api, vehicle_id=vehicle_id, event_id="evt-1")

    assert_api_error(response, 404, "unknown_vehicle")
    with scopes_disabled():
        assert not OptOut.objects.exists()


def test_it_answers_404_for_an_inactive_vehicle(kestrel_api, vehicle, assert_api_error):
    with scopes_disabled():
        type(vehicle).objects.filter(pk=vehicle.pk).update(status="inactive")

    assert_api_error(opt_out(kestrel_api, vehicle_id="veh-1", event_id="e"), 404, "unknown_vehicle")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"vehicle_id": "veh-1"},
        {"event_id": "evt-1"},
        {"vehicle_id": "veh-1", "event_id": "evt-1", "starts_at": NOW.isoformat()},
        {"vehicle_id": "veh-1", "starts_at": NOW.isoformat()},
        {
            "vehicle_id": "veh-1",
            "starts_at": NOW.isoformat(),
            "ends_at": (NOW - timedelta(hours=1)).isoformat(),
        },
        {
            "vehicle_id": "veh-1",
            "starts_at": NOW.replace(tzinfo=None).isoformat(),
            "ends_at": (NOW + timedelta(hours=1)).replace(tzinfo=None).isoformat(),
        },
        {"vehicle_id": "veh-1", "event_id": ["evt-1"]},
        {"vehicle_id": "veh-1", "event_id": "e" * 65},
        {"vehicle_id": "veh-1", "event_id": "evt-1", "reference": "r" * 101},
        {"vehicle_id": None, "event_id": "evt-1"},
        {"vehicle_id": "veh\x00", "event_id": "evt-1"},
    ],
)
def test_it_refuses_a_malformed_opt_out(body, kestrel_api, vehicle, assert_api_error):
    assert_api_error(opt_out(kestrel_api, **body), 400, "validation_failed")


def test_it_needs_the_vehicles_write_scope(bearer, kestrel, vehicle, assert_api_error):
    api = bearer(kestrel, "vehicles:read commands:write")
    assert_api_error(opt_out(api, vehicle_id="veh-1", event_id="evt-1"), 403, "insufficient_scope")
