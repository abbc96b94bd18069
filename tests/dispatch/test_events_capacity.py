"""The capacity preview on a small fleet."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from devices.models import VehicleState
from dispatch.models import Event
from dispatch.selectors import capacity_preview
from enrollment.models import Enrollment
from tests.devices.factories import ChargerFactory
from tests.dispatch.events_support import open_program
from tests.enrollment.factories import EnrollmentFactory

pytestmark = pytest.mark.django_db


def _enrolled(program, *, soc_pct, power_kw=0.0, plugged_in=True, **enrollment):
    charger = ChargerFactory(utility=program.utility, max_discharge_kw=11.5, approved_export_kw=9.6)
    e = EnrollmentFactory(program=program, vehicle__charger=charger, **enrollment)
    now = timezone.now()
    with scopes_disabled():
        VehicleState.objects.create(
            utility=program.utility, vehicle=e.vehicle, ts=now, soc_pct=soc_pct,
            power_kw=power_kw, plugged_in=plugged_in, charging_state="idle", updated_at=now,
        )  # fmt: skip
    return e


def _preview(program, event_type, hours=2):
    with scope(utility=program.utility.pk):
        return capacity_preview(
            program=program, starts_at=timezone.now() + timedelta(hours=1),
            duration_minutes=int(hours * 60), event_type=event_type,
        )  # fmt: skip


def test_it_sums_discharge_power_limited_by_energy_above_the_floor(utility_a):
    program = open_program(utility_a, discharge_soc_floor_pct=20)
    _enrolled(program, soc_pct=80)  # 60% of 131 kWh ≫ 9.6 kW × 2 h: limited by 9.6 kW
    _enrolled(program, soc_pct=25)  # 5% of 131 kWh = 6.55 kWh over 2 h: 3.275 kW
    _enrolled(program, soc_pct=90, plugged_in=False)
    _enrolled(program, soc_pct=90, excluded_from_events=True)
    _enrolled(program, soc_pct=90, status=Enrollment.Status.SUSPENDED)
    assert _preview(program, Event.Type.V2H_HOME_SUPPLY) == {
        "vehicles": 2, "kw": 12.88, "kwh": 25.75,
    }  # fmt: skip


def test_it_counts_curtailable_charging_for_load_reduction(utility_a):
    program = open_program(utility_a, kind="v1g")
    _enrolled(program, soc_pct=50, power_kw=7.2)
    _enrolled(program, soc_pct=50, power_kw=0)  # plugged in, idle: its 11.5 kW charger limit
    _enrolled(program, soc_pct=50, power_kw=7.2, plugged_in=False)
    assert _preview(program, Event.Type.LOAD_REDUCTION, hours=1) == {
        "vehicles": 2, "kw": 18.7, "kwh": 18.7,
    }  # fmt: skip


def test_it_runs_a_fixed_number_of_queries(utility_a, django_assert_max_num_queries):
    program = open_program(utility_a)
    for _ in range(6):
        _enrolled(program, soc_pct=70)
    with django_assert_max_num_queries(6):
        _preview(program, Event.Type.V2G_EXPORT)
