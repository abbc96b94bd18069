"""The webhook adapter and the delivery around it, against a real HTTP peer: the fleet
simulator's server on a free 127.0.0.1 port, driven into failures through its fault switches.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from devices.adapters import delivery, queue
from devices.adapters.base import EndpointNotAllowed, OutgoingCommand
from devices.adapters.registry import adapter_for
from devices.adapters.signing import signed_headers
from devices.adapters.webhook import check_endpoint, retry_after
from devices.models import AdapterAttempt, AdapterConfig, DeviceCommand
from devices.simulator.state import Behaviour
from devices.tasks import enqueue_delivery, send_pending_commands, sweep_pending_commands
from portal.models import AuditEvent
from tests.devices.factories import VehicleFactory
from tests.devices.simulator_support import running_simulator
from tests.portal.factories import AutomakerPartnerFactory, PartnerAgreementFactory

pytestmark = pytest.mark.django_db

Status = DeviceCommand.Status
Outcome = AdapterAttempt.Outcome


@pytest.fixture
def kestrel(db):
    return AutomakerPartnerFactory(name="Kestrel Automotive", slug="kestrel")


@pytest.fixture
def agreement(utility_a, kestrel):
    return PartnerAgreementFactory(utility=utility_a, partner=kestrel)


@pytest.fixture
def config(agreement):
    with scopes_disabled():
        return AdapterConfig.objects.create(
            utility=agreement.utility,
            agreement=agreement,
            kind=AdapterConfig.Kind.WEBHOOK,
            endpoint_url="http://127.0.0.1:9/kestrel",
            timeout_seconds=2.0,
            max_batch_size=50,
            max_attempts=3,
        )


@pytest.fixture
def vehicles(utility_a, kestrel):
    return [
        VehicleFactory(utility=utility_a, partner=kestrel, partner_vehicle_id=f"k-{n}")
        for n in range(3)
    ]


@pytest.fixture
def simulator(config, vehicles):
    """The simulator, loaded with Kestrel's fleet in Alpha; the agreement points at it."""
    behaviour = Behaviour(reject_rate=0.0, opt_out_rate=0.0)
    with running_simulator(
        utility_slugs=["alpha"], partner_names=["kestrel"], behaviour=behaviour
    ) as sim:
        set_config(config, endpoint_url=sim.endpoint("kestrel"))
        yield sim


@pytest.fixture
def in_alpha(utility_a):
    with scope(utility=utility_a.pk):
        yield


@pytest.fixture
def fast_retries(settings):
    settings.ADAPTER_RETRY_BASE_SECONDS = 0.05
    settings.ADAPTER_RETRY_MAX_SECONDS = 1.0


def set_config(config: AdapterConfig, **fields) -> None:
    with scopes_disabled():
        AdapterConfig.objects.filter(pk=config.pk).update(**fields)
    config.refresh_from_db()


def queue_commands(vehicles, *, kind="charge", setpoint_kw=7.2, count=None) -> list[DeviceCommand]:
    starts_at = timezone.now() + timedelta(minutes=5)
    commands = []
    with scopes_disabled():
        for n, vehicle in enumerate(vehicles if count is None else vehicles * count):
            commands.append(
                DeviceCommand.objects.create(
                    utility=vehicle.utility,
                    vehicle=vehicle,
                    partner=vehicle.partner,
                    kind=kind,
                    setpoint_kw=setpoint_kw,
                    starts_at=starts_at,
                    ends_at=starts_at + timedelta(hours=1),
                    idempotency_key=f"test:{vehicle.pk}:{kind}:{n}:{time.monotonic_ns()}",
                )
            )
    return commands


def statuses(commands) -> list[str]:
    with scopes_disabled():
        by_pk = dict(
            DeviceCommand.objects.filter(pk__in=[c.pk for c in commands]).values_list(
                "pk", "status"
            )
        )
    return [by_pk[c.pk] for c in commands]


def attempts(agreement) -> list[AdapterAttempt]:
    with scopes_disabled():
        return list(AdapterAttempt.objects.filter(agreement=agreement).order_by("started_at", "pk"))


def deliver(agreement, **kwargs) -> delivery.DeliveryReport:
    with scope(utility=agreement.utility_id):
        return delivery.deliver_pending(agreement_id=agreement.pk, **kwargs)


