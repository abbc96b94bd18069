"""The effective limits are never looser than any single source (property-based)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, time
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.limits import (
    LimitSource,
    combine,
    customer_source,
    limits_for_vehicle,
    select_policy,
    sources_for,
)

maybe_kw = st.one_of(st.none(), st.floats(min_value=-50, max_value=400, allow_nan=False))
maybe_pct = st.one_of(st.none(), st.floats(min_value=0, max_value=100, allow_nan=False))
maybe_count = st.one_of(st.none(), st.integers(min_value=0, max_value=60))
maybe_hours = st.one_of(st.none(), st.floats(min_value=0, max_value=24, allow_nan=False))
maybe_kwh = st.one_of(st.none(), st.floats(min_value=0, max_value=20_000, allow_nan=False))

sources_strategy = st.lists(
    st.builds(
        LimitSource,
        name=st.sampled_from(
            ["automaker", "program", "customer", "vehicle", "charger", "interconnection"]
        ),
        max_charge_kw=maybe_kw,
        max_discharge_kw=maybe_kw,
        soc_floor_pct=maybe_pct,
        events_per_month=maybe_count,
        max_hours_per_event=maybe_hours,
        annual_discharge_kwh=maybe_kwh,
    ),
    min_size=0,
    max_size=8,
)

CEILINGS = [
    "max_charge_kw",
    "max_discharge_kw",
    "events_per_month",
    "max_hours_per_event",
    "annual_discharge_kwh",
]


@given(sources_strategy)
def test_it_is_never_looser_than_any_source(sources):
    limits = combine(sources)
    for s in sources:
        for attr in CEILINGS:
            value = getattr(s, attr)
            if value is not None:
                assert getattr(limits, attr) <= max(0.0, value)
        if s.soc_floor_pct is not None:
            assert limits.soc_floor_pct >= s.soc_floor_pct


@given(sources_strategy)
def test_it_never_returns_negative_or_unknown_power(sources):
    limits = combine(sources)
    assert 0 <= limits.max_charge_kw < math.inf
    assert 0 <= limits.max_discharge_kw < math.inf
    assert 0 <= limits.soc_floor_pct <= 100


@given(sources_strategy, st.floats(0, 100), st.floats(1, 300))
def test_it_never_offers_energy_below_the_floor(sources, soc, usable):
    limits = combine(sources)
    energy = limits.discharge_energy_kwh(soc_pct=soc, usable_battery_kwh=usable)
    assert energy >= 0
    assert soc - energy / usable * 100 >= limits.soc_floor_pct - 1e-9 or energy == 0


@given(
    reserve_pct=maybe_pct,
    reserve_miles=st.one_of(st.none(), st.floats(0, 400)),
    miles_per_kwh=st.floats(0.5, 6),
    usable=st.floats(1, 300),
)
def test_it_turns_a_reserve_in_miles_into_a_floor_at_least_as_strict(
    reserve_pct, reserve_miles, miles_per_kwh, usable
):
    pref = SimpleNamespace(
        reserve_soc_pct=reserve_pct, reserve_miles=reserve_miles, miles_per_kwh=miles_per_kwh
    )
    floor = customer_source(pref, usable_battery_kwh=usable).soc_floor_pct
    if reserve_pct is not None:
        assert floor >= reserve_pct
    if reserve_miles is not None:
        assert floor >= min(100.0, reserve_miles / miles_per_kwh / usable * 100) - 1e-9


def _policy(**kw):
    base = dict(
        active=True,
        vehicle_model="",
        firmware_min="",
        firmware_max="",
        partner_id=1,
        discharge_soc_floor_pct=20,
        max_discharge_kw=9.6,
        max_charge_kw=None,
        events_per_month_peak=3,
        events_per_month_off_peak=1,
        peak_months=[6, 7, 8, 9],
        max_hours_per_event=4,
        annual_discharge_kwh=3000,
    )
    base.update(kw)
    return SimpleNamespace(**base)


def test_it_picks_the_most_specific_policy():
    general = _policy()
    model = _policy(vehicle_model="F-150 Lightning", discharge_soc_floor_pct=25)
    firmware = _policy(
        vehicle_model="F-150 Lightning",
        firmware_min="2.0",
        firmware_max="2.9",
        discharge_soc_floor_pct=30,
    )
    policies = [general, model, firmware]
    assert select_policy(policies, vehicle_model="Mustang", firmware="2.1") is general
    assert select_policy(policies, vehicle_model="F-150 Lightning", firmware="1.9.4") is model
    assert select_policy(policies, vehicle_model="F-150 Lightning", firmware="2.10") is model
    assert select_policy(policies, vehicle_model="F-150 Lightning", firmware="2.3.1") is firmware


def test_it_uses_peak_month_event_limits():
    vehicle = SimpleNamespace(
        usable_battery_kwh=131,
        supports_v2h=True,
        supports_v2g=True,
        max_charge_kw=19.2,
        max_discharge_kw=9.6,
    )
    charger = SimpleNamespace(max_charge_kw=11.5, max_discharge_kw=11.5, approved_export_kw=7.6)
    pref = SimpleNamespace(
        reserve_soc_pct=None, reserve_miles=100, miles_per_kwh=2.0, departure_time=time(7)
    )
    july = sources_for(
        vehicle,
        policy=_policy(),
        preference=pref,
        charger=charger,
        at=datetime(2026, 7, 1, tzinfo=UTC),
    )
    limits = combine(july)
    assert limits.events_per_month == 3
    assert (
        limits.max_discharge_kw == 7.6 and limits.binding["max_discharge_kw"] == "interconnection"
    )
    assert limits.max_charge_kw == 11.5
    assert limits.soc_floor_pct == pytest.approx(100 / 2.0 / 131 * 100)
    november = combine(
        sources_for(
            vehicle,
            policy=_policy(),
            preference=None,
            charger=charger,
            at=datetime(2026, 11, 1, tzinfo=UTC),
        )
    )
    assert november.events_per_month == 1
    assert november.soc_floor_pct == 20


def test_it_allows_no_discharge_without_a_known_bidirectional_charger():
    vehicle = SimpleNamespace(
        usable_battery_kwh=98,
        supports_v2h=True,
        supports_v2g=False,
        max_charge_kw=11,
        max_discharge_kw=9.6,
    )
    limits = combine(
        sources_for(
            vehicle, policy=None, preference=None, charger=None, at=datetime(2026, 7, 1, tzinfo=UTC)
        )
    )
    assert limits.max_discharge_kw == 0


@pytest.mark.django_db
def test_it_loads_the_sources_from_the_registry(utility_a):
    from django_scopes import scope

    from devices.models import BatteryPolicy, CustomerPreference
    from tests.devices.factories import ChargerFactory, VehicleFactory
    from tests.portal.factories import AutomakerPartnerFactory

    partner = AutomakerPartnerFactory()
    with scope(utility=utility_a.pk):
        charger = ChargerFactory(utility=utility_a, max_discharge_kw=11.5, approved_export_kw=None)
        vehicle = VehicleFactory(
            utility=utility_a, partner=partner, charger=charger, max_discharge_kw=9.6
        )
        BatteryPolicy.objects.create(
            utility=utility_a,
            partner=partner,
            discharge_soc_floor_pct=20,
            max_discharge_kw=8,
            events_per_month_peak=3,
            events_per_month_off_peak=1,
            peak_months=[7],
            max_hours_per_event=4,
            annual_discharge_kwh=3000,
        )
        CustomerPreference.objects.create(utility=utility_a, vehicle=vehicle, reserve_soc_pct=35)
        limits = limits_for_vehicle(vehicle, at=datetime(2026, 7, 15, tzinfo=UTC))
    assert (limits.max_discharge_kw, limits.soc_floor_pct, limits.events_per_month) == (8, 35, 3)
    assert limits.binding["soc_floor_pct"] == "customer"
