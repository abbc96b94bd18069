"""Tenant-isolation cases for the devices pages (merged into the suite in
tests/portal/test_tenant_isolation.py), and the helpers for device rows they and the page
tests (tests/devices/test_pages_*.py) share; the factories are in tests/devices/factories.py.
Every ``make`` may run several times for one utility in one test, so rows that must be unique
per utility are either reused (partners, agreements) or numbered.
"""

from __future__ import annotations

from datetime import timedelta

from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.utils import timezone
from django.utils.text import slugify
from django_scopes import scopes_disabled

from devices.models import AdapterAttempt, AdapterConfig, TelemetryReading
from portal.models import AutomakerPartner, PartnerAgreement
from portal.roles import MFA_REQUIRED_ROLES
from tests.devices.factories import (
    AdapterAttemptFactory,
    AdapterConfigFactory,
    ApprovedEquipmentFactory,
    BatteryPolicyFactory,
    ChargerFactory,
    VehicleFactory,
    VehicleStateFactory,
)
from tests.isolation import Case, pk_kwargs
from tests.portal.factories import make_member


def add_readings(vehicle, *, count: int, every: timedelta, end=None, soc=50.0, power=5.0):
    """``count`` readings ``every`` apart up to ``end`` (now), straight into the table."""
    end = end or timezone.now()
    rows = [
        TelemetryReading(
            utility_id=vehicle.utility_id,
            vehicle=vehicle,
            ts=end - every * i,
            soc_pct=soc,
            power_kw=power,
            plugged_in=True,
            charging_state="charging",
            received_at=end,
        )
        for i in range(count)
    ]
    with scopes_disabled():
        TelemetryReading.objects.bulk_create(rows)


def signed_in(client, role: str, utility):
    """``client`` signed in as a new member holding ``role`` in ``utility`` (program admins
    get the TOTP device they must have)."""
    user = make_member(role, utility=utility)
    if role in MFA_REQUIRED_ROLES:
        TOTP.activate(user, generate_totp_secret())
    client.force_login(user)
    return user


def partner_in(utility, *, name: str | None = None) -> AutomakerPartner:
    """A partner with an agreement in ``utility`` (reused when it exists already)."""
    name = name or f"{utility.name} Devices Marker Motors"
    partner, _ = AutomakerPartner.objects.get_or_create(name=name, defaults={"slug": slugify(name)})
    with scopes_disabled():
        PartnerAgreement.objects.get_or_create(utility=utility, partner=partner)
    return partner


# --- Cases ----------------------------------------------------------------------------------


def _vehicle(utility):
    return VehicleFactory(
        utility=utility, partner=partner_in(utility), model=f"{utility.name} Marker EV"
    )


def _vehicle_with_telemetry(utility):
    vehicle = _vehicle(utility)
    VehicleStateFactory(vehicle=vehicle)
    add_readings(vehicle, count=12, every=timedelta(minutes=15))
    return vehicle


def _charger(utility):
    return ChargerFactory(utility=utility, model=f"{utility.name} Marker Charger")


def _pair(utility):
    return ApprovedEquipmentFactory(
        utility=utility, partner=partner_in(utility), vehicle_model=f"{utility.name} Marker EV"
    )


def _policy(utility):
    return BatteryPolicyFactory(
        utility=utility, partner=partner_in(utility), vehicle_model=f"{utility.name} Marker EV"
    )


def _agreement_with_adapter(utility):
    partner = partner_in(utility)
    with scopes_disabled():
        agreement = PartnerAgreement.objects.get(utility=utility, partner=partner)
        if not AdapterConfig.objects.filter(agreement=agreement).exists():
            AdapterConfigFactory(agreement=agreement)
    AdapterAttemptFactory(
        agreement=agreement,
        outcome=AdapterAttempt.Outcome.TIMEOUT,
        http_status=None,
        error=f"{utility.name} marker timeout",
    )
    return agreement


def _model(obj) -> str:
    return obj.model


def _vehicle_model(obj) -> str:
    return obj.vehicle_model


DEVICES_CASES: dict[str, Case] = {
    "utility:vehicle_list": Case(make=_vehicle, marker=_model),
    "utility:vehicle_detail": Case(make=_vehicle_with_telemetry, kwargs=pk_kwargs, marker=_model),
    "utility:charger_list": Case(make=_charger, marker=_model),
    "utility:charger_detail": Case(make=_charger, kwargs=pk_kwargs, marker=_model),
    "utility:approved_equipment_list": Case(make=_pair, marker=_vehicle_model),
    "utility:approved_equipment_create": Case(),
    "utility:approved_equipment_edit": Case(make=_pair, kwargs=pk_kwargs, marker=_vehicle_model),
    "utility:approved_equipment_delete": Case(make=_pair, kwargs=pk_kwargs, marker=_vehicle_model),
    "utility:battery_policy_list": Case(make=_policy, marker=_vehicle_model),
    "utility:battery_policy_create": Case(),
    "utility:battery_policy_edit": Case(make=_policy, kwargs=pk_kwargs, marker=_vehicle_model),
    "utility:partner_detail": Case(
        make=_agreement_with_adapter, kwargs=pk_kwargs, marker=lambda a: a.partner.name
    ),
}