def sim_commands(sim) -> dict:
    return sim.cloud.state()["agreements"][0]["commands"]


# --- Delivering --------------------------------------------------------------------------------


def test_it_delivers_a_signed_batch_and_records_the_attempt(agreement, config, vehicles, simulator):
    commands = queue_commands(vehicles)

    report = deliver(agreement)

    assert statuses(commands) == [Status.ACCEPTED] * 3
    assert report.run_again_in is None
    (attempt,) = attempts(agreement)
    assert (attempt.outcome, attempt.http_status, attempt.command_count) == (Outcome.OK, 200, 3)
    assert attempt.error == ""
    seen = sim_commands(simulator)
    assert {c.idempotency_key for c in commands} == set(seen)
    assert all(c["actuations"] == 1 for c in seen.values())
    config.refresh_from_db()
    assert config.circuit_state == AdapterConfig.Circuit.CLOSED
    assert config.last_success_at is not None
    with scopes_disabled():
        assert all(c.attempts == 1 and c.sent_at for c in DeviceCommand.objects.all())


def test_it_sends_the_wire_format_of_the_protocol(agreement, config, vehicles, simulator):
    (command,) = queue_commands(vehicles[:1], kind="discharge", setpoint_kw=-7.2)
    with scopes_disabled():
        command = DeviceCommand.objects.select_related("vehicle").get(pk=command.pk)
    wire = OutgoingCommand.from_model(command).to_wire()
    assert wire == {
        "command_id": command.idempotency_key,
        "vehicle_id": "k-0",
        "vin": vehicles[0].vin,
        "kind": "discharge",
        "setpoint_kw": -7.2,
        "starts_at": wire["starts_at"],
        "ends_at": wire["ends_at"],
        "event_id": "",
    }
    assert wire["starts_at"].endswith("Z") and wire["ends_at"].endswith("Z")
    deliver(agreement)
    assert statuses([command]) == [Status.ACCEPTED]


def test_it_splits_the_queue_into_batches_of_the_configured_size(
    agreement, config, vehicles, simulator
):
    set_config(config, max_batch_size=2)
    commands = queue_commands(vehicles, count=2)  # 6 commands

    deliver(agreement)

    assert [a.command_count for a in attempts(agreement)] == [2, 2, 2]
    assert statuses(commands) == [Status.ACCEPTED] * 6
    assert simulator.cloud.requests["commands"] == 3


def test_it_records_each_commands_own_verdict(agreement, config, vehicles, utility_a, kestrel):
    no_export = VehicleFactory(
        utility=utility_a, partner=kestrel, supports_v2h=False, supports_v2g=False
    )
    with running_simulator(
        utility_slugs=["alpha"], partner_names=["kestrel"], behaviour=Behaviour(reject_rate=0)
    ) as sim:
        set_config(config, endpoint_url=sim.endpoint("kestrel"))
        # Registered after the simulator started: the automaker's cloud does not know it.
        newcomer = VehicleFactory(utility=utility_a, partner=kestrel)
        commands = [
            *queue_commands(vehicles[:2], kind="discharge", setpoint_kw=-5),
            *queue_commands([newcomer]),
            *queue_commands([no_export], kind="discharge", setpoint_kw=-5),
            *queue_commands([no_export], kind="curtail", setpoint_kw=0),
        ]

        deliver(agreement)

    with scopes_disabled():
        found = {
            c.pk: (c.status, c.status_reason)
            for c in DeviceCommand.objects.filter(pk__in=[c.pk for c in commands])
        }
    assert [found[c.pk] for c in commands] == [
        (Status.ACCEPTED, ""),
        (Status.ACCEPTED, ""),
        (Status.REJECTED, "unknown_vehicle"),
        (Status.REJECTED, "discharge_not_supported"),
        (Status.ACCEPTED, ""),
    ]
    (attempt,) = attempts(agreement)
    assert (attempt.outcome, attempt.command_count) == (Outcome.OK, 5)


