"""The dispatch delivery path under faults, every part real: an event over a few hundred
vehicles is activated by a Celery worker process on the configured broker, whose deliveries
go over HTTP to the fleet simulator (in this process, on a loopback port), whose own record of
every command id it received and carried out is the evidence.

Whatever goes wrong on the way — the worker killed mid-call, the broker crashing and coming
back empty, the partner timing out, failing with 5xx or losing its answers — every command the event issued ends ``accepted`` in the
portal and was carried out exactly once by the partner (a repeat is answered from memory and
shows as a duplicate). The tests hold whether the event issues one command per vehicle or
several.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from collections import Counter

import pytest
import requests
from django_scopes import scopes_disabled
from kombu import Connection

from demo.management.commands.run_portal import prepare_runtime_dirs
from devices.models import AdapterAttempt, AdapterConfig, DeviceCommand
from devices.simulator.state import Behaviour
from devices.tasks import sweep_pending_commands
from dispatch.tasks import activate_event
from portal.models import AuditEvent
from tests.devices.simulator_support import running_simulator
from tests.dispatch import fleet_support
from tests.net import free_port
from tests.portal.factories import AutomakerPartnerFactory
from tests.worker import celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

Status = DeviceCommand.Status
Outcome = AdapterAttempt.Outcome
Circuit = AdapterConfig.Circuit
FLEET = 300
BATCH = 50
CALL_TIMEOUT_S = 3.0  # the webhook timeout: below the workers' in-flight lease (5 s)
# The adapter knobs, shortened so a test's faults play out in seconds (production: minutes).
WORKER_ENV = {
    "DJANGO_SETTINGS_MODULE": "tests.dispatch.faults_settings",
    "ADAPTER_RETRY_BASE_SECONDS": "1",
    "ADAPTER_RETRY_MAX_SECONDS": "2",
    "ADAPTER_CIRCUIT_FAILURE_THRESHOLD": "3",
    "ADAPTER_CIRCUIT_COOL_DOWN_SECONDS": "2",
}


@pytest.fixture
def fleet(utility_a):
    partner = AutomakerPartnerFactory(name="Faulty Motors", slug="faulty")
    agreement = fleet_support.webhook_agreement(
        utility=utility_a,
        partner=partner,
        timeout_seconds=CALL_TIMEOUT_S,
        max_batch_size=BATCH,
        max_attempts=20,
    )
    program = fleet_support.open_v2h_program(utility_a, slug="faults-v2h")
    ids = fleet_support.build_fleet(
        utility=utility_a, partner=partner, program=program, size=FLEET, code="FLT"
    )
    prepare_runtime_dirs()  # the filesystem broker's folders, should that be the broker
    return fleet_support.Fleet(utility_a, partner, agreement, program, ids)


@pytest.fixture
def simulator(fleet):
    """The partner's cloud: no rejections or opt-outs of its own, its clock ticking once an
    hour (only requests matter here)."""
    with running_simulator(
        utility_slugs=[fleet.utility.slug],
        partner_names=[fleet.partner.slug],
        behaviour=Behaviour(reject_rate=0.0, opt_out_rate=0.0),
        telemetry_interval=3600.0,
        step_seconds=3600.0,
    ) as sim:
        fleet_support.point_at(fleet.agreement, sim.endpoint(fleet.partner.slug))
        yield sim


def admin(sim, method: str, path: str, **kwargs) -> dict:
    response = requests.request(method, f"{sim.url}/_admin/{path}", timeout=10, **kwargs)
    response.raise_for_status()
    return response.json()


def partner_record(sim) -> dict:
    """The simulator's own record of the agreement: commands (with actuations), arrivals,
    duplicates."""
    (agreement,) = admin(sim, "GET", "state")["agreements"]
    return agreement


def event_commands(event) -> dict[str, str]:
    """Command id → status, for every command the event issued."""
    with scopes_disabled():
        return dict(
            DeviceCommand.objects.filter(
                source_type="dispatch.event", source_id=str(event.pk)
            ).values_list("idempotency_key", "status")
        )


def all_accepted(event) -> bool:
    statuses = event_commands(event)
    return bool(statuses) and set(statuses.values()) == {Status.ACCEPTED}


def activate(fleet, event) -> None:
    activate_event.delay(utility_id=fleet.utility.pk, event_id=event.pk)


def assert_each_carried_out_once(sim, event) -> dict:
    """Every command the event issued is accepted in the portal and was carried out exactly
    once by the partner; returns the partner's record."""
    issued = event_commands(event)
    record = partner_record(sim)
    assert len(issued) >= FLEET  # at least one command per dispatched vehicle
    assert Counter(issued.values()) == {Status.ACCEPTED: len(issued)}
    seen = record["commands"]
    assert set(seen) == set(issued)
    assert {cid: c["actuations"] for cid, c in seen.items()} == dict.fromkeys(issued, 1)
    assert all(c["status"] == "accepted" for c in seen.values())
    return record


