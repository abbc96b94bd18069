"""Incentive amounts with concrete numbers: pure functions, no database. Money is Decimal,
rounded half-up to the cent."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from enrollment.incentives.services import (
    InvalidInput,
    as_decimal,
    capacity_payment,
    charger_rebate,
    enrollment_bonus,
    event_performance,
    monthly_credit,
    season_label,
    to_cents,
)


def rebate(*, income_qualified=False, invoice="1200.00", iq_amount=D("600.00")):
    return charger_rebate(
        standard_amount=D("300.00"),
        income_qualified_amount=iq_amount,
        income_qualified=income_qualified,
        invoice_total=D(invoice),
    )


# --- Rounding -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cents"),
    [("0.005", "0.01"), ("0.015", "0.02"), ("0.025", "0.03"), ("2.675", "2.68"), ("-0.005", "-0.01"), ("1.004", "1.00")],
)  # fmt: skip
def test_it_rounds_half_a_cent_up_not_to_even(value, cents):
    assert to_cents(D(value)) == D(cents)


def test_it_reads_floats_through_their_shortest_text():
    assert as_decimal(12.3, name="kWh") == D("12.3")
    assert as_decimal("7", name="kWh") == D("7")
    for bad in ("abc", "NaN", float("inf")):
        with pytest.raises(InvalidInput):
            as_decimal(bad, name="kWh")


# --- Charger rebate -------------------------------------------------------------------------


def test_it_pays_the_standard_rebate_of_300():
    assert rebate().amount == D("300.00")


def test_it_pays_600_to_an_income_qualified_customer():
    result = rebate(income_qualified=True)
    assert result.amount == D("600.00")
    assert "Income-qualified rebate: $600.00." in result.steps


def test_it_caps_the_rebate_at_the_invoice_total():
    assert rebate(invoice="249.99").amount == D("249.99")
    assert rebate(income_qualified=True, invoice="450.00").amount == D("450.00")
    assert rebate(income_qualified=True, invoice="450.00").steps[-1] == (
        "Capped at the invoice total, $450.00."
    )
    assert rebate(invoice="300.004").amount == D("300.00")


def test_it_pays_the_standard_rebate_when_the_offer_has_no_income_qualified_tier():
    result = rebate(income_qualified=True, iq_amount=None)
    assert result.amount == D("300.00")
    assert "This offer has no income-qualified amount." in result.steps


def test_it_refuses_an_invoice_of_nothing():
    with pytest.raises(InvalidInput):
        rebate(invoice="0")


def test_it_pays_the_enrollment_bonus():
    assert enrollment_bonus(amount=D("150")).amount == D("150.00")


# --- Monthly credit -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("opt_outs", "forfeit_at", "expected"),
    [(0, 2, "10.00"), (1, 2, "10.00"), (2, 2, "0.00"), (5, 2, "0.00"), (0, 1, "10.00"), (1, 1, "0.00"), (9, None, "10.00")],
)  # fmt: skip
def test_it_forfeits_the_monthly_credit_after_n_opt_outs(opt_outs, forfeit_at, expected):
    result = monthly_credit(
        amount=D("10.00"), opt_out_count=opt_outs, forfeit_after_opt_outs=forfeit_at
    )
    assert result.amount == D(expected)


def test_it_says_why_a_credit_was_forfeited():
    result = monthly_credit(amount=D("10.00"), opt_out_count=3, forfeit_after_opt_outs=2)
    assert result.steps == ("3 opt-outs this month; the credit is forfeited at 2.",)


def test_it_refuses_a_negative_opt_out_count():
    with pytest.raises(InvalidInput):
        monthly_credit(amount=D("10"), opt_out_count=-1, forfeit_after_opt_outs=2)


# --- Event performance ($/kWh) and capacity ($/kW) ------------------------------------------


def test_it_pays_2_dollars_per_kwh_discharged_in_an_event():
    assert event_performance(rate_per_kwh=D("2"), measured_kwh=D("12.5")).amount == D("25.00")


def test_it_rounds_a_kwh_payment_half_up_to_the_cent():
    # 3.333 kWh × $0.05 = $0.16665 → $0.17
    assert event_performance(rate_per_kwh=D("0.05"), measured_kwh=D("3.333")).amount == D("0.17")
    # 0.1 kWh × $0.05 = $0.005 → $0.01 (banker's rounding would say $0.00)
    assert event_performance(rate_per_kwh=D("0.05"), measured_kwh=D("0.1")).amount == D("0.01")


def test_it_pays_nothing_for_negative_performance():
    result = event_performance(rate_per_kwh=D("2"), measured_kwh=D("-4.2"))
    assert result.amount == D("0.00")
    assert result.steps[0] == "Measured -4.2 kWh is below zero; counted as 0 kWh."


def test_it_stops_event_payments_at_the_season_cap():
    assert event_performance(
        rate_per_kwh=D("2"), measured_kwh=D("60"), earned_this_season=D("950"), season_cap=D("1000")
    ).amount == D("50.00")
    assert event_performance(
        rate_per_kwh=D("2"),
        measured_kwh=D("60"),
        earned_this_season=D("1000"),
        season_cap=D("1000"),
    ).amount == D("0.00")
    assert event_performance(
        rate_per_kwh=D("2"), measured_kwh=D("20"), earned_this_season=D("950"), season_cap=D("1000")
    ).amount == D("40.00")


def test_it_pays_275_dollars_per_kw_season_within_the_cap():
    assert capacity_payment(rate_per_kw=D("275"), measured_kw=D("4.2")).amount == D("1155.00")
    capped = capacity_payment(
        rate_per_kw=D("275"), measured_kw=D("9.6"), earned_this_season=D("0"), season_cap=D("2000")
    )
    assert capped.amount == D("2000.00")  # 9.6 kW × $275 = $2,640, capped
    assert capped.steps == (
        "9.6 kW × $275/kW-season = $2,640.00.",
        "Season cap $2,000.00, of which $0.00 is already earned: $2,000.00.",
    )


# --- Seasons --------------------------------------------------------------------------------

SEASONS = [{"name": "Summer", "months": [6, 7, 8, 9]}, {"name": "Winter", "months": [11, 12, 1, 2]}]


@pytest.mark.parametrize(
    ("day", "label"),
    [(date(2026, 7, 15), "Summer 2026"), (date(2026, 11, 3), "Winter 2026"), (date(2027, 2, 10), "Winter 2026"),
     (date(2026, 12, 31), "Winter 2026"), (date(2026, 4, 1), "Off-season 2026")],
)  # fmt: skip
def test_it_names_the_season_of_a_day_by_the_year_it_starts(day, label):
    assert season_label(seasons=SEASONS, on=day) == label


def test_it_calls_every_month_off_season_without_seasons():
    assert season_label(seasons=[], on=date(2026, 7, 1)) == "Off-season 2026"