def test_it_passes_on_a_partners_rejection_reason(agreement, config, vehicles, simulator):
    simulator.cloud.set_faults({"reject_rate": 1.0})
    commands = queue_commands(vehicles)

    deliver(agreement)

    assert statuses(commands) == [Status.REJECTED] * 3
    with scopes_disabled():
        reasons = set(DeviceCommand.objects.values_list("status_reason", flat=True))
    assert reasons <= {"customer_override", "vehicle_asleep", "charger_offline", "low_battery"}


# --- Retrying ----------------------------------------------------------------------------------


def test_it_retries_5xx_with_growing_backoff_then_gives_up(
    agreement, config, vehicles, simulator, fast_retries
):
    simulator.cloud.set_faults({"fail_5xx_rate": 1.0})
    commands = queue_commands(vehicles)
    delays = []

    report = deliver(agreement, retry=0)
    while report.run_again_in is not None:
        assert statuses(commands) == [Status.PENDING] * 3
        delays.append(report.run_again_in)
        time.sleep(report.run_again_in)
        report = deliver(agreement, retry=len(delays))

    made = attempts(agreement)
    assert [(a.outcome, a.http_status) for a in made] == [(Outcome.HTTP_ERROR, 503)] * 3
    assert statuses(commands) == [Status.FAILED] * 3
    with scopes_disabled():
        command = DeviceCommand.objects.get(pk=commands[0].pk)
    assert command.attempts == 3
    assert command.status_reason.startswith("No answer after 3 attempts: HTTP 503")
    # base × 2^(n−1) with equal jitter: each delay within [ceiling/2, ceiling], and growing.
    assert len(delays) == 2
    assert 0.025 <= delays[0] <= 0.05 <= delays[1] <= 0.1
    gaps = [
        (b.started_at - a.started_at).total_seconds() for a, b in zip(made, made[1:], strict=False)
    ]
    assert gaps[0] >= delays[0] and gaps[1] >= delays[1]


def test_it_retries_a_timeout_and_then_delivers(agreement, config, vehicles, simulator):
    set_config(config, timeout_seconds=0.3)
    simulator.cloud.set_faults({"timeout_rate": 1.0, "hang_seconds": 1.0})
    commands = queue_commands(vehicles)

    report = deliver(agreement)

    assert report.run_again_in is not None and report.backed_off
    assert statuses(commands) == [Status.PENDING] * 3
    (attempt,) = attempts(agreement)
    assert attempt.outcome == Outcome.TIMEOUT
    assert attempt.http_status is None
    assert 300 <= attempt.duration_ms < 1000

    simulator.cloud.reset_faults()
    deliver(agreement, retry=1)
    assert statuses(commands) == [Status.ACCEPTED] * 3


def test_it_retries_a_refused_connection(agreement, config, vehicles):
    # The configured endpoint is 127.0.0.1:9, where nothing listens.
    commands = queue_commands(vehicles)

    report = deliver(agreement)

    assert report.run_again_in is not None
    assert statuses(commands) == [Status.PENDING] * 3
    assert [a.outcome for a in attempts(agreement)] == [Outcome.CONNECTION_ERROR]


def test_it_retries_a_429_no_sooner_than_the_partners_retry_after(
    agreement, config, vehicles, simulator, fast_retries
):
    simulator.cloud.set_faults({"throttle_rate": 1.0, "retry_after_seconds": 2})
    commands = queue_commands(vehicles)

    report = deliver(agreement)

    # Backoff alone would wait 0.05 s at most; the partner asked for 2 s.
    assert report.backed_off and 1.5 <= report.run_again_in <= 2.0
    assert statuses(commands) == [Status.PENDING] * 3
    (attempt,) = attempts(agreement)
    assert (attempt.outcome, attempt.http_status) == (Outcome.HTTP_ERROR, 429)

    simulator.cloud.reset_faults()
    deliver(agreement, retry=1)
    assert statuses(commands) == [Status.ACCEPTED] * 3


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        ("0", 0.0),
        ("Wed, 25 Nov 2026 12:00:30 GMT", 30.0),
        ("Wed, 25 Nov 2026 11:00:00 GMT", 0.0),  # in the past: now
        ("999999", 3600.0),  # capped at an hour
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_read_as_seconds_or_a_date(header, seconds):
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    at = retry_after(header, now=now)
    assert (None if at is None else (at - now).total_seconds()) == seconds