def circuit_moves(fleet) -> list[tuple[str, str]]:
    with scopes_disabled():
        return list(
            AuditEvent.objects.filter(
                action="adapter.circuit_changed", utility=fleet.utility
            ).values_list("from_state", "to_state")
        )


def attempt_outcomes(fleet) -> Counter:
    with scopes_disabled():
        return Counter(
            AdapterAttempt.objects.filter(agreement=fleet.agreement).values_list(
                "outcome", flat=True
            )
        )


def test_a_worker_killed_mid_call_leaves_no_command_lost_or_doubled(fleet, simulator):
    event = fleet_support.notified_event(fleet.program)
    # A slow partner: it acts on each batch at once but answers a second later, so a batch
    # is in flight — carried out there, still "sent" here — when the worker dies.
    admin(simulator, "POST", "faults", json={"answer_delay_seconds": 1.0})

    with celery_worker(name="doomed", extra_env=WORKER_ENV) as doomed:
        activate(fleet, event)
        wait_for(
            lambda: partner_record(simulator)["received"] >= 2 * BATCH,
            timeout=40,
            message=f"no deliveries:\n{doomed.log_path.read_text()[-3000:]}",
        )
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait()

    at_kill = event_commands(event)
    in_flight = {cid for cid, status in at_kill.items() if status == Status.SENT}
    carried_out = set(partner_record(simulator)["commands"])
    # The kill caught a batch the partner had carried out but whose answer never arrived,
    # and left commands nobody had sent yet.
    assert in_flight and in_flight <= carried_out
    assert Status.PENDING in at_kill.values()

    admin(simulator, "DELETE", "faults")
    with celery_worker(name="successor", extra_env=WORKER_ENV) as successor:
        # The killed worker's delivery message is gone with it: beat's sweep (sent here as
        # beat would, every second instead of every minute) starts deliveries for what is
        # pending, and for what is in flight once its lease is over.
        def swept_and_accepted() -> bool:
            if all_accepted(event):
                return True
            sweep_pending_commands.delay()
            return False

        wait_for(
            swept_and_accepted,
            timeout=45,
            interval=1.0,
            message=f"{Counter(event_commands(event).values())}\n"
            f"{successor.log_path.read_text()[-3000:]}",
        )

    record = assert_each_carried_out_once(simulator, event)
    # The batch caught in flight was sent again after its lease: the partner received it
    # twice, answered from memory and did not act again. Nothing else arrived twice.
    assert set(record["duplicates"]) == in_flight
    assert set(record["duplicates"].values()) == {2}
    assert record["received"] == len(at_kill) + len(in_flight)
    with scopes_disabled():
        attempts = dict(
            DeviceCommand.objects.filter(idempotency_key__in=list(at_kill)).values_list(
                "idempotency_key", "attempts"
            )
        )
    # The unanswered call was never recorded; the answered ones were, once each.
    assert set(attempts.values()) == {1}


