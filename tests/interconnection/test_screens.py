"""Each fast-track screen passes or fails with its reason."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

from enrollment.interconnection import screens

CHARGER = SimpleNamespace(
    maker="Wallbox", model="Quasar 2", current_type="dc", max_discharge_kw=11.5,
    backup_capable=True, cert_ul9741=True, cert_ul1741_sb=True, cert_sae_j3072=False,
    certifications=["UL 9741", "UL 1741-SB"],
)  # fmt: skip
VEHICLE = SimpleNamespace(model="F-150 Lightning", max_discharge_kw=9.6, partner_id=1)
BASE = screens.ScreenInput(
    configuration="grid_parallel_v2h", vehicle=VEHICLE, charger=CHARGER,
    transfer_switch_model="", requested_export_kw=9.6, panel_rating_amps=200,
    busbar_rating_amps=200, main_breaker_amps=200, backfeed_breaker_amps=40,
    pair_allows_mode=True, fast_track_max_export_kw=11.5,
    transformer=SimpleNamespace(code="T-1", export_threshold_kw=40),
    other_export_on_transformer_kw=20,
)  # fmt: skip


def _results(data):
    return {r.screen: r for r in screens.evaluate(data)}


def test_it_passes_a_typical_grid_parallel_v2h():
    results = _results(BASE)
    assert set(results) == {
        "equipment_certified", "approved_list", "export_limit", "busbar_120",
        "panel_rating", "transformer_aggregate",
    }  # fmt: skip
    assert all(r.passed for r in results.values()), results


def test_it_applies_the_busbar_120_percent_rule():
    assert _results(replace(BASE, backfeed_breaker_amps=50))["busbar_120"].passed is False
    assert "exceeds 240" in _results(replace(BASE, backfeed_breaker_amps=50))["busbar_120"].detail


def test_it_fails_uncertified_equipment_with_the_missing_certificate():
    uncertified = SimpleNamespace(**{**vars(CHARGER), "cert_ul1741_sb": False})
    result = _results(replace(BASE, charger=uncertified))["equipment_certified"]
    assert not result.passed and "UL 1741-SB" in result.detail


def test_it_limits_export_to_the_smallest_of_policy_evse_and_vehicle():
    result = _results(replace(BASE, requested_export_kw=10.0))["export_limit"]
    assert not result.passed and "vehicle discharge rating 9.6" in result.detail


def test_it_sums_export_behind_the_transformer():
    assert not _results(replace(BASE, other_export_on_transformer_kw=35))[
        "transformer_aggregate"
    ].passed
    assert not _results(replace(BASE, transformer=None))["transformer_aggregate"].passed


def test_it_checks_the_main_breaker_against_the_panel():
    assert not _results(replace(BASE, main_breaker_amps=225))["panel_rating"].passed


def test_it_fails_a_pair_not_on_the_approved_list():
    assert not _results(replace(BASE, pair_allows_mode=False))["approved_list"].passed


def test_backup_only_takes_the_simplified_screens():
    results = _results(
        replace(
            BASE, configuration="backup_v2h", transfer_switch_model="Ford Home Integration System"
        )
    )
    assert set(results) == {"equipment_certified", "approved_list", "transfer_switch"}
    assert all(r.passed for r in results.values())
    assert not _results(replace(BASE, configuration="backup_v2h"))["transfer_switch"].passed


def test_charge_only_has_no_screens():
    assert screens.evaluate(replace(BASE, configuration="charge_only")) == []