def test_it_never_retries_a_4xx(agreement, config, vehicles, simulator):
    # The partner holds another secret: it refuses the signature.
    set_config(config, signing_secret="not-the-partners-secret")
    commands = queue_commands(vehicles)

    report = deliver(agreement)

    assert report.run_again_in is None
    assert statuses(commands) == [Status.FAILED] * 3
    with scopes_disabled():
        reason = DeviceCommand.objects.get(pk=commands[0].pk).status_reason
    assert reason.startswith("The partner refused the batch: HTTP 401")
    assert "signature_invalid" in reason
    (attempt,) = attempts(agreement)
    assert (attempt.outcome, attempt.http_status) == (Outcome.HTTP_ERROR, 401)
    config.refresh_from_db()
    # A partner that answers is up: the circuit stays closed.
    assert (config.circuit_state, config.consecutive_failures) == ("closed", 0)
    assert simulator.cloud.requests["commands"] == 1


def test_it_keeps_commands_an_answer_left_out_retryable(agreement, config, vehicles, simulator):
    simulator.cloud.set_faults({"drop_results_rate": 1.0})
    commands = queue_commands(vehicles, count=4)  # 12

    report = deliver(agreement)

    (attempt,) = attempts(agreement)
    assert attempt.outcome == Outcome.INVALID_RESPONSE
    assert attempt.http_status == 200
    assert "had no valid result" in attempt.error
    answered = set(sim_commands(simulator))
    found = statuses(commands)
    assert Status.PENDING in found
    assert report.run_again_in is not None
    for command, status in zip(commands, found, strict=True):
        # The simulator decided every command; the ones the answer left out wait for a retry.
        assert command.idempotency_key in answered
        assert status in (Status.ACCEPTED, Status.PENDING)

    simulator.cloud.reset_faults()
    deliver(agreement, retry=1)
    assert statuses(commands) == [Status.ACCEPTED] * 12
    assert all(c["actuations"] == 1 for c in sim_commands(simulator).values())


def test_it_survives_an_answer_that_is_not_json(agreement, config, vehicles, simulator):
    simulator.cloud.set_faults({"invalid_response_rate": 1.0})
    commands = queue_commands(vehicles)

    report = deliver(agreement)

    assert report.run_again_in is not None
    assert statuses(commands) == [Status.PENDING] * 3
    (attempt,) = attempts(agreement)
    assert (attempt.outcome, attempt.http_status) == (Outcome.INVALID_RESPONSE, 200)
    assert attempt.error.startswith("Unusable answer")


def test_it_resends_after_a_lost_answer_without_actuating_twice(
    agreement, config, vehicles, simulator
):
    simulator.cloud.set_faults({"lose_response_rate": 1.0})
    commands = queue_commands(vehicles)

    deliver(agreement)
    assert statuses(commands) == [Status.PENDING] * 3
    simulator.cloud.reset_faults()
    deliver(agreement, retry=1)

    assert statuses(commands) == [Status.ACCEPTED] * 3
    assert [a.outcome for a in attempts(agreement)] == [Outcome.HTTP_ERROR, Outcome.OK]
    assert all(c["actuations"] == 1 for c in sim_commands(simulator).values())
    assert simulator.cloud.requests["commands"] == 2


def test_it_sends_an_in_flight_command_again_only_after_its_lease(
    agreement, config, vehicles, simulator, in_alpha
):
    commands = queue_commands(vehicles[:1])
    now = timezone.now()
    (claimed,) = queue.claim(
        partner_id=agreement.partner_id, limit=10, now=now, redeliver_after=timedelta(minutes=5)
    )
    # A worker died between claiming and recording: the command is stuck "sent"...
    assert deliver(agreement).calls == 0
    DeviceCommand.objects.filter(pk=claimed.pk).update(sent_at=now - timedelta(minutes=6))
    # ...until its lease runs out.
    assert deliver(agreement).calls == 1
    assert statuses(commands) == [Status.ACCEPTED]


def test_it_fails_commands_whose_window_ended_undelivered(agreement, config, vehicles, in_alpha):
    (command,) = queue_commands(vehicles[:1])
    DeviceCommand.objects.filter(pk=command.pk).update(ends_at=timezone.now())

    report = deliver(agreement)

    assert report.expired == 1
    assert statuses([command]) == [Status.FAILED]
    assert attempts(agreement) == []