def test_an_outage_opens_the_circuit_and_every_command_still_lands_once(fleet, simulator):
    event = fleet_support.notified_event(fleet.program)
    # Phase 1: the partner stops answering: each call hangs 1.5 s, past a 1 s timeout.
    with scopes_disabled():
        AdapterConfig.objects.filter(agreement=fleet.agreement).update(timeout_seconds=1.0)
    admin(
        simulator,
        "POST",
        "faults",
        json={"offline_seconds": 120, "offline_mode": "timeout", "hang_seconds": 1.5},
    )

    with celery_worker(name="outage", extra_env=WORKER_ENV) as worker:
        log = worker.log_path
        activate(fleet, event)
        wait_for(
            lambda: (Circuit.CLOSED, Circuit.OPEN) in circuit_moves(fleet),
            timeout=40,
            message=f"the circuit never opened:\n{log.read_text()[-3000:]}",
        )
        # Phase 2: it answers 503 instead; the half-open trial fails and the circuit
        # opens again.
        admin(simulator, "POST", "faults", json={"offline_seconds": 120, "offline_mode": "503"})
        wait_for(
            lambda: (
                attempt_outcomes(fleet)[Outcome.HTTP_ERROR] >= 1
                and (Circuit.HALF_OPEN, Circuit.OPEN) in circuit_moves(fleet)
            ),
            timeout=30,
            message=f"no failed trial:\n{log.read_text()[-3000:]}",
        )
        # Phase 3: it is back but loses its answers: it acts on a batch, then answers 503.
        admin(
            simulator,
            "POST",
            "faults",
            json={"offline_seconds": 0, "lose_response_rate": 1.0},
        )
        wait_for(
            lambda: partner_record(simulator)["received"] > 0,
            timeout=30,
            message=f"no batch reached the partner:\n{log.read_text()[-3000:]}",
        )
        lost = set(partner_record(simulator)["commands"])
        # Phase 4: recovered. The next trial closes the circuit and the queue drains.
        admin(simulator, "DELETE", "faults")
        wait_for(
            lambda: all_accepted(event),
            timeout=40,
            message=f"{Counter(event_commands(event).values())}\n{log.read_text()[-3000:]}",
        )

    record = assert_each_carried_out_once(simulator, event)
    # The batch whose answer was lost was sent again and answered from memory.
    assert lost and lost <= set(record["duplicates"])
    outcomes = attempt_outcomes(fleet)
    assert outcomes[Outcome.TIMEOUT] >= 1
    assert outcomes[Outcome.HTTP_ERROR] >= 2  # the failed trial and the lost answer
    assert outcomes[Outcome.CIRCUIT_OPEN] >= 1  # calls skipped while it cooled down
    assert outcomes[Outcome.OK] >= len(event_commands(event)) // BATCH
    moves = circuit_moves(fleet)
    for move in [
        (Circuit.CLOSED, Circuit.OPEN),
        (Circuit.OPEN, Circuit.HALF_OPEN),
        (Circuit.HALF_OPEN, Circuit.OPEN),
        (Circuit.HALF_OPEN, Circuit.CLOSED),
    ]:
        assert move in moves
    with scopes_disabled():
        config = AdapterConfig.objects.get(agreement=fleet.agreement)
        attempts = list(
            DeviceCommand.objects.filter(
                source_type="dispatch.event", source_id=str(event.pk)
            ).values_list("idempotency_key", "attempts")
        )
    assert (config.circuit_state, config.consecutive_failures) == (Circuit.CLOSED, 0)
    # Each command's attempts are counted: the timed-out and refused ones, the lost answer,
    # the final one; skipped calls (circuit open) are not.
    assert all(n >= 1 for _, n in attempts)
    assert all(n >= 2 for key, n in attempts if key in lost)


# --- The broker restarts -------------------------------------------------------------------


class RedisServer:
    """A Redis server of the test's own on a loopback port, keeping nothing on disk (as the
    machine's Redis here): killing it loses every message it held, as a crash would."""

    def __init__(self, port: int, workdir) -> None:
        self.port, self.workdir, self.proc = port, workdir, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_for(self.answers, timeout=10, message="redis-server did not start")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


@pytest.fixture
def broker(tmp_path):
    if not os.path.exists(REDIS_SERVER):
        pytest.skip("redis-server is not installed (the broker-restart test runs its own)")
    server = RedisServer(free_port(), tmp_path)
    server.start()
    yield server
    server.kill()


def send(task, url: str, **kwargs) -> None:
    """Send ``task`` through the broker at ``url`` (not the configured one)."""
    with Connection(url) as connection:
        task.apply_async(kwargs=kwargs, connection=connection)


def test_a_broker_restart_mid_event_loses_no_command_and_doubles_none(fleet, simulator, broker):
    event = fleet_support.notified_event(fleet.program)
    # A slow partner, so the event is still being delivered when the broker goes down.
    admin(simulator, "POST", "faults", json={"answer_delay_seconds": 0.5})
    env = {**WORKER_ENV, "CELERY_BROKER_URL": broker.url}

    with celery_worker(name="survivor", extra_env=env) as worker:
        log = worker.log_path
        send(activate_event, broker.url, utility_id=fleet.utility.pk, event_id=event.pk)
        wait_for(
            lambda: partner_record(simulator)["received"] >= 2 * BATCH,
            timeout=40,
            message=f"no deliveries:\n{log.read_text()[-3000:]}",
        )
        # The broker crashes and comes back empty: the queued delivery runs, and the
        # unacknowledged message of the one running, are gone.
        broker.kill()
        at_crash = Counter(event_commands(event).values())
        broker.start()
        assert at_crash[Status.PENDING] > 0  # the crash left work undelivered
        admin(simulator, "DELETE", "faults")

        # The same worker reconnects; beat's sweep (sent as beat would, every second) starts
        # deliveries for what waits.
        def swept_and_accepted() -> bool:
            if all_accepted(event):
                return True
            send(sweep_pending_commands, broker.url)
            return False

        wait_for(
            swept_and_accepted,
            timeout=60,
            interval=1.0,
            message=f"{Counter(event_commands(event).values())}\n{log.read_text()[-3000:]}",
        )
        assert worker.poll() is None  # the worker rode out the restart

    record = assert_each_carried_out_once(simulator, event)
    # A batch in flight at the crash may have been sent again once its lease ran out; the
    # partner answered it from memory. Nothing else arrived twice.
    assert set(record["duplicates"].values()) <= {2}
    assert record["received"] == len(event_commands(event)) + len(record["duplicates"])
