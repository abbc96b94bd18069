"""Factories for device rows: vehicles, chargers, approved equipment, battery policies,
adapter configs and attempts, and vehicle states. Rows are created with scopes disabled."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from devices.models import (
    AdapterAttempt,
    AdapterConfig,
    ApprovedEquipment,
    BatteryPolicy,
    VehicleState,
)
from tests.portal.factories import (
    AutomakerPartnerFactory,
    PartnerAgreementFactory,
    ScopelessFactory,
    UtilityFactory,
)


class ChargerFactory(ScopelessFactory):
    class Meta:
        model = "devices.Charger"

    utility = factory.SubFactory(UtilityFactory)
    maker = "Wallbox"
    model = "Quasar 2"
    serial = factory.Sequence(lambda n: f"WBX{200000 + n}")
    current_type = "dc"
    max_charge_kw = 11.5
    max_discharge_kw = 11.5
    backup_capable = True
    cert_ul9741 = True
    cert_ul1741_sb = True


def _vin(n: int) -> str:
    from devices.vin import with_check_digit

    return with_check_digit(f"1FTVW1EL0NW{n:06d}")


class VehicleFactory(ScopelessFactory):
    class Meta:
        model = "devices.Vehicle"

    utility = factory.SubFactory(UtilityFactory)
    vin = factory.Sequence(_vin)
    partner = factory.SubFactory(AutomakerPartnerFactory)
    partner_vehicle_id = factory.Sequence(lambda n: f"veh-{n}")
    model = "F-150 Lightning"
    model_year = 2024
    usable_battery_kwh = 131
    supports_v1g = True
    supports_v2h = True
    supports_v2g = True
    max_charge_kw = 19.2
    max_discharge_kw = 9.6


class ApprovedEquipmentFactory(ScopelessFactory):
    class Meta:
        model = ApprovedEquipment

    utility = factory.SubFactory(UtilityFactory)
    partner = factory.SubFactory(AutomakerPartnerFactory)
    vehicle_model = "F-150 Lightning"
    charger_maker = "Ford"
    charger_model = factory.Sequence(lambda n: f"Charge Station Pro {n}")
    allows_v1g = True
    allows_v2h = True


class BatteryPolicyFactory(ScopelessFactory):
    class Meta:
        model = BatteryPolicy

    utility = factory.SubFactory(UtilityFactory)
    partner = factory.SubFactory(AutomakerPartnerFactory)
    vehicle_model = ""
    discharge_soc_floor_pct = 20
    max_discharge_kw = 9.6
    events_per_month_peak = 3
    events_per_month_off_peak = 1
    peak_months = factory.LazyFunction(lambda: [6, 7, 8, 9])
    max_hours_per_event = 4
    annual_discharge_kwh = 4000


class AdapterConfigFactory(ScopelessFactory):
    class Meta:
        model = AdapterConfig

    agreement = factory.SubFactory(PartnerAgreementFactory)
    utility = factory.SelfAttribute("agreement.utility")
    kind = AdapterConfig.Kind.WEBHOOK
    endpoint_url = "https://oem.example.test/v2x/commands"


class AdapterAttemptFactory(ScopelessFactory):
    class Meta:
        model = AdapterAttempt

    agreement = factory.SubFactory(PartnerAgreementFactory)
    utility = factory.SelfAttribute("agreement.utility")
    started_at = factory.LazyFunction(timezone.now)
    outcome = AdapterAttempt.Outcome.OK
    http_status = 200
    duration_ms = 120
    command_count = 10


class VehicleStateFactory(ScopelessFactory):
    class Meta:
        model = VehicleState

    vehicle = factory.SubFactory(VehicleFactory)
    utility = factory.SelfAttribute("vehicle.utility")
    ts = factory.LazyFunction(lambda: timezone.now() - timedelta(minutes=5))
    soc_pct = 64
    power_kw = 7.2
    plugged_in = True
    charging_state = "charging"
    updated_at = factory.LazyFunction(timezone.now)
