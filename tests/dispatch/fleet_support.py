"""A dispatchable fleet built in bulk, for the dispatch fault tests and the delivery benchmark.

``build_fleet`` makes, per vehicle, a service account, a bidirectional charger with an approved
export, the vehicle itself, an active enrollment in the program and a fresh latest state
(plugged in, well above any floor) — what ``dispatch.execution`` needs to dispatch it — with
``bulk_create`` in batches, no factories, so 100,000 vehicles take seconds rather than
minutes. ``notified_event`` makes a V2H event that is notified now (it starts soon) without
the guardrails, as the other dispatch tests do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django_scopes import scopes_disabled

from devices.models import AdapterConfig, Charger, Vehicle, VehicleState
from devices.vin import with_check_digit
from dispatch.models import Event
from enrollment.models import Enrollment, Program
from portal.customers.models import ServiceAccount
from portal.models import AutomakerPartner, PartnerAgreement, Utility

BATCH = 5_000
DISCHARGE_KW = 9.6


@dataclass(frozen=True)
class Fleet:
    utility: Utility
    partner: AutomakerPartner
    agreement: PartnerAgreement
    program: Program
    vehicle_ids: list[int]


def fleet_vin(code: str, n: int) -> str:
    """A valid VIN per (fleet code, number): ``code`` is 3 characters of [A-HJ-NPR-Z0-9]."""
    return with_check_digit(f"7{code}FLEET0{n:07d}")


def _in_batches(model, rows) -> None:
    for start in range(0, len(rows), BATCH):
        model.objects.bulk_create(rows[start : start + BATCH])


def build_fleet(
    *,
    utility: Utility,
    partner: AutomakerPartner,
    program: Program,
    size: int,
    code: str,
    start: int = 0,
    soc_pct: float = 80.0,
) -> list[int]:
    """``size`` dispatchable vehicles of ``partner`` enrolled in ``program`` (ids in order).
    Their partner ids are ``<code>-<n>`` (n from ``start``), which the simulator answers
    to."""
    now = timezone.now()
    with scopes_disabled():
        accounts = [
            ServiceAccount(
                utility=utility,
                account_number=f"{code}{n:09d}",
                customer_name=f"Fleet customer {n}",
                premise_address=f"{n} Fleet Street",
                city="San Francisco",
                state="CA",
                zip_code="94110",
                rate_class=ServiceAccount.RateClass.RESIDENTIAL_EV,
            )
            for n in range(start, start + size)
        ]
        _in_batches(ServiceAccount, accounts)
        chargers = [
            Charger(
                utility=utility,
                service_account=account,
                maker="Wallbox",
                model="Quasar 2",
                serial=f"{code}-{n}",
                current_type="dc",
                max_charge_kw=11.5,
                max_discharge_kw=11.5,
                approved_export_kw=DISCHARGE_KW,
                backup_capable=True,
                cert_ul9741=True,
                cert_ul1741_sb=True,
            )
            for n, account in enumerate(accounts, start)
        ]
        _in_batches(Charger, chargers)
        vehicles = [
            Vehicle(
                utility=utility,
                partner=partner,
                vin=fleet_vin(code, n),
                partner_vehicle_id=f"{code.lower()}-{n}",
                model="F-150 Lightning",
                model_year=2025,
                usable_battery_kwh=131,
                supports_v2h=True,
                supports_v2g=True,
                max_charge_kw=19.2,
                max_discharge_kw=DISCHARGE_KW,
                service_account=account,
                charger=charger,
            )
            for n, (account, charger) in enumerate(zip(accounts, chargers, strict=True), start)
        ]
        _in_batches(Vehicle, vehicles)
        _in_batches(
            Enrollment,
            [
                Enrollment(
                    utility=utility,
                    program=program,
                    service_account=vehicle.service_account,
                    vehicle=vehicle,
                    partner=partner,
                    channel=Enrollment.Channel.AUTOMAKER_APP,
                    status=Enrollment.Status.ACTIVE,
                    activated_at=now,
                )
                for vehicle in vehicles
            ],
        )
        _in_batches(
            VehicleState,
            [
                VehicleState(
                    utility=utility,
                    vehicle=vehicle,
                    ts=now,
                    soc_pct=soc_pct,
                    power_kw=0.0,
                    plugged_in=True,
                    charging_state="idle",
                    updated_at=now,
                )
                for vehicle in vehicles
            ],
        )
    return [v.pk for v in vehicles]


def refresh_states(*, utility: Utility, soc_pct: float = 80.0) -> int:
    """Every vehicle of the utility reported just now (so none counts as offline)."""
    now = timezone.now()
    with scopes_disabled():
        return VehicleState.objects.filter(utility=utility).update(
            ts=now, updated_at=now, soc_pct=soc_pct, power_kw=0.0, plugged_in=True
        )


def webhook_agreement(
    *, utility: Utility, partner: AutomakerPartner, **config_fields
) -> PartnerAgreement:
    """An active agreement whose commands are pushed to a webhook (the endpoint is set once
    the simulator listens)."""
    with scopes_disabled():
        agreement, _ = PartnerAgreement.objects.get_or_create(utility=utility, partner=partner)
        AdapterConfig.objects.update_or_create(
            agreement=agreement,
            defaults={
                "utility": utility,
                "kind": AdapterConfig.Kind.WEBHOOK,
                "endpoint_url": "http://127.0.0.1:9/unset",
                **config_fields,
            },
        )
    return agreement


def point_at(agreement: PartnerAgreement, endpoint_url: str) -> None:
    with scopes_disabled():
        AdapterConfig.objects.filter(agreement=agreement).update(endpoint_url=endpoint_url)


def open_v2h_program(utility: Utility, *, slug: str) -> Program:
    """A V2H program with no window, limits or notice (like ``events_support.open_program``)."""
    with scopes_disabled():
        program, _ = Program.objects.get_or_create(
            utility=utility,
            slug=slug,
            defaults={
                "name": f"{utility.name} {slug}",
                "kind": Program.Kind.V2H,
                "status": Program.Status.OPEN,
                "min_notice_minutes": 0,
            },
        )
    return program


def notified_event(
    program: Program,
    *,
    starts_in: timedelta = timedelta(minutes=30),
    duration_minutes: int = 60,
    now: datetime | None = None,
) -> Event:
    """A V2H event for all available vehicles, notified now: it starts in ``starts_in`` with
    an hour's notice, no randomized start."""
    starts_at = (now or timezone.now()) + starts_in
    event = Event(
        utility=program.utility,
        program=program,
        event_type=Event.Type.V2H_HOME_SUPPLY,
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        notification_lead_minutes=60,
        randomize_start_minutes=0,
        scheduled_at=starts_at - timedelta(days=1),
    )
    event.refresh_times()
    with scopes_disabled():
        event.save()
    return event
