"""The command queue: issuing (idempotent keys), GET /api/v1/commands (pull: each command
handed out once, even to concurrent pulls) and POST /api/v1/commands/ack (per-item results
following DeviceCommand.ALLOWED)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django_scopes import scope, scopes_disabled

from devices.models import AdapterConfig, DeviceCommand, OptOut
from devices.services.commands import CommandSpec, command_key, issue_commands
from portal.models import AuditEvent, PartnerAgreement
from tests.devices.partner_api import command

pytestmark = pytest.mark.django_db

Status = DeviceCommand.Status


def status_of(cmd) -> str:
    with scopes_disabled():
        cmd.refresh_from_db()
    return cmd.status


def pull(api, **query):
    return api.get("/api/v1/commands", query)


def ack(api, *acks):
    return api.post("/api/v1/commands/ack", {"acks": list(acks)}, format="json")


# --- Issue ----------------------------------------------------------------------------------


def spec(vehicle, **fields) -> CommandSpec:
    start = datetime.now(UTC) + timedelta(hours=1)
    return CommandSpec(
        **{
            "vehicle_id": vehicle.pk,
            "kind": "discharge",
            "setpoint_kw": -7.2,
            "starts_at": start,
            "ends_at": start + timedelta(hours=2),
            **fields,
        }
    )


def test_it_issues_commands_once_per_source_revision(vehicle):
    with scope(utility=vehicle.utility_id):
        first = issue_commands(
            source_type="dispatch.event", source_id="evt-9", revision=0, specs=[spec(vehicle)]
        )
        again = issue_commands(
            source_type="dispatch.event", source_id="evt-9", revision=0, specs=[spec(vehicle)]
        )
        revised = issue_commands(
            source_type="dispatch.event", source_id="evt-9", revision=1, specs=[spec(vehicle)]
        )

    assert (first.created, again.created, revised.created) == (1, 0, 1)
    [command] = first.commands
    assert again.commands == [command]
    assert command.idempotency_key == command_key(
        source_type="dispatch.event", source_id="evt-9", vehicle_id=vehicle.pk, revision=0
    )
    assert revised.commands[0].idempotency_key != command.idempotency_key
    assert (command.status, command.partner_id, command.utility_id) == (
        Status.PENDING,
        vehicle.partner_id,
        vehicle.utility_id,
    )
    with scopes_disabled():
        assert DeviceCommand.objects.count() == 2
        event = AuditEvent.objects.filter(action="command.issued").first()
    assert event.changes["command_ids"] == [revised.commands[0].idempotency_key]


def test_it_issues_a_schedule_to_one_vehicle_by_sequence(vehicle):
    start = datetime.now(UTC) + timedelta(hours=1)
    with scope(utility=vehicle.utility_id):
        issued = issue_commands(
            source_type="dispatch.event",
            source_id="evt-9",
            revision=0,
            specs=[
                spec(vehicle, starts_at=start, ends_at=start + timedelta(hours=1)),
                spec(
                    vehicle,
                    starts_at=start + timedelta(hours=1),
                    ends_at=start + timedelta(hours=2),
                    sequence=1,
                ),
            ],
        )
    assert issued.created == 2


def test_it_issues_commands_already_opted_out_as_such(vehicle):
    with scopes_disabled():
        OptOut.objects.create(
            utility=vehicle.utility, vehicle=vehicle, partner=vehicle.partner, event_ref="evt-9"
        )
    with scope(utility=vehicle.utility_id):
        [command] = issue_commands(
            source_type="dispatch.event", source_id="evt-9", revision=0, specs=[spec(vehicle)]
        ).commands
    assert command.status == Status.OPTED_OUT


def test_it_refuses_bad_specs(vehicle, other_utility_vehicle):
    from devices.services.errors import UnknownVehicle

    with scope(utility=vehicle.utility_id):
        for bad in [
            spec(vehicle, kind="warp"),
            spec(vehicle, ends_at=datetime.now(UTC) - timedelta(days=1)),
            spec(vehicle, starts_at=datetime.now().replace(tzinfo=None)),  # noqa: DTZ005
        ]:
            with pytest.raises(ValueError):
                issue_commands(source_type="t", source_id="1", revision=0, specs=[bad])
        with pytest.raises(UnknownVehicle):
            issue_commands(
                source_type="t", source_id="1", revision=0, specs=[spec(other_utility_vehicle)]
            )


# --- Pull -----------------------------------------------------------------------------------


def test_it_hands_out_pending_commands_oldest_first_and_marks_them_sent(
    kestrel_api, kestrel, vehicle
):
    older, newer = command(vehicle), command(vehicle, kind="charge", setpoint_kw=6.6)
    with scopes_disabled():
        DeviceCommand.objects.filter(pk=older.pk).update(
            created_at=datetime.now(UTC) - timedelta(minutes=5)
        )

    response = pull(kestrel_api)

    assert response.status_code == 200, response.content
    commands = response.json()["commands"]
    assert [c["command_id"] for c in commands] == [older.idempotency_key, newer.idempotency_key]
    assert commands[0] == {
        "command_id": older.idempotency_key,
        "utility": "alpha",
        "vehicle_id": "veh-1",
        "vin": vehicle.vin,
        "kind": "discharge",
        "setpoint_kw": -7.2,
        "starts_at": older.starts_at.isoformat().replace("+00:00", "Z"),
        "ends_at": older.ends_at.isoformat().replace("+00:00", "Z"),
        "event_id": "evt-1",
        "revision": 0,
        "status": "sent",
    }
    with scopes_disabled():
        older.refresh_from_db()
        event = AuditEvent.objects.get(action="command.sent")
    assert older.status == Status.SENT and older.sent_at is not None and older.attempts == 1
    assert event.actor_client_id == kestrel.client_id
    assert event.changes == {"command_ids": [older.idempotency_key, newer.idempotency_key]}
    assert pull(kestrel_api).json() == {"commands": []}


def test_it_hands_out_at_most_the_limit(kestrel_api, vehicle):
    for _ in range(3):
        command(vehicle)

    assert len(pull(kestrel_api, limit=2).json()["commands"]) == 2
    assert len(pull(kestrel_api, limit=2).json()["commands"]) == 1


def test_it_hands_out_only_the_clients_live_pending_commands(
    kestrel_api, vehicle, other_partner_vehicle, other_utility_vehicle
):
    mine = command(vehicle)
    others = [
        command(other_partner_vehicle),
        command(other_utility_vehicle),
        command(vehicle, status=Status.SENT),
        command(vehicle, status=Status.OPTED_OUT),
        command(vehicle, ends_at=datetime.now(UTC) - timedelta(minutes=1)),  # over already
    ]

    commands = pull(kestrel_api).json()["commands"]

    assert [c["command_id"] for c in commands] == [mine.idempotency_key]
    assert [status_of(c) for c in others] == [
        Status.PENDING,
        Status.PENDING,
        Status.SENT,
        Status.OPTED_OUT,
        Status.PENDING,
    ]


def test_it_leaves_commands_of_a_webhook_agreement_to_the_webhook(
    kestrel_api, kestrel_partner, vehicle, utility_a
):
    cmd = command(vehicle)
    with scopes_disabled():
        AdapterConfig.objects.create(
            utility=utility_a,
            agreement=PartnerAgreement.objects.get(utility=utility_a, partner=kestrel_partner),
            kind=AdapterConfig.Kind.WEBHOOK,
            endpoint_url="https://oem.example.test/v2x",
        )

    assert pull(kestrel_api).json() == {"commands": []}
    assert status_of(cmd) == Status.PENDING


def test_it_filters_the_pull_by_utility(
    issue_client, bearer, kestrel_partner, utility_a, utility_b, assert_api_error
):
    from tests.devices.factories import VehicleFactory

    api = bearer(issue_client("Kestrel Auto", "alpha", "bravo"))
    in_a = command(VehicleFactory(utility=utility_a, partner=kestrel_partner))
    in_b = command(VehicleFactory(utility=utility_b, partner=kestrel_partner))

    assert [c["command_id"] for c in pull(api, utility="bravo").json()["commands"]] == [
        in_b.idempotency_key
    ]
    assert status_of(in_a) == Status.PENDING
    assert_api_error(pull(api, utility="charlie"), 404, "not_found")


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 1001}, {"limit": "ten"}])
def test_it_refuses_a_bad_limit(query, kestrel_api, assert_api_error):
    assert_api_error(pull(kestrel_api, **query), 400, "validation_failed")


def test_it_does_not_hand_out_commands_to_a_head_request(kestrel_api, vehicle):
    cmd = command(vehicle)

    assert kestrel_api.head("/api/v1/commands").status_code == 405  # a HEAD answer has no body
    assert status_of(cmd) == Status.PENDING


def test_it_needs_the_commands_scopes(bearer, kestrel, vehicle, assert_api_error):
    api = bearer(kestrel, "vehicles:read telemetry:write")
    assert_api_error(pull(api), 403, "insufficient_scope")
    assert_api_error(ack(api, {"command_id": "x", "status": "accepted"}), 403, "insufficient_scope")


@pytest.mark.django_db(transaction=True)
def test_it_never_hands_the_same_command_to_two_concurrent_pulls(bearer, kestrel, vehicle):
    commands = [command(vehicle) for _ in range(60)]
    clients = [bearer(kestrel) for _ in range(4)]
    pulled: list[list[str]] = [[] for _ in clients]
    start = threading.Barrier(len(clients))

    def drain(index: int) -> None:
        try:
            start.wait()
            while batch := pull(clients[index], limit=5).json()["commands"]:
                pulled[index].extend(c["command_id"] for c in batch)
        finally:
            connection.close()

    threads = [threading.Thread(target=drain, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    everything = [key for keys in pulled for key in keys]
    assert sorted(everything) == sorted(c.idempotency_key for c in commands)  # once each
    assert sum(1 for keys in pulled if keys) > 1  # the pulls did overlap


# --- Acknowledge ----------------------------------------------------------------------------


def test_it_applies_acknowledgements_in_order(kestrel_api, kestrel, vehicle):
    cmd = command(vehicle, status=Status.SENT)
    at = datetime.now(UTC) - timedelta(minutes=1)

    response = ack(
        kestrel_api,
        {"command_id": cmd.idempotency_key, "status": "accepted"},
        {"command_id": cmd.idempotency_key, "status": "completed", "at": at.isoformat()},
    )

    assert response.status_code == 200, response.content
    assert response.json() == {
        "results": [
            {
                "command_id": cmd.idempotency_key,
                "ok": True,
                "changed": True,
                "status": "accepted",
                "code": "",
                "message": "",
            },
            {
                "command_id": cmd.idempotency_key,
                "ok": True,
                "changed": True,
                "status": "completed",
                "code": "",
                "message": "",
            },
        ]
    }
    with scopes_disabled():
        cmd.refresh_from_db()
        [event] = AuditEvent.objects.filter(action="command.acknowledged")
    assert cmd.status == Status.COMPLETED and cmd.acknowledged_at == at
    assert event.actor_client_id == kestrel.client_id
    assert event.changes == {"transitions": {cmd.idempotency_key: ["sent", "completed"]}}


def test_it_treats_a_repeated_acknowledgement_as_done(kestrel_api, vehicle):
    cmd = command(vehicle, status=Status.SENT)
    item = {"command_id": cmd.idempotency_key, "status": "rejected", "reason": "not plugged in"}
    ack(kestrel_api, item)

    [result] = ack(kestrel_api, item).json()["results"]

    assert (result["ok"], result["changed"], result["status"]) == (True, False, "rejected")
    with scopes_disabled():
        cmd.refresh_from_db()
        assert AuditEvent.objects.filter(action="command.acknowledged").count() == 1
    assert cmd.status_reason == "not plugged in"


@pytest.mark.parametrize(
    ("current", "wanted"),
    [
        (Status.COMPLETED, "accepted"),
        (Status.REJECTED, "completed"),
        (Status.OPTED_OUT, "accepted"),
        (Status.CANCELLED, "completed"),
        (Status.ACCEPTED, "rejected"),
    ],
)
def test_it_refuses_a_transition_the_state_machine_does_not_allow(
    current, wanted, kestrel_api, vehicle
):
    cmd = command(vehicle, status=current)

    [result] = ack(kestrel_api, {"command_id": cmd.idempotency_key, "status": wanted}).json()[
        "results"
    ]

    assert (result["ok"], result["code"], result["status"]) == (
        False,
        "invalid_transition",
        current,
    )
    assert status_of(cmd) == current


@pytest.mark.parametrize("whose", ["other_partner_vehicle", "other_utility_vehicle", None])
def test_it_answers_unknown_command_for_one_that_is_not_the_clients(
    whose, request, kestrel_api, vehicle
):
    if whose is None:
        key = "no-such-command"
    else:
        foreign = command(request.getfixturevalue(whose), status=Status.SENT)
        key = foreign.idempotency_key

    mine = command(vehicle, status=Status.SENT)
    results = ack(
        kestrel_api,
        {"command_id": key, "status": "accepted"},
        {"command_id": mine.idempotency_key, "status": "accepted"},
    ).json()["results"]

    assert [(r["ok"], r["code"]) for r in results] == [
        (False, "unknown_command"),
        (True, ""),
    ]
    if whose is not None:
        assert status_of(foreign) == Status.SENT


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"acks": []},
        {"acks": "all"},
        {"acks": [{"command_id": "x"}]},
        {"acks": [{"command_id": "x", "status": "sent"}]},
        {"acks": [{"command_id": "x", "status": "cancelled"}]},
        {"acks": [{"command_id": None, "status": "accepted"}]},
        {"acks": [{"command_id": "x", "status": "accepted", "at": "2026-07-01T17:00:00"}]},
        {"acks": [{"command_id": "x", "status": "accepted", "at": 5}]},
        {"acks": [{"command_id": "x" * 121, "status": "accepted"}]},
        {"acks": [{"command_id": "x", "status": "accepted"}] * 1001},
        {"acks": ["x"]},
    ],
)
def test_it_refuses_a_malformed_acknowledgement_and_changes_nothing(
    body, kestrel_api, vehicle, assert_api_error
):
    cmd = command(vehicle, status=Status.SENT)

    response = kestrel_api.post("/api/v1/commands/ack", body, format="json")

    assert_api_error(response, 400, "validation_failed")
    assert status_of(cmd) == Status.SENT