# --- Where it may connect --------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8100/hook",
        "https://partner.example/hook",
        "https://partner.example:8443/hook",
        "http://[::1]:8100/hook",
    ],
)
def test_it_calls_only_hosts_the_allow_list_names(settings, url):
    settings.ADAPTER_ALLOWED_HOSTS = ["127.0.0.1:8100", "partner.example", "[::1]:8100"]
    assert check_endpoint(url) == url


@pytest.mark.parametrize(
    "url",
    [
        # loopback, link-local and private targets are no exception (SSRF)
        "http://127.0.0.1:6379/",
        "http://127.0.0.1:8101/hook",
        "http://localhost:8100/hook",
        "http://169.254.169.254/latest/meta-data/",
        "https://10.0.0.8/hook",
        "http://192.168.1.1/hook",
        "http://[::1]:5432/",
        "http://127.0.0.1.nip.io/hook",
        "http://partner.example.evil.test/hook",
        "ftp://127.0.0.1:8100/hook",
        "127.0.0.1:8100/hook",
        "http://127.0.0.1:99999/hook",
        "http://127.0.0.1:abc/hook",
        "",
    ],
)
def test_it_refuses_every_other_target(settings, url):
    settings.ADAPTER_ALLOWED_HOSTS = ["127.0.0.1:8100", "partner.example"]
    with pytest.raises(EndpointNotAllowed):
        check_endpoint(url)


def test_a_wildcard_port_never_opens_a_database_or_broker(settings):
    settings.ADAPTER_ALLOWED_HOSTS = ["127.0.0.1:*", "127.0.0.1:6380"]
    assert check_endpoint("http://127.0.0.1:8123/hook")
    assert check_endpoint("http://127.0.0.1:6380/")
    for port in (5432, 6379, 5672, 22, 25, 11211):
        with pytest.raises(EndpointNotAllowed, match="never calls"):
            check_endpoint(f"http://127.0.0.1:{port}/")
    settings.ADAPTER_ALLOWED_HOSTS = ["127.0.0.1:6379"]  # named exactly: the operator meant it
    assert check_endpoint("http://127.0.0.1:6379/")


def test_nothing_is_reachable_with_an_empty_allow_list(settings):
    settings.ADAPTER_ALLOWED_HOSTS = []
    with pytest.raises(EndpointNotAllowed, match="not listed"):
        check_endpoint("http://127.0.0.1:8100/hook")


@pytest.mark.parametrize("entry", ["127.0.0.1:port", ":8100", "host:"])
def test_it_refuses_a_malformed_allow_list(settings, entry):
    from django.core.exceptions import ImproperlyConfigured

    settings.ADAPTER_ALLOWED_HOSTS = [entry]
    with pytest.raises(ImproperlyConfigured):
        check_endpoint("http://127.0.0.1:8100/hook")


def test_development_names_the_demos_own_peers():
    from demo.grid_operator import DEMO_VTN_PORT
    from demo.simulator import DEMO_SIMULATOR_PORT
    from portal.settings import DEMO_ENDPOINTS

    assert f"127.0.0.1:{DEMO_SIMULATOR_PORT}" in DEMO_ENDPOINTS
    assert f"127.0.0.1:{DEMO_VTN_PORT}" in DEMO_ENDPOINTS


def test_it_keeps_commands_and_records_why_for_a_refused_endpoint(agreement, config, vehicles):
    set_config(config, endpoint_url="https://partner.example/hook")
    commands = queue_commands(vehicles)

    report = deliver(agreement)

    assert "ADAPTER_ALLOWED_HOSTS" in report.error
    assert report.run_again_in is None
    assert statuses(commands) == [Status.PENDING] * 3
    (attempt,) = attempts(agreement)
    assert attempt.outcome == Outcome.CONNECTION_ERROR
    assert "not listed in settings.ADAPTER_ALLOWED_HOSTS" in attempt.error
    config.refresh_from_db()
    assert config.consecutive_failures == 0


# --- The circuit breaker ---------------------------------------------------------------------


