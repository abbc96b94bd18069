"""A partner agreement's page: the adapter's configuration and health (circuit, failures,
error rate over 24 hours, the last 50 calls) and the partner's commands by status."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from devices.models import AdapterAttempt, AdapterConfig, DeviceCommand
from portal.models import PartnerAgreement
from portal.roles import Role
from tests.devices.factories import AdapterAttemptFactory, AdapterConfigFactory, VehicleFactory
from tests.devices.isolation_cases import partner_in, signed_in

pytestmark = pytest.mark.django_db


def agreement_in(utility):
    partner = partner_in(utility)
    with scopes_disabled():
        return PartnerAgreement.objects.get(utility=utility, partner=partner)


def page(agreement):
    return reverse("utility:partner_detail", args=[agreement.utility.slug, agreement.pk])


def test_it_shows_the_adapter_health(client, utility_a):
    agreement = agreement_in(utility_a)
    now = timezone.now()
    AdapterConfigFactory(
        agreement=agreement,
        circuit_state=AdapterConfig.Circuit.OPEN,
        consecutive_failures=5,
        circuit_opened_at=now - timedelta(minutes=3),
        last_success_at=now - timedelta(hours=2),
        last_failure_at=now - timedelta(minutes=3),
        power_unit=AdapterConfig.PowerUnit.W,
    )
    Outcome = AdapterAttempt.Outcome
    for outcome in (Outcome.OK, Outcome.OK, Outcome.OK, Outcome.TIMEOUT):
        AdapterAttemptFactory(agreement=agreement, outcome=outcome)
    AdapterAttemptFactory(agreement=agreement, outcome=Outcome.CIRCUIT_OPEN)
    # Older than 24 hours: listed among recent calls, not in the error rate.
    AdapterAttemptFactory(
        agreement=agreement,
        outcome=Outcome.HTTP_ERROR,
        http_status=503,
        started_at=now - timedelta(hours=30),
        error="Service Unavailable",
    )
    signed_in(client, Role.DR_OPERATOR, utility_a)

    response = client.get(page(agreement))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Open (failing, not calling)" in body
    assert "Consecutive failures</dt><dd>5</dd>" in body
    assert "Power in W" in body
    assert "https://oem.example.test/v2x/commands" in body
    assert "25.0 % (1 of 4 calls failed); 1 skipped while the circuit was open" in body
    assert "Service Unavailable" in body
    assert agreement.adapter_config.signing_secret not in body
    health = response.context["health"]
    assert (health.calls_24h, health.failed_24h, health.skipped_24h) == (4, 1, 1)


def test_it_lists_only_the_last_50_calls(client, utility_a):
    agreement = agreement_in(utility_a)
    now = timezone.now()
    for i in range(55):
        AdapterAttemptFactory(agreement=agreement, started_at=now - timedelta(minutes=i))
    signed_in(client, Role.AUDITOR, utility_a)

    attempts = client.get(page(agreement)).context["health"].recent_attempts

    assert len(attempts) == 50
    assert attempts[0].started_at == now


def test_it_counts_the_partners_commands_by_status(client, utility_a, utility_b):
    agreement = agreement_in(utility_a)
    ours = VehicleFactory(utility=utility_a, partner=agreement.partner)
    other_partner_vehicle = VehicleFactory(utility=utility_a)
    theirs = VehicleFactory(utility=utility_b, partner=agreement.partner)
    now = timezone.now()
    rows = [
        (ours, DeviceCommand.Status.COMPLETED),
        (ours, DeviceCommand.Status.COMPLETED),
        (ours, DeviceCommand.Status.REJECTED),
        (other_partner_vehicle, DeviceCommand.Status.COMPLETED),
        (theirs, DeviceCommand.Status.COMPLETED),
    ]
    with scopes_disabled():
        for i, (vehicle, status) in enumerate(rows):
            DeviceCommand.objects.create(
                utility_id=vehicle.utility_id,
                vehicle=vehicle,
                partner=vehicle.partner,
                kind=DeviceCommand.Kind.CHARGE,
                starts_at=now,
                ends_at=now + timedelta(hours=1),
                idempotency_key=f"test:{i}",
                status=status,
            )
    signed_in(client, Role.DR_OPERATOR, utility_a)

    counts = dict(client.get(page(agreement)).context["health"].commands_by_status)

    assert counts["Completed"] == 2
    assert counts["Rejected"] == 1
    assert counts["Pending"] == 0


def test_it_says_when_no_adapter_is_configured(client, utility_a):
    agreement = agreement_in(utility_a)
    signed_in(client, Role.DR_OPERATOR, utility_a)

    body = client.get(page(agreement)).content.decode()

    assert "No adapter is configured for this partner yet" in body
    assert "No calls to this partner have been recorded." in body


def test_it_refuses_a_role_without_view_partners(client, utility_a):
    agreement = agreement_in(utility_a)
    signed_in(client, Role.CUSTOMER_SERVICE, utility_a)
    assert client.get(page(agreement)).status_code == 403
