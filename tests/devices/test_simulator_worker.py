"""End to end, every part a real process: the portal's web server (``live_server``), a Celery
worker on the configured broker, and ``manage.py run_fleet_simulator``. Commands issued in
the portal reach the simulator over HTTP through the worker — after a retry, because the
simulator fails the first call — and its acknowledgements and telemetry come back through
the partner API."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from demo.management.commands.run_portal import prepare_runtime_dirs
from devices.models import AdapterAttempt, AdapterConfig, DeviceCommand, TelemetryReading
from devices.services.commands import CommandSpec, issue_commands
from devices.tasks import enqueue_delivery
from portal.partners import create_partner_client
from tests.devices.factories import VehicleFactory
from tests.net import free_port
from tests.portal.factories import AutomakerPartnerFactory, PartnerAgreementFactory
from tests.worker import ROOT, celery_worker, wait_for, worker_database_url

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

Status = DeviceCommand.Status


def start_simulator(args: list[str], log_path: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "PORTAL_VAR_DIR": str(settings.VAR_DIR),
        "PYTHONUNBUFFERED": "1",
    }
    log = log_path.open("w")
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_fleet_simulator", "-v", "2", *args],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_commands_travel_from_the_portal_through_a_worker_to_the_simulator_and_back(
    live_server, utility_a, tmp_path
):
    kestrel = AutomakerPartnerFactory(name="Kestrel Automotive", slug="kestrel")
    agreement = PartnerAgreementFactory(utility=utility_a, partner=kestrel)
    vehicles = [
        VehicleFactory(utility=utility_a, partner=kestrel, partner_vehicle_id=f"k-{n}")
        for n in range(3)
    ]
    port = free_port()
    with scopes_disabled():
        AdapterConfig.objects.create(
            utility=utility_a,
            agreement=agreement,
            kind=AdapterConfig.Kind.WEBHOOK,
            endpoint_url=f"http://127.0.0.1:{port}/kestrel",
            timeout_seconds=2,
        )
    issued = create_partner_client(partner_name="Kestrel Automotive", utility_slugs=["alpha"])
    log_path = tmp_path / "simulator.log"
    simulator = start_simulator(
        [
            *("--port", str(port), "--utility", "alpha", "--partner", "kestrel"),
            *("--portal-url", live_server.url),
            *("--client-id", issued.client_id, "--client-secret", issued.client_secret),
            *("--reject-rate", "0", "--opt-out-rate", "0", "--telemetry-interval", "1"),
            "--always-plugged-in",
        ],
        log_path,
    )
    admin = f"http://127.0.0.1:{port}/_admin"
    try:

        def listening():
            if simulator.poll() is not None:
                raise AssertionError(f"The simulator exited:\n{log_path.read_text()}")
            try:
                return requests.get(f"{admin}/health", timeout=1).ok
            except requests.ConnectionError:
                return False

        wait_for(listening, timeout=60, message="the simulator never started listening")
        # Failing until the first call was made: the worker must come back after its backoff.
        requests.post(f"{admin}/faults", json={"fail_5xx_rate": 1.0}, timeout=5)

        prepare_runtime_dirs()  # the filesystem broker's folders, on a fresh PORTAL_VAR_DIR
        with celery_worker() as worker:
            starts_at = timezone.now()
            with scope(utility=utility_a.pk):
                commands = issue_commands(
                    source_type="test.event",
                    source_id="evt-e2e",
                    revision=0,
                    specs=[
                        CommandSpec(
                            vehicle_id=v.pk,
                            kind="discharge",
                            setpoint_kw=-7.2,
                            starts_at=starts_at,
                            ends_at=starts_at + timedelta(seconds=8),
                        )
                        for v in vehicles
                    ],
                ).commands
                enqueue_delivery(utility_id=utility_a.pk, partner_ids=[kestrel.pk])

            def attempted():
                with scopes_disabled():
                    return AdapterAttempt.objects.filter(agreement=agreement).exists()

            wait_for(attempted, timeout=60, message=worker.log_path.read_text()[-3000:])
            requests.delete(f"{admin}/faults", timeout=5)

            def statuses():
                with scopes_disabled():
                    return sorted(
                        DeviceCommand.objects.filter(pk__in=[c.pk for c in commands]).values_list(
                            "status", flat=True
                        )
                    )

            wait_for(
                lambda: statuses() == [Status.COMPLETED] * 3,
                timeout=90,
                message=f"commands never completed: {statuses()}\n"
                f"{worker.log_path.read_text()[-3000:]}\n{log_path.read_text()[-3000:]}",
            )

        def telemetry():
            with scopes_disabled():
                return TelemetryReading.objects.filter(vehicle__in=vehicles).count() >= 6

        wait_for(telemetry, timeout=90, message=f"no telemetry:\n{log_path.read_text()[-3000:]}")
        state = requests.get(f"{admin}/state", timeout=5).json()
    finally:
        stop(simulator)

    with scopes_disabled():
        outcomes = list(
            AdapterAttempt.objects.filter(agreement=agreement)
            .order_by("started_at")
            .values_list("outcome", "http_status", "command_count")
        )
        discharging = TelemetryReading.objects.filter(vehicle__in=vehicles, power_kw__lt=0)
        assert discharging.exists()
    assert outcomes == [
        (AdapterAttempt.Outcome.HTTP_ERROR, 503, 3),
        (AdapterAttempt.Outcome.OK, 200, 3),
    ]
    seen = state["agreements"][0]["commands"]
    assert {c.idempotency_key for c in commands} == set(seen)
    assert all(c["actuations"] == 1 and c["state"] == "completed" for c in seen.values())