@pytest.fixture
def quick_circuit(settings):
    settings.ADAPTER_CIRCUIT_FAILURE_THRESHOLD = 2
    settings.ADAPTER_CIRCUIT_COOL_DOWN_SECONDS = 0.5


def circuit_moves(config) -> list[tuple[str, str]]:
    with scopes_disabled():
        return list(
            AuditEvent.objects.filter(action="adapter.circuit_changed", object_id=str(config.pk))
            .order_by("pk")
            .values_list("from_state", "to_state")
        )


def test_it_opens_the_circuit_after_n_failures_and_tries_again_after_the_cool_down(
    agreement, config, vehicles, simulator, quick_circuit
):
    set_config(config, max_attempts=10)
    simulator.cloud.set_faults({"fail_5xx_rate": 1.0})
    commands = queue_commands(vehicles)

    deliver(agreement)
    config.refresh_from_db()
    assert (config.circuit_state, config.consecutive_failures) == ("closed", 1)
    deliver(agreement, retry=1)
    config.refresh_from_db()
    assert config.circuit_state == "open"

    # Open: no call goes out; the skip is recorded and the next run waits for the cool-down.
    report = deliver(agreement, retry=2)
    assert simulator.cloud.requests["commands"] == 2
    assert 0 < report.run_again_in <= 0.5
    assert not report.backed_off
    assert attempts(agreement)[-1].outcome == Outcome.CIRCUIT_OPEN
    assert statuses(commands) == [Status.PENDING] * 3
    with scopes_disabled():
        assert {c.attempts for c in DeviceCommand.objects.all()} == {2}

    time.sleep(report.run_again_in + 0.05)
    simulator.cloud.reset_faults()
    deliver(agreement, retry=2)  # the half-open trial succeeds

    config.refresh_from_db()
    assert (config.circuit_state, config.consecutive_failures) == ("closed", 0)
    assert statuses(commands) == [Status.ACCEPTED] * 3
    assert circuit_moves(config) == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]
    assert [a.outcome for a in attempts(agreement)] == [
        Outcome.HTTP_ERROR,
        Outcome.HTTP_ERROR,
        Outcome.CIRCUIT_OPEN,
        Outcome.OK,
    ]


def test_a_failed_trial_opens_the_circuit_again(
    agreement, config, vehicles, simulator, quick_circuit
):
    set_config(config, max_attempts=10)
    simulator.cloud.set_faults({"fail_5xx_rate": 1.0})
    queue_commands(vehicles)
    deliver(agreement)
    deliver(agreement, retry=1)
    time.sleep(0.55)

    deliver(agreement, retry=2)

    config.refresh_from_db()
    assert config.circuit_state == "open"
    assert circuit_moves(config)[-2:] == [("open", "half_open"), ("half_open", "open")]


def test_only_one_caller_gets_the_half_open_trial(config, quick_circuit, in_alpha):
    from devices.adapters import circuit

    now = timezone.now()
    set_config(config, circuit_state="open", circuit_opened_at=now - timedelta(seconds=1))

    first = circuit.acquire(config, now=now)
    second = circuit.acquire(config, now=now)

    assert (first.allowed, first.trial) == (True, True)
    assert second.allowed is False
    # A trial whose worker never reported back is taken over after another cool-down.
    later = circuit.acquire(config, now=now + timedelta(seconds=0.6))
    assert later.allowed and later.trial


# --- Cancelling and asking -------------------------------------------------------------------


def test_it_cancels_at_the_partner_what_the_partner_holds(agreement, config, vehicles, simulator):
    held = queue_commands(vehicles[:2])
    deliver(agreement)
    waiting = queue_commands(vehicles[2:])

    with scope(utility=agreement.utility_id):
        report = delivery.cancel_commands(
            agreement_id=agreement.pk, command_pks=[c.pk for c in held + waiting]
        )

    assert report.cancelled == 3
    assert statuses(held + waiting) == [Status.CANCELLED] * 3
    assert simulator.cloud.requests["cancel"] == 1  # only what the partner held
    states = {cid: c["state"] for cid, c in sim_commands(simulator).items()}
    assert states == {c.idempotency_key: "cancelled" for c in held}


