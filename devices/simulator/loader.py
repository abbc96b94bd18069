"""Building the simulator's agreements and fleets from the portal's database, once, at start.

Everything the simulator knows comes from here: the vehicles of each (utility, partner)
agreement, their limits (the automaker and driver floors via ``devices.limits``, the
vehicle's own power ratings), a daily plug-in schedule with per-vehicle jitter, the latest
SoC the portal has (or a plausible one), and the agreement's signing secret. After this the
simulator talks to the portal over HTTP only.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.db.models import Q
from django_scopes import scope

from devices.limits import limits_for_vehicles
from devices.models import AdapterConfig, CustomerPreference, Vehicle, VehicleState
from devices.simulator.fleet import Fleet, VehicleSpec
from devices.simulator.state import AgreementSim, TelemetryFormat
from portal.models import AutomakerPartner, PartnerAgreement, Utility

HOME_AT = time(18, 0)
DEPARTS_AT = time(7, 30)


class SimulatorSetupError(Exception):
    """The database does not contain what the simulator was asked to simulate."""


@dataclass(frozen=True)
class LoadedAgreement:
    sim: AgreementSim
    utility: Utility
    partner: AutomakerPartner
    config: AdapterConfig | None


def find_partners(names: Sequence[str]) -> list[AutomakerPartner]:
    """Partners by name or slug, case-insensitively."""
    found = []
    for name in names:
        partner = AutomakerPartner.objects.filter(Q(name__iexact=name) | Q(slug=name)).first()
        if partner is None:
            raise SimulatorSetupError(f"No partner named {name!r}.")
        found.append(partner)
    return found


def load_agreements(
    *,
    utility_slugs: Sequence[str],
    partner_names: Sequence[str] = (),
    seed: int = 42,
    now: datetime,
    speed: float = 1.0,
    signing_secret: str | None = None,
    always_plugged_in: bool = False,
) -> list[LoadedAgreement]:
    """One ``AgreementSim`` per active agreement of the named partners (all partners if
    none are named) in the named utilities. ``always_plugged_in``: vehicles never leave
    (no daily schedule), so every command meets a plugged-in vehicle."""
    utilities = list(Utility.objects.filter(slug__in=utility_slugs))
    missing = set(utility_slugs) - {u.slug for u in utilities}
    if missing:
        raise SimulatorSetupError(f"No utility with slug(s) {', '.join(sorted(missing))}.")
    partners = find_partners(partner_names) if partner_names else None
    loaded = []
    for utility in utilities:
        with scope(utility=utility.pk):
            agreements = PartnerAgreement.objects.filter(
                status=PartnerAgreement.Status.ACTIVE
            ).select_related("partner")
            if partners is not None:
                agreements = agreements.filter(partner__in=partners)
            for agreement in agreements:
                loaded.append(
                    _load_agreement(
                        utility,
                        agreement,
                        seed=seed,
                        now=now,
                        speed=speed,
                        secret=signing_secret,
                        always_plugged_in=always_plugged_in,
                    )
                )
    if not loaded:
        raise SimulatorSetupError("No active partner agreement matches; nothing to simulate.")
    return loaded


def _load_agreement(
    utility: Utility,
    agreement: PartnerAgreement,
    *,
    seed: int,
    now: datetime,
    speed: float,
    secret: str | None,
    always_plugged_in: bool,
) -> LoadedAgreement:
    config = AdapterConfig.objects.filter(agreement=agreement).first()
    vehicles = list(Vehicle.objects.filter(partner=agreement.partner, status=Vehicle.Status.ACTIVE))
    limits = limits_for_vehicles(vehicles, at=now)
    preferences = {p.vehicle_id: p for p in CustomerPreference.objects.filter(vehicle__in=vehicles)}
    last_soc = dict(
        VehicleState.objects.filter(vehicle__in=vehicles).values_list("vehicle_id", "soc_pct")
    )
    specs, initial_soc = [], {}
    for vehicle in vehicles:
        rng = random.Random(f"{seed}:{vehicle.vin}")
        preference = preferences.get(vehicle.pk)
        floor = limits[vehicle.pk].soc_floor_pct
        can_export = vehicle.supports_v2h or vehicle.supports_v2g
        departs_at = (
            preference.departure_time
            if preference and preference.departure_time
            else _jittered(DEPARTS_AT, rng.gauss(0, 30), limit=90)
        )
        plugs_in_at = _jittered(HOME_AT, rng.gauss(0, 40), limit=120)
        # A driver whose app says "no regular departure" keeps the car home, plugged in.
        if always_plugged_in or (preference is not None and preference.departure_time is None):
            plugs_in_at = departs_at = time(0, 0)
        spec = VehicleSpec(
            vehicle_id=vehicle.partner_vehicle_id,
            vin=vehicle.vin,
            usable_battery_kwh=vehicle.usable_battery_kwh,
            max_charge_kw=vehicle.max_charge_kw,
            max_discharge_kw=vehicle.max_discharge_kw if can_export else 0.0,
            soc_floor_pct=floor,
            plugs_in_at=plugs_in_at,
            departs_at=departs_at,
            tz=utility.tzinfo,
            trip_kwh=rng.uniform(5.0, 20.0),
            target_soc_pct=(
                preference.target_soc_pct if preference and preference.target_soc_pct else 90.0
            ),
        )
        specs.append(spec)
        initial_soc[spec.vehicle_id] = last_soc.get(vehicle.pk, rng.uniform(max(floor, 40.0), 85.0))
    sim = AgreementSim(
        utility=utility.slug,
        partner=agreement.partner.slug,
        signing_secret=secret or (config.signing_secret if config else secrets.token_hex()),
        fleet=Fleet.build(specs, now=now, initial_soc_pct=initial_soc, speed=speed),
        pulls=config is not None and config.kind == AdapterConfig.Kind.PULL,
        telemetry_format=_telemetry_format(config),
    )
    return LoadedAgreement(sim=sim, utility=utility, partner=agreement.partner, config=config)


def _telemetry_format(config: AdapterConfig | None) -> TelemetryFormat:
    if config is None:
        return TelemetryFormat()
    field_map = config.field_map if isinstance(config.field_map, dict) else {}
    return TelemetryFormat(
        power_in_watts=config.power_unit == AdapterConfig.PowerUnit.W,
        soc_as_fraction=config.soc_unit == AdapterConfig.SocUnit.FRACTION,
        names={str(portal): str(partner) for partner, portal in field_map.items()},
    )


def _jittered(at: time, minutes: float, *, limit: float) -> time:
    shift = timedelta(minutes=max(-limit, min(limit, minutes)))
    return (datetime.combine(datetime(2000, 1, 1), at) + shift).time().replace(microsecond=0)
