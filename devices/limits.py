"""Effective operating limits for a vehicle at a moment: the strictest of every source.

Sources are the automaker's battery-warranty policy, the program (once programs exist), the
customer's preferences from the automaker app, and physics (vehicle, charger, the export
limit approved at interconnection). Dispatch plans only with ``EffectiveLimits``; nothing
else decides how hard a battery may be used.

``combine`` is a pure function over plain values so planning can evaluate 100,000 vehicles
without touching the ORM per vehicle; ``limits_for_vehicles`` loads the sources in bulk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

UNLIMITED = math.inf


@dataclass(frozen=True)
class LimitSource:
    """What one source says. ``None`` means "this source sets no limit here"."""

    name: str  # "automaker", "program", "customer", "vehicle", "charger", "interconnection"
    max_charge_kw: float | None = None
    max_discharge_kw: float | None = None
    soc_floor_pct: float | None = None
    events_per_month: int | None = None
    max_hours_per_event: float | None = None
    annual_discharge_kwh: float | None = None


@dataclass(frozen=True)
class EffectiveLimits:
    max_charge_kw: float
    max_discharge_kw: float
    soc_floor_pct: float
    events_per_month: float  # math.inf when no source limits it
    max_hours_per_event: float
    annual_discharge_kwh: float
    binding: dict[str, str] = field(default_factory=dict)  # limit → the source that set it

    def discharge_energy_kwh(self, *, soc_pct: float, usable_battery_kwh: float) -> float:
        """Energy that may leave the battery now: (SoC − floor) × usable capacity, never < 0."""
        return max(0.0, (soc_pct - self.soc_floor_pct) / 100.0 * usable_battery_kwh)


def _strictest(sources: list[LimitSource], attr: str, *, pick, default: float) -> tuple[float, str]:
    best, who = default, "none"
    for s in sources:
        value = getattr(s, attr)
        if value is None:
            continue
        value = max(0.0, float(value))
        if pick(value, best):
            best, who = value, s.name
    return best, who


def combine(sources: list[LimitSource]) -> EffectiveLimits:
    """The strictest value of each limit across ``sources``: the lowest ceiling, the highest
    floor. Negative ceilings count as 0; floors are clamped to [0, 100]."""
    lower = lambda v, best: v < best  # noqa: E731
    higher = lambda v, best: v > best  # noqa: E731
    charge, charge_by = _strictest(sources, "max_charge_kw", pick=lower, default=UNLIMITED)
    discharge, discharge_by = _strictest(sources, "max_discharge_kw", pick=lower, default=UNLIMITED)
    floor, floor_by = _strictest(sources, "soc_floor_pct", pick=higher, default=0.0)
    events, events_by = _strictest(sources, "events_per_month", pick=lower, default=UNLIMITED)
    hours, hours_by = _strictest(sources, "max_hours_per_event", pick=lower, default=UNLIMITED)
    annual, annual_by = _strictest(sources, "annual_discharge_kwh", pick=lower, default=UNLIMITED)
    # With no physical source at all we know nothing safe: no power either way.
    if charge == UNLIMITED:
        charge, charge_by = 0.0, "unknown"
    if discharge == UNLIMITED:
        discharge, discharge_by = 0.0, "unknown"
    return EffectiveLimits(
        max_charge_kw=charge,
        max_discharge_kw=discharge,
        soc_floor_pct=min(100.0, floor),
        events_per_month=events,
        max_hours_per_event=hours,
        annual_discharge_kwh=annual,
        binding={
            "max_charge_kw": charge_by,
            "max_discharge_kw": discharge_by,
            "soc_floor_pct": floor_by,
            "events_per_month": events_by,
            "max_hours_per_event": hours_by,
            "annual_discharge_kwh": annual_by,
        },
    )


# --- Sources from the registry -------------------------------------------------------------


def firmware_key(version: str) -> tuple:
    """Sortable key for firmware versions: numeric parts compare as numbers."""
    parts = []
    for piece in version.replace("-", ".").split("."):
        parts.append((0, int(piece)) if piece.isdigit() else (1, piece))
    return tuple(parts)


def policy_matches(policy, *, vehicle_model: str, firmware: str) -> bool:
    if policy.vehicle_model and policy.vehicle_model != vehicle_model:
        return False
    if (policy.firmware_min or policy.firmware_max) and not firmware:
        return False
    if policy.firmware_min and firmware_key(firmware) < firmware_key(policy.firmware_min):
        return False
    if policy.firmware_max and firmware_key(firmware) > firmware_key(policy.firmware_max):
        return False
    return True


def select_policy(policies, *, vehicle_model: str, firmware: str):
    """The most specific active policy: model + firmware range > model > all models."""

    def specificity(p) -> int:
        return (2 if p.vehicle_model else 0) + (1 if p.firmware_min or p.firmware_max else 0)

    matching = [
        p
        for p in policies
        if p.active and policy_matches(p, vehicle_model=vehicle_model, firmware=firmware)
    ]
    return max(matching, key=specificity, default=None)


def automaker_source(policy, *, month: int) -> LimitSource:
    if policy is None:
        return LimitSource(name="automaker")
    peak = month in (policy.peak_months or [])
    return LimitSource(
        name="automaker",
        max_charge_kw=policy.max_charge_kw,
        max_discharge_kw=policy.max_discharge_kw,
        soc_floor_pct=policy.discharge_soc_floor_pct,
        events_per_month=policy.events_per_month_peak if peak else policy.events_per_month_off_peak,
        max_hours_per_event=policy.max_hours_per_event,
        annual_discharge_kwh=policy.annual_discharge_kwh,
    )


def customer_source(preference, *, usable_battery_kwh: float) -> LimitSource:
    if preference is None:
        return LimitSource(name="customer")
    floors = []
    if preference.reserve_soc_pct is not None:
        floors.append(preference.reserve_soc_pct)
    if preference.reserve_miles is not None and usable_battery_kwh > 0:
        reserve_kwh = preference.reserve_miles / preference.miles_per_kwh
        floors.append(min(100.0, reserve_kwh / usable_battery_kwh * 100.0))
    return LimitSource(name="customer", soc_floor_pct=max(floors) if floors else None)


def physical_sources(vehicle, charger) -> list[LimitSource]:
    discharge_capable = vehicle.supports_v2h or vehicle.supports_v2g
    sources = [
        LimitSource(
            name="vehicle",
            max_charge_kw=vehicle.max_charge_kw,
            max_discharge_kw=vehicle.max_discharge_kw if discharge_capable else 0.0,
        )
    ]
    if charger is not None:
        sources.append(
            LimitSource(
                name="charger",
                max_charge_kw=charger.max_charge_kw,
                max_discharge_kw=charger.max_discharge_kw,
            )
        )
        if charger.approved_export_kw is not None:
            sources.append(
                LimitSource(name="interconnection", max_discharge_kw=charger.approved_export_kw)
            )
    elif discharge_capable:
        # Discharging needs a bidirectional charger we know about.
        sources.append(LimitSource(name="charger", max_discharge_kw=0.0))
    return sources


def sources_for(
    vehicle, *, policy, preference, charger, at: datetime, program: LimitSource | None = None
) -> list[LimitSource]:
    sources = [
        automaker_source(policy, month=at.month),
        customer_source(preference, usable_battery_kwh=vehicle.usable_battery_kwh),
        *physical_sources(vehicle, charger),
    ]
    if program is not None:
        sources.append(program)
    return sources


# What ``limits_for_vehicles`` reads of a vehicle: a Vehicle, or a row of these values.
VEHICLE_FIELDS = (
    "pk", "partner_id", "model", "firmware_version", "usable_battery_kwh", "supports_v2h",
    "supports_v2g", "max_charge_kw", "max_discharge_kw", "charger_id",
)  # fmt: skip
_CHARGER_FIELDS = ("pk", "max_charge_kw", "max_discharge_kw", "approved_export_kw")
_PREFERENCE_FIELDS = ("vehicle_id", "reserve_soc_pct", "reserve_miles", "miles_per_kwh")


def vehicle_rows(vehicles) -> list:
    """A queryset of vehicles as light rows carrying ``VEHICLE_FIELDS`` (``row.pk``…), for
    fleets too large to build model instances for."""
    return list(vehicles.values_list(*VEHICLE_FIELDS, named=True))


def limits_for_vehicles(
    vehicles, *, at: datetime, program: LimitSource | None = None
) -> dict[int, EffectiveLimits]:
    """Effective limits for many vehicles (``Vehicle`` instances or ``vehicle_rows``) with a
    fixed number of queries (call inside the utility's scope). Vehicles alike in every
    source share one ``EffectiveLimits``: a fleet of few models and preferences combines
    its limits a few times, not once per vehicle."""
    from devices.models import BatteryPolicy, Charger, CustomerPreference
    from portal.bulk import among

    vehicles = list(vehicles)
    policies = list(BatteryPolicy.objects.filter(active=True))
    by_partner: dict[int, list] = {}
    for p in policies:
        by_partner.setdefault(p.partner_id, []).append(p)
    prefs = {
        p.vehicle_id: p
        for p in among(
            CustomerPreference.objects.order_by(), "vehicle_id", [v.pk for v in vehicles]
        ).values_list(*_PREFERENCE_FIELDS, named=True)
    }
    chargers = {
        c.pk: c
        for c in among(
            Charger.objects.order_by(), "id", {v.charger_id for v in vehicles if v.charger_id}
        ).values_list(*_CHARGER_FIELDS, named=True)
    }
    policy_of: dict[tuple, object] = {}
    alike: dict[tuple, EffectiveLimits] = {}
    result = {}
    for v in vehicles:
        preference, charger = prefs.get(v.pk), chargers.get(v.charger_id)
        model_key = (v.partner_id, v.model, v.firmware_version)
        key = (
            model_key, v.usable_battery_kwh, v.supports_v2h, v.supports_v2g, v.max_charge_kw,
            v.max_discharge_kw, preference and tuple(preference[1:]),
            charger and tuple(charger[1:]),
        )  # fmt: skip
        limits = alike.get(key)
        if limits is None:
            if model_key not in policy_of:
                policy_of[model_key] = select_policy(
                    by_partner.get(v.partner_id, []),
                    vehicle_model=v.model,
                    firmware=v.firmware_version,
                )
            limits = alike[key] = combine(
                sources_for(
                    v,
                    policy=policy_of[model_key],
                    preference=preference,
                    charger=charger,
                    at=at,
                    program=program,
                )
            )
        result[v.pk] = limits
    return result


def limits_for_vehicle(
    vehicle, *, at: datetime, program: LimitSource | None = None
) -> EffectiveLimits:
    return limits_for_vehicles([vehicle], at=at, program=program)[vehicle.pk]