def test_it_asks_the_partner_for_a_commands_status(agreement, config, vehicles, simulator):
    (command,) = queue_commands(vehicles[:1])
    deliver(agreement)
    with scope(utility=agreement.utility_id):
        command = DeviceCommand.objects.select_related("vehicle").get(pk=command.pk)
        config = AdapterConfig.objects.select_related("utility").get(pk=config.pk)
        report = adapter_for(config).pull_status(OutgoingCommand.from_model(command))

    assert (report.command_id, report.status) == (command.idempotency_key, "accepted")


# --- Through Celery --------------------------------------------------------------------------


def test_the_task_retries_on_its_own_until_the_attempts_run_out(
    agreement, config, vehicles, simulator, settings, eager_tasks
):
    settings.ADAPTER_RETRY_BASE_SECONDS = 0
    simulator.cloud.set_faults({"fail_5xx_rate": 1.0})
    commands = queue_commands(vehicles)

    send_pending_commands.delay(utility_id=agreement.utility_id, agreement_id=agreement.pk)

    assert statuses(commands) == [Status.FAILED] * 3
    assert len(attempts(agreement)) == 3


def test_queueing_commands_starts_a_delivery_on_commit(
    agreement, config, vehicles, simulator, eager_tasks, django_capture_on_commit_callbacks
):
    with scope(utility=agreement.utility_id):
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            commands = queue_commands(vehicles)
            enqueue_delivery(utility_id=agreement.utility_id, partner_ids=[agreement.partner_id])
    assert len(callbacks) == 1
    assert statuses(commands) == [Status.ACCEPTED] * 3


def test_the_sweep_starts_deliveries_that_were_never_started(
    agreement, config, vehicles, simulator, eager_tasks
):
    commands = queue_commands(vehicles)

    assert sweep_pending_commands.delay().get() == 1

    assert statuses(commands) == [Status.ACCEPTED] * 3
    assert sweep_pending_commands.delay().get() == 0


# --- Signing, from the receiver's side ----------------------------------------------------------


def signed_post(url: str, secret: str, body: bytes, **header_overrides) -> requests.Response:
    headers = {"Content-Type": "application/json", **signed_headers(secret=secret, body=body)}
    headers.update(header_overrides)
    return requests.post(url, data=body, headers=headers, timeout=5)


def test_the_partner_refuses_a_replayed_request(config, simulator):
    body = b'{"batch_id": "b", "utility": "alpha", "commands": []}'
    headers = {
        "Content-Type": "application/json",
        **signed_headers(secret=config.signing_secret, body=body),
    }
    url = simulator.endpoint("kestrel") + "/commands"

    first = requests.post(url, data=body, headers=headers, timeout=5)
    replay = requests.post(url, data=body, headers=headers, timeout=5)

    assert first.status_code == 200
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "replayed"


def test_the_partner_refuses_a_stale_or_tampered_request(config, simulator):
    url = simulator.endpoint("kestrel") + "/commands"
    body = b'{"batch_id": "b", "utility": "alpha", "commands": []}'
    stale = signed_headers(secret=config.signing_secret, body=body, now=time.time() - 301)

    assert signed_post(url, config.signing_secret, body, **stale).json()["error"]["code"] == (
        "timestamp_outside_window"
    )
    headers = signed_headers(secret=config.signing_secret, body=body)
    changed = requests.post(url, data=body + b" ", headers=headers, timeout=5)
    assert changed.status_code == 401
    assert changed.json()["error"]["code"] == "signature_invalid"


# --- More of the queue ---------------------------------------------------------------------


def test_it_records_each_batch_in_the_audit_trail(agreement, config, vehicles, simulator):
    commands = queue_commands(vehicles)
    simulator.cloud.set_faults({"reject_rate": 1.0})
    rejected = queue_commands(vehicles[:1])[0]
    simulator.cloud.reset_faults()

    deliver(agreement)

    with scopes_disabled():
        (event,) = AuditEvent.objects.filter(action="command.sent")
    assert event.object_id == str(config.pk)
    assert event.changes["transitions"] == {
        c.idempotency_key: ["sent", "accepted"] for c in [*commands, rejected]
    }
    assert event.comment.startswith("4 command(s) sent to the partner's webhook: 4 accepted")


