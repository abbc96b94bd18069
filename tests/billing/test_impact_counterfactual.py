"""Unmanaged charging: full power from plug-in until the session's energy is delivered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from billing.impact.counterfactual import (
    Session,
    full_power_kw,
    interval_start,
    unmanaged_intervals,
)


def _session(plugged, kwh, kw=11.5):
    return Session(vehicle_id=1, plugged_in_at=plugged,
                   unplugged_at=plugged + timedelta(hours=12), energy_kwh=kwh, full_power_kw=kw)  # fmt: skip


def test_it_charges_at_full_power_from_plug_in_until_the_energy_is_delivered():
    out = unmanaged_intervals(_session(datetime(2026, 7, 1, 1, 0, tzinfo=UTC), 28.0))
    assert [start.minute for start, _ in out[:4]] == [0, 15, 30, 45]
    assert all(kwh == pytest.approx(11.5 / 4) for _, kwh in out[:-1])
    assert sum(kwh for _, kwh in out) == pytest.approx(28.0)
    assert len(out) == 10  # 28 kWh / 2.875 kWh per quarter hour = 9.74 intervals


def test_it_counts_only_the_part_of_the_first_interval_after_plug_in():
    out = unmanaged_intervals(_session(datetime(2026, 7, 1, 1, 10, tzinfo=UTC), 10.0, kw=12.0))
    assert out[0] == (datetime(2026, 7, 1, 1, 0, tzinfo=UTC), pytest.approx(1.0))  # 5 minutes
    assert out[1][1] == pytest.approx(3.0)
    assert sum(kwh for _, kwh in out) == pytest.approx(10.0)


@pytest.mark.parametrize("kwh, kw", [(0.0, 11.5), (-3.0, 11.5), (5.0, 0.0)])
def test_it_draws_nothing_for_a_session_without_energy_or_power(kwh, kw):
    assert unmanaged_intervals(_session(datetime(2026, 7, 1, tzinfo=UTC), kwh, kw=kw)) == []


def test_full_power_is_the_lower_of_vehicle_and_charger():
    assert full_power_kw(19.2, 11.5) == 11.5
    assert full_power_kw(7.2, None) == 7.2
    assert full_power_kw(None, None) == 0.0


def test_interval_start_is_on_the_quarter_hour_grid():
    assert interval_start(datetime(2026, 7, 1, 3, 44, 59, tzinfo=UTC)) == datetime(
        2026, 7, 1, 3, 30, tzinfo=UTC
    )
