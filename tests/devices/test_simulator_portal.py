"""The simulator as the portal's partner client, against the real portal (``live_server``):
its OAuth token, the acknowledgements, telemetry and opt-outs it posts, pulling commands, and
the credentials and adapter config it is set up with."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scope, scopes_disabled
from oauth2_provider.models import AccessToken

from demo.simulator import demo_simulator_argv, ensure_demo_simulator
from devices.adapters import delivery
from devices.models import (
    AdapterConfig,
    DeviceCommand,
    OptOut,
    TelemetryReading,
    VehicleState,
)
from devices.services.commands import CommandSpec, issue_commands
from devices.simulator.credentials import credentials_path, ensure_credentials
from devices.simulator.portal_client import Credentials, PortalClient
from devices.simulator.state import Behaviour
from portal.models import AuditEvent, PartnerClient
from portal.partners import create_partner_client
from tests.devices.factories import VehicleFactory
from tests.devices.simulator_support import running_simulator
from tests.portal.factories import AutomakerPartnerFactory, PartnerAgreementFactory, UtilityFactory
from tests.worker import wait_for

Status = DeviceCommand.Status


@pytest.fixture
def kestrel(db):
    return AutomakerPartnerFactory(name="Kestrel Automotive", slug="kestrel")


@pytest.fixture
def agreement(utility_a, kestrel):
    return PartnerAgreementFactory(utility=utility_a, partner=kestrel)


@pytest.fixture
def vehicles(utility_a, kestrel, agreement):
    return [
        VehicleFactory(utility=utility_a, partner=kestrel, partner_vehicle_id=f"k-{n}")
        for n in range(2)
    ]


@pytest.fixture
def credentials(agreement) -> Credentials:
    issued = create_partner_client(partner_name="Kestrel Automotive", utility_slugs=["alpha"])
    return Credentials(issued.client_id, issued.client_secret)


def make_config(agreement, **fields) -> AdapterConfig:
    with scopes_disabled():
        return AdapterConfig.objects.create(
            utility=agreement.utility, agreement=agreement, **fields
        )


def issue(vehicles, *, minutes: float, kind="discharge", setpoint_kw=-6.0, event="evt-1"):
    starts_at = timezone.now()
    with scope(utility=vehicles[0].utility_id):
        return issue_commands(
            source_type="test.event",
            source_id=event,
            revision=0,
            specs=[
                CommandSpec(
                    vehicle_id=v.pk,
                    kind=kind,
                    setpoint_kw=setpoint_kw,
                    starts_at=starts_at,
                    ends_at=starts_at + timedelta(minutes=minutes),
                )
                for v in vehicles
            ],
        ).commands


def statuses(commands) -> list[str]:
    with scopes_disabled():
        found = dict(
            DeviceCommand.objects.filter(pk__in=[c.pk for c in commands]).values_list(
                "pk", "status"
            )
        )
    return [found[c.pk] for c in commands]


@pytest.mark.django_db(transaction=True)
def test_it_gets_a_token_and_a_new_one_when_it_is_revoked(live_server, credentials):
    client = PortalClient(base_url=live_server.url, credentials=credentials)

    assert client.call("GET", "/api/v1/me")["partner"]["slug"] == "kestrel"
    AccessToken.objects.all().delete()
    assert client.call("GET", "/api/v1/me")["partner"]["slug"] == "kestrel"

    assert client.token_requests == 2


@pytest.mark.django_db(transaction=True)
def test_it_reports_acceptance_completion_and_telemetry_to_the_portal(
    live_server, agreement, vehicles, credentials
):
    config = make_config(agreement, kind=AdapterConfig.Kind.WEBHOOK)
    behaviour = Behaviour(reject_rate=0, opt_out_rate=0)
    with running_simulator(
        utility_slugs=["alpha"],
        partner_names=["kestrel"],
        behaviour=behaviour,
        portal_url=live_server.url,
        credentials={"kestrel": credentials},
        telemetry_interval=0.5,
        step_seconds=0.2,
    ) as sim:
        with scopes_disabled():
            AdapterConfig.objects.filter(pk=config.pk).update(endpoint_url=sim.endpoint("kestrel"))
        commands = issue(vehicles, minutes=0.05)  # a 3-second window
        with scope(utility=agreement.utility_id):
            delivery.deliver_pending(agreement_id=agreement.pk)

        wait_for(
            lambda: statuses(commands) == [Status.COMPLETED] * 2,
            timeout=20,
            message=f"the simulator never completed the commands: {statuses(commands)}",
        )

        def readings():
            with scopes_disabled():
                return TelemetryReading.objects.filter(vehicle__in=vehicles).count() >= 4

        wait_for(readings, timeout=20, message="no telemetry arrived")

    with scopes_disabled():
        states = VehicleState.objects.filter(vehicle__in=vehicles)
        assert states.count() == 2
        assert all(0 <= s.soc_pct <= 100 for s in states)
        acknowledged = AuditEvent.objects.filter(action="command.acknowledged")
        assert acknowledged.filter(actor_client_id=credentials.client_id).exists()


@pytest.mark.django_db(transaction=True)
def test_it_tells_the_portal_when_the_driver_opts_out(
    live_server, agreement, vehicles, credentials
):
    config = make_config(agreement, kind=AdapterConfig.Kind.WEBHOOK)
    with running_simulator(
        utility_slugs=["alpha"],
        partner_names=["kestrel"],
        behaviour=Behaviour(reject_rate=0, opt_out_rate=1.0),
        portal_url=live_server.url,
        credentials={"kestrel": credentials},
        step_seconds=0.2,
    ) as sim:
        with scopes_disabled():
            AdapterConfig.objects.filter(pk=config.pk).update(endpoint_url=sim.endpoint("kestrel"))
        commands = issue(vehicles[:1], minutes=30, event="evt-opt")
        with scope(utility=agreement.utility_id):
            delivery.deliver_pending(agreement_id=agreement.pk)

        wait_for(
            lambda: statuses(commands) == [Status.OPTED_OUT],
            timeout=20,
            message=f"no opt-out reached the portal: {statuses(commands)}",
        )

    with scopes_disabled():
        opt_out = OptOut.objects.get()
    assert (opt_out.event_ref, opt_out.partner_reference) == (
        "evt-opt",
        f"sim-{commands[0].idempotency_key}",
    )
    assert opt_out.vehicle_id == vehicles[0].pk


@pytest.mark.django_db(transaction=True)
def test_a_pull_partner_fetches_and_acknowledges_its_commands(
    live_server, agreement, vehicles, credentials
):
    make_config(agreement, kind=AdapterConfig.Kind.PULL)
    commands = issue(vehicles, minutes=60, kind="curtail", setpoint_kw=0)
    with scope(utility=agreement.utility_id):
        # Pushing is not the portal's job here: the commands wait.
        assert delivery.deliver_pending(agreement_id=agreement.pk).calls == 0
    assert statuses(commands) == [Status.PENDING] * 2

    with running_simulator(
        utility_slugs=["alpha"],
        partner_names=["kestrel"],
        behaviour=Behaviour(reject_rate=0, opt_out_rate=0),
        portal_url=live_server.url,
        credentials={"kestrel": credentials},
        poll_seconds=0.3,
    ) as sim:
        wait_for(
            lambda: statuses(commands) == [Status.ACCEPTED] * 2,
            timeout=20,
            message=f"the pull partner never acknowledged: {statuses(commands)}",
        )
        assert sim.cloud.agreements[0].pulls


# --- Setting it up ----------------------------------------------------------------------------


@pytest.fixture
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return tmp_path


def test_it_keeps_its_credentials_and_reuses_them(var_dir, agreement, kestrel, utility_a):
    first = ensure_credentials(partner=kestrel, utilities=[utility_a])
    again = ensure_credentials(partner=kestrel, utilities=[utility_a])

    assert first == again
    path = credentials_path(kestrel)
    assert path.stat().st_mode & 0o777 == 0o600
    assert json.loads(path.read_text())["client_id"] == first.client_id
    assert PartnerClient.objects.filter(partner=kestrel).count() == 1


def test_it_gets_new_credentials_when_it_needs_another_utility(
    var_dir, agreement, kestrel, utility_a
):
    first = ensure_credentials(partner=kestrel, utilities=[utility_a])
    bravo = UtilityFactory(slug="bravo", name="Bravo Electric")

    second = ensure_credentials(partner=kestrel, utilities=[bravo])

    assert second != first
    client = PartnerClient.objects.get(application__client_id=second.client_id)
    assert set(client.utilities.values_list("slug", flat=True)) == {"alpha", "bravo"}
    assert client.application.name == "Kestrel Automotive fleet simulator"


def test_it_replaces_credentials_that_no_longer_work(var_dir, agreement, kestrel, utility_a):
    first = ensure_credentials(partner=kestrel, utilities=[utility_a])
    stored = json.loads(credentials_path(kestrel).read_text())
    credentials_path(kestrel).write_text(json.dumps({**stored, "client_secret": "forgotten"}))

    assert ensure_credentials(partner=kestrel, utilities=[utility_a]) != first


def test_the_demo_points_its_agreements_at_the_simulator_once(
    var_dir, agreement, kestrel, utility_a, utility_b
):
    PartnerAgreementFactory(utility=utility_b, partner=kestrel)
    credentials = ensure_demo_simulator(partner=kestrel, utilities=[utility_a, utility_b])
    again = ensure_demo_simulator(partner=kestrel, utilities=[utility_a, utility_b])

    assert again == credentials
    with scopes_disabled():
        configs = AdapterConfig.objects.filter(agreement__partner=kestrel)
        assert {(c.kind, c.endpoint_url) for c in configs} == {
            ("webhook", "http://127.0.0.1:8100/kestrel")
        }
        assert configs.count() == 2
        assert AuditEvent.objects.filter(action="adapter_config.created").count() == 2
    client = PartnerClient.objects.get(application__client_id=credentials.client_id)
    assert set(client.utilities.values_list("slug", flat=True)) == {"alpha", "bravo"}


def test_run_portal_starts_the_simulator_only_for_what_points_at_it(
    var_dir, agreement, kestrel, utility_a
):
    def argv():
        return demo_simulator_argv(python="py", manage_py="manage.py", portal_url="http://p")

    assert argv() is None
    ensure_demo_simulator(partner=kestrel, utilities=[utility_a])
    other = AutomakerPartnerFactory(name="Elsewhere Motors", slug="elsewhere")
    make_config(
        PartnerAgreementFactory(utility=utility_a, partner=other),
        kind=AdapterConfig.Kind.WEBHOOK,
        endpoint_url="http://127.0.0.1:9999/elsewhere",
    )

    assert argv() == [
        *("py", "manage.py", "run_fleet_simulator", "--port", "8100"),
        *("--utility", "alpha", "--partner", "kestrel", "--opt-out-rate", "0.1"),
        *("--portal-url", "http://p"),
    ]


# --- The command line ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--utility", "nowhere"], "No utility with slug(s) nowhere"),
        (["--utility", "alpha", "--partner", "nobody"], "No partner named 'nobody'"),
        (["--utility", "alpha", "--client-id", "x"], "Give both --client-id and --client-secret"),
    ],
)
def test_the_command_explains_what_it_cannot_do(agreement, arguments, message):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("run_fleet_simulator", *arguments)


def test_the_command_serves_one_agreement_per_given_secret(agreement, utility_b, kestrel):
    from django.core.management import CommandError, call_command

    PartnerAgreementFactory(utility=utility_b, partner=kestrel)
    with pytest.raises(CommandError, match="--signing-secret serves one agreement"):
        call_command(
            "run_fleet_simulator",
            "--utility",
            "alpha",
            "--utility",
            "bravo",
            "--signing-secret",
            "s",
        )