def test_a_call_during_another_workers_trial_leaves_the_next_step_to_it(
    agreement, config, vehicles, quick_circuit
):
    set_config(config, circuit_state="half_open", circuit_opened_at=timezone.now())
    commands = queue_commands(vehicles)

    report = deliver(agreement)

    assert report.run_again_in is None
    assert statuses(commands) == [Status.PENDING] * 3
    (attempt,) = attempts(agreement)
    assert attempt.outcome == Outcome.CIRCUIT_OPEN
    assert "another call is trying" in attempt.error


def test_the_sweep_leaves_a_circuit_that_is_cooling_down_alone(
    agreement, config, vehicles, eager_tasks, quick_circuit
):
    set_config(config, circuit_state="open", circuit_opened_at=timezone.now())
    queue_commands(vehicles)

    assert sweep_pending_commands.delay().get() == 0

    set_config(config, circuit_opened_at=timezone.now() - timedelta(seconds=1))
    assert sweep_pending_commands.delay().get() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_never_share_a_command(agreement, vehicles):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    queue_commands(vehicles, count=10)  # 30 commands

    def claim_all() -> list[int]:
        got = []
        try:
            with scope(utility=agreement.utility_id):
                while batch := queue.claim(
                    partner_id=agreement.partner_id,
                    limit=4,
                    now=timezone.now(),
                    redeliver_after=timedelta(minutes=5),
                ):
                    got += [c.pk for c in batch]
        finally:
            connection.close()
        return got

    with ThreadPoolExecutor(max_workers=4) as pool:
        claimed = [pk for got in pool.map(lambda _: claim_all(), range(4)) for pk in got]

    with scopes_disabled():
        everything = set(DeviceCommand.objects.values_list("pk", flat=True))
        assert set(DeviceCommand.objects.values_list("status", flat=True)) == {Status.SENT}
    assert len(claimed) == len(set(claimed)) == len(everything) == 30


def test_cancelling_an_unanswered_command_waits_for_the_answer(
    agreement, config, vehicles, in_alpha
):
    (command,) = queue_commands(vehicles[:1])
    queue.claim(
        partner_id=agreement.partner_id,
        limit=1,
        now=timezone.now(),
        redeliver_after=timedelta(minutes=5),
    )

    report = delivery.cancel_commands(agreement_id=agreement.pk, command_pks=[command.pk])

    assert (report.cancelled, report.retry_pks) == (0, [command.pk])
    assert statuses([command]) == [Status.SENT]


def test_the_cancel_task_asks_again_until_the_partner_answers(
    agreement, config, vehicles, simulator, settings, eager_tasks
):
    settings.ADAPTER_RETRY_BASE_SECONDS = 0
    commands = queue_commands(vehicles[:2])
    deliver(agreement)
    simulator.cloud.set_faults({"fail_5xx_rate": 1.0})

    from devices.tasks import cancel_commands

    cancel_commands.delay(
        utility_id=agreement.utility_id,
        agreement_id=agreement.pk,
        command_ids=[c.pk for c in commands],
    )

    assert statuses(commands) == [Status.ACCEPTED] * 2  # never got an answer
    assert simulator.cloud.requests["cancel"] == config.max_attempts
    simulator.cloud.reset_faults()
    cancel_commands.delay(
        utility_id=agreement.utility_id,
        agreement_id=agreement.pk,
        command_ids=[c.pk for c in commands],
    )
    assert statuses(commands) == [Status.CANCELLED] * 2


def test_a_pull_partners_commands_wait_and_cannot_be_called_back(
    agreement, config, vehicles, in_alpha
):
    set_config(config, kind=AdapterConfig.Kind.PULL)
    commands = queue_commands(vehicles[:2])
    assert deliver(agreement).calls == 0
    assert statuses(commands) == [Status.PENDING] * 2
    # The partner pulls one and accepts it.
    DeviceCommand.objects.filter(pk=commands[0].pk).update(status=Status.ACCEPTED)

    report = delivery.cancel_commands(
        agreement_id=agreement.pk, command_pks=[c.pk for c in commands]
    )

    assert report.cancelled == 1
    assert report.not_cancellable == [commands[0].idempotency_key]
    assert statuses(commands) == [Status.ACCEPTED, Status.CANCELLED]
    assert attempts(agreement) == []
