"""The simulator as a webhook receiver over real HTTP (no database): the partner side of the
protocol, its fault switches, and what it queues for the portal as time passes."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

import pytest
import requests

from devices.adapters.base import wire_time
from devices.adapters.signing import signed_headers
from devices.simulator.cloud import FleetCloud
from devices.simulator.fleet import Fleet, VehicleSpec
from devices.simulator.runtime import SimulatorRuntime
from devices.simulator.state import AgreementSim, Behaviour, TelemetryFormat

SECRET = "kestrel-alpha-secret"
ALWAYS_HOME = {"plugs_in_at": clock_time(0, 0), "departs_at": clock_time(23, 59, 59)}


def vehicle(vehicle_id="veh-1", **overrides) -> VehicleSpec:
    values = {
        "vehicle_id": vehicle_id,
        "vin": f"VIN-{vehicle_id}",
        "usable_battery_kwh": 100.0,
        "max_charge_kw": 11.0,
        "max_discharge_kw": 9.6,
        "soc_floor_pct": 20.0,
        "tz": ZoneInfo("America/Los_Angeles"),
        **ALWAYS_HOME,
    }
    values.update(overrides)
    return VehicleSpec(**values)


def make_cloud(*, pulls=False, clock=time.time, telemetry_format=None, **behaviour) -> FleetCloud:
    fleet = Fleet.build(
        [vehicle("veh-1"), vehicle("veh-2", max_discharge_kw=0)],
        now=datetime.fromtimestamp(clock(), UTC),
        initial_soc_pct={"veh-1": 60.0, "veh-2": 60.0},
    )
    agreement = AgreementSim(
        utility="alpha",
        partner="kestrel",
        signing_secret=SECRET,
        fleet=fleet,
        pulls=pulls,
        telemetry_format=telemetry_format or TelemetryFormat(),
    )
    options = {"reject_rate": 0.0, "opt_out_rate": 0.0, **behaviour}
    return FleetCloud([agreement], behaviour=Behaviour(**options), clock=clock)


@pytest.fixture
def sim():
    with SimulatorRuntime(make_cloud(), port=0, step_seconds=0.2) as runtime:
        yield runtime


def command(
    command_id="cmd-1", *, vehicle_id="veh-1", kind="discharge", setpoint_kw=-7.2, minutes=60
):
    starts = datetime.now(UTC)
    return {
        "command_id": command_id,
        "vehicle_id": vehicle_id,
        "vin": f"VIN-{vehicle_id}",
        "kind": kind,
        "setpoint_kw": setpoint_kw,
        "starts_at": wire_time(starts),
        "ends_at": wire_time(starts + timedelta(minutes=minutes)),
    }


def post(sim, path, payload, *, secret=SECRET, timeout=5, **headers) -> requests.Response:
    body = json.dumps(payload).encode()
    signed = signed_headers(secret=secret, body=body) if secret else {}
    return requests.post(
        f"{sim.url}/kestrel{path}",
        data=body,
        headers={"Content-Type": "application/json", **signed, **headers},
        timeout=timeout,
    )


def send(sim, *commands, utility="alpha", **options) -> requests.Response:
    payload = {"batch_id": "b1", "utility": utility, "commands": list(commands)}
    return post(sim, "/commands", payload, **options)


def agreement_of(sim) -> AgreementSim:
    return sim.cloud.agreements[0]


def test_it_answers_each_command_of_a_signed_batch(sim):
    response = send(
        sim, command("a"), command("b", vehicle_id="veh-2"), command("c", vehicle_id="nope")
    )

    assert response.status_code == 200
    assert response.json() == {
        "results": [
            {"command_id": "a", "status": "accepted", "reason": ""},
            {"command_id": "b", "status": "rejected", "reason": "discharge_not_supported"},
            {"command_id": "c", "status": "rejected", "reason": "unknown_vehicle"},
        ]
    }
    assert agreement_of(sim).actuations == {"a": 1}
    assert sim.cloud.outbox.acks[0][1]["status"] == "accepted"


def test_it_answers_a_repeated_command_with_its_first_answer_and_acts_once(sim):
    first = send(sim, command("a", setpoint_kw=-5))
    again = send(sim, command("a", setpoint_kw=-9), command("b"))

    assert first.json()["results"] == [{"command_id": "a", "status": "accepted", "reason": ""}]
    assert again.json()["results"][0] == {"command_id": "a", "status": "accepted", "reason": ""}
    assert agreement_of(sim).actuations == {"a": 1, "b": 1}
    # The first version of the command is the one carried out.
    assert agreement_of(sim).fleet.commands["a"].command.setpoint_kw == -5


def test_it_refuses_unsigned_and_wrongly_signed_requests(sim):
    unsigned = send(sim, command(), secret=None)
    wrong = send(sim, command(), secret="guess")
    garbage = send(sim, command(), **{"X-Portal-Timestamp": "soon"})

    assert (unsigned.status_code, unsigned.json()["error"]["code"]) == (401, "signature_missing")
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "signature_invalid")
    assert (garbage.status_code, garbage.json()["error"]["code"]) == (401, "timestamp_invalid")
    assert agreement_of(sim).actuations == {}


def test_it_refuses_malformed_batches(sim):
    assert post(sim, "/commands", {"batch_id": "b"}).status_code == 400
    wrong_utility = send(sim, command(), utility="bravo")
    assert (wrong_utility.status_code, wrong_utility.json()["error"]["code"]) == (
        400,
        "utility_mismatch",
    )
    elsewhere = requests.post(f"{sim.url}/nobody/commands", data=b"{}", timeout=5)
    assert elsewhere.status_code == 404


def test_it_rejects_commands_it_cannot_read(sim):
    bad_kind = {**command("k"), "kind": "boost"}
    bad_window = {**command("w"), "ends_at": "tomorrow"}
    no_id = {**command(), "command_id": None}

    results = send(sim, bad_kind, bad_window, no_id).json()["results"]

    assert [(r["command_id"], r["reason"]) for r in results] == [
        ("k", "unsupported_kind"),
        ("w", "invalid_window"),
        (None, "invalid_command"),
    ]


def test_it_cancels_what_it_holds_and_reports_statuses(sim):
    send(sim, command("a"))

    cancelled = post(sim, "/commands/cancel", {"command_ids": ["a", "zzz"]})
    status_url = f"{sim.url}/kestrel/commands/a"
    status = requests.get(status_url, headers=signed_headers(secret=SECRET, body=b""), timeout=5)
    unsigned = requests.get(status_url, timeout=5)

    assert cancelled.json()["results"] == [
        {"command_id": "a", "status": "cancelled"},
        {"command_id": "zzz", "status": "unknown"},
    ]
    assert status.json() == {"command_id": "a", "status": "cancelled", "reason": ""}
    assert unsigned.status_code == 401


def test_it_goes_offline_when_told_to_and_comes_back(sim):
    admin = f"{sim.url}/_admin/faults"
    assert requests.post(admin, json={"offline_seconds": 0.5}, timeout=5).status_code == 200

    down = send(sim, command("a"))
    assert down.status_code == 503
    assert int(down.headers["Retry-After"]) >= 1
    assert 0 < requests.get(admin, timeout=5).json()["offline_seconds"] <= 0.5
    time.sleep(0.6)

    assert send(sim, command("a")).status_code == 200
    assert agreement_of(sim).actuations == {"a": 1}


def test_it_can_stop_answering_altogether(sim):
    sim.cloud.set_faults({"offline_seconds": 5, "offline_mode": "timeout", "hang_seconds": 0.5})

    with pytest.raises(requests.Timeout):
        send(sim, command("a"), timeout=0.2)

    requests.delete(f"{sim.url}/_admin/faults", timeout=5)
    assert send(sim, command("a")).status_code == 200


def test_it_goes_offline_by_itself_at_the_configured_rate():
    cloud = make_cloud(offline_rate=1.0, offline_seconds=0.3)
    with SimulatorRuntime(cloud, port=0) as runtime:
        assert send(runtime, command("a")).status_code == 503
        assert send(runtime, command("a")).status_code == 503  # the same outage
    assert cloud.agreements[0].actuations == {}


def test_it_refuses_unknown_or_bad_faults(sim):
    admin = f"{sim.url}/_admin/faults"
    for bad in ({"meteor_rate": 1}, {"fail_5xx_rate": 2}, {"offline_mode": "sulk"}, [1]):
        response = requests.post(admin, json=bad, timeout=5)
        assert response.status_code == 400, bad
        assert response.json()["error"]["code"] == "invalid_faults"
    assert requests.get(f"{sim.url}/_admin/health", timeout=5).json() == {"status": "ok"}


def test_it_shows_its_state(sim):
    send(sim, command("a"))

    state = requests.get(f"{sim.url}/_admin/state", timeout=5).json()

    (agreement,) = state["agreements"]
    assert agreement["commands"]["a"] == {
        "status": "accepted",
        "reason": "",
        "actuations": 1,
        "state": "accepted",
    }
    assert set(agreement["vehicles"]) == {"veh-1", "veh-2"}


# --- Time passing (no HTTP) ----------------------------------------------------------------


class FakeClock:
    def __init__(self):
        self.now = datetime(2026, 7, 1, 20, 0, tzinfo=UTC).timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def at(clock: FakeClock, minutes: float = 0) -> str:
    return wire_time(datetime.fromtimestamp(clock.now, UTC) + timedelta(minutes=minutes))


def windowed(command_id: str, clock: FakeClock, *, start: float, end: float, **fields) -> dict:
    return {
        **command(command_id, **fields),
        "starts_at": at(clock, start),
        "ends_at": at(clock, end),
    }


def test_it_acknowledges_completion_when_the_window_ends():
    clock = FakeClock()
    cloud = make_cloud(clock=clock)
    agreement = cloud.agreements[0]
    cloud.receive(agreement, [windowed("a", clock, start=0, end=30)])

    clock.advance(29 * 60)
    cloud.tick(post_telemetry=False)
    assert [ack["status"] for _, ack in cloud.outbox.acks] == ["accepted"]
    clock.advance(2 * 60)
    cloud.tick(post_telemetry=False)

    completed = cloud.outbox.acks[-1][1]
    assert completed == {"command_id": "a", "status": "completed", "at": at(clock, -1)}
    assert round(agreement.fleet.states["veh-1"].discharged_kwh, 6) == round(7.2 * 0.5, 6)


def test_it_opts_out_through_the_portal_when_the_driver_overrides():
    clock = FakeClock()
    cloud = make_cloud(clock=clock, opt_out_rate=1.0)
    cloud.receive(cloud.agreements[0], [windowed("a", clock, start=5, end=65)])

    clock.advance(10 * 60)
    cloud.tick(post_telemetry=False)

    ((partner, opt_out),) = cloud.outbox.opt_outs
    assert partner == "kestrel"
    assert opt_out == {
        "vin": "VIN-veh-1",
        "starts_at": at(clock, -5),
        "ends_at": at(clock, 55),
        "reason": "customer_override",
        "reference": "sim-a",
    }
    assert cloud.agreements[0].fleet.states["veh-1"].discharged_kwh == 0


def test_it_opts_out_of_the_event_a_command_serves():
    clock = FakeClock()
    cloud = make_cloud(clock=clock, opt_out_rate=1.0)
    item = {**windowed("a", clock, start=0, end=60), "event_id": "evt-7"}
    cloud.receive(cloud.agreements[0], [item])

    clock.advance(60)
    cloud.tick(post_telemetry=False)

    ((_, opt_out),) = cloud.outbox.opt_outs
    assert opt_out == {
        "vin": "VIN-veh-1",
        "event_id": "evt-7",
        "reason": "customer_override",
        "reference": "sim-a",
    }


def test_it_rejects_at_the_configured_rate_and_always_the_same_way():
    decisions = []
    for _ in range(2):
        cloud = make_cloud(reject_rate=0.5, seed=7)
        results = cloud.receive(cloud.agreements[0], [command(f"c{n}") for n in range(40)])
        decisions.append([(r["status"], r["reason"]) for r in results])
    assert decisions[0] == decisions[1]
    rejected = sum(status == "rejected" for status, _ in decisions[0])
    assert 8 <= rejected <= 32


def test_it_writes_telemetry_the_way_its_adapter_config_says():
    clock = FakeClock()
    partner_format = TelemetryFormat(
        power_in_watts=True, soc_as_fraction=True, names={"soc": "stateOfCharge"}
    )
    cloud = make_cloud(clock=clock, telemetry_format=partner_format)
    cloud.receive(cloud.agreements[0], [windowed("a", clock, start=0, end=60)])

    clock.advance(60)
    cloud.tick(post_telemetry=True)

    readings = {reading["vin"]: reading for _, reading in cloud.outbox.readings}
    assert readings["VIN-veh-1"] == {
        "vin": "VIN-veh-1",
        "ts": at(clock),
        "stateOfCharge": pytest.approx(0.6 - 7.2 / 60 / 0.9**0.5 / 100, abs=1e-5),
        "power_kw": -7200.0,
        "plugged_in": True,
        "charging_state": "discharging",
    }
    assert readings["VIN-veh-2"]["charging_state"] == "charging"


def test_a_pull_partner_acknowledges_its_rejections_too():
    cloud = make_cloud(pulls=True)
    cloud.receive(cloud.agreements[0], [command("a"), command("b", vehicle_id="nope")])

    assert [ack for _, ack in cloud.outbox.acks] == [
        {"command_id": "a", "status": "accepted", "at": cloud.outbox.acks[0][1]["at"]},
        {
            "command_id": "b",
            "status": "rejected",
            "reason": "unknown_vehicle",
            "at": cloud.outbox.acks[1][1]["at"],
        },
    ]


def test_it_forgets_old_answers_but_not_running_commands():
    clock = FakeClock()
    cloud = make_cloud(clock=clock)
    agreement = cloud.agreements[0]
    cloud.receive(agreement, [windowed("short", clock, start=0, end=10)])
    cloud.receive(agreement, [windowed("long", clock, start=0, end=4 * 24 * 60)])

    clock.advance(3 * 24 * 3600)
    cloud.tick(post_telemetry=False)

    assert set(agreement.results) == {"long"}
    assert set(agreement.fleet.commands) == {"long"}
