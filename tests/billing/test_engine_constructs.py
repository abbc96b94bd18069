"""Each tariff construct on a small synthetic tariff, the expected bill worked out by hand."""

from __future__ import annotations

from decimal import Decimal

from billing.rates.engine import MonthUsage, aggregate, bill_month, compute_bills
from billing.rates.schedule import TariffSchedule
from billing.rates.urdb import parse_urdb
from tests.billing.rates_support import LA, UTC_ZONE, at, flat_grid, lines_by_label, synthetic


def two_period(fields=None, *, weekend_period=0):
    """Period 1 on weekday hours 16-20 (all months), period 0 otherwise; weekends all one period."""
    weekday = [[1 if 16 <= hour <= 20 else 0 for hour in range(24)] for _ in range(12)]
    base = synthetic(
        energyratestructure=[[{"rate": 0.10}], [{"rate": 0.30}]],
        energytoulabels=["Off-peak", "On-peak"],
        energyweekdayschedule=weekday,
        energyweekendschedule=flat_grid(weekend_period),
    )
    base.update(fields or {})
    return parse_urdb(base)


def test_tiers_crossing_split_pro_rata_between_tou_periods():
    schedule = two_period(
        {
            "energyratestructure": [
                [{"rate": 0.10, "max": 100}, {"rate": 0.20}],
                [{"rate": 0.30, "max": 100}, {"rate": 0.40}],
            ]
        }
    )
    usage = MonthUsage(
        year=2024, month=3, days=31, import_kwh_by_period={0: Decimal(60), 1: Decimal(90)}
    )
    bill = bill_month(schedule, usage)
    # month 150 kWh on the tier bounds: tier 1 100 kWh, tier 2 50 kWh.
    # off-peak has 60/150 = 0.4 of the month: 40 kWh tier 1, 20 kWh tier 2
    # on-peak 0.6: 60 kWh tier 1, 30 kWh tier 2
    # 40 × 0.10 = 4.00; 20 × 0.20 = 4.00; 60 × 0.30 = 18.00; 30 × 0.40 = 12.00; total 38.00
    assert [(line.quantity, line.amount) for line in bill.lines] == [
        (Decimal(40), Decimal("4.00")),
        (Decimal(20), Decimal("4.00")),
        (Decimal(60), Decimal("18.00")),
        (Decimal(30), Decimal("12.00")),
    ]
    assert bill.lines[1].label == "Energy, Off-peak, tier 2 (over 100 kWh)"
    assert bill.total == Decimal("38.00")


def test_tier_shares_round_to_a_watt_hour_and_add_up_to_the_metered_kwh():
    schedule = two_period(
        {
            "energyratestructure": [
                [{"rate": 0.10, "max": 10}, {"rate": 0.20}],
                [{"rate": 0.30, "max": 10}, {"rate": 0.40}],
            ]
        }
    )
    usage = MonthUsage(
        year=2024, month=3, days=31, import_kwh_by_period={0: Decimal(10), 1: Decimal(20)}
    )
    bill = bill_month(schedule, usage)
    # tier 1 10 kWh, tier 2 20 kWh; off-peak 1/3: 3.333 + 6.667 (remainder) = 10
    quantities = [line.quantity for line in bill.lines]
    assert quantities[:2] == [Decimal("3.333"), Decimal("6.667")]
    assert sum(quantities[:2]) == Decimal(10) and sum(quantities[2:]) == Decimal(20)


def test_export_is_credited_at_the_sell_rate():
    schedule = parse_urdb(synthetic(energyratestructure=[[{"rate": 0.20, "sell": 0.05}]]))
    intervals = [at(LA, 2024, 5, 1, 10, kwh=10), at(LA, 2024, 5, 1, 13, kwh=-4)]
    (bill,) = compute_bills(schedule, intervals, LA)
    # import 10 × 0.20 = 2.00; export 4 × −0.05 = −0.20; total 1.80
    assert lines_by_label(bill) == {
        "Energy, Period 1": Decimal("2.00"),
        "Export credit, Period 1": Decimal("-0.20"),
    }
    assert bill.total == Decimal("1.80")
    assert bill.export_kwh == Decimal(4)


def test_export_without_a_sell_rate_shows_an_uncredited_line():
    schedule = parse_urdb(synthetic())
    (bill,) = compute_bills(schedule, [at(LA, 2024, 5, 1, 13, kwh=-4)], LA)
    (line,) = bill.lines
    assert line.kind == "export" and line.amount == 0 and "not credited" in line.label


def test_daily_fixed_charge_counts_the_days_covered_in_a_partial_month():
    schedule = parse_urdb(synthetic(fixedchargefirstmeter=0.5, fixedchargeunits="$/day"))
    intervals = [at(LA, 2024, 6, day, 12, kwh=1) for day in (3, 4, 9)]
    (bill,) = compute_bills(schedule, intervals, LA)
    # energy 3 × 0.10 = 0.30; customer charge 3 days × 0.50 = 1.50; total 1.80
    assert lines_by_label(bill)["Customer charge (3 days)"] == Decimal("1.50")
    assert bill.total == Decimal("1.80")
    assert bill.partial and bill.period_label == "June 2024 (partial: 3 of 30 days)"


def test_flat_demand_tiers_split_the_monthly_maximum():
    schedule = parse_urdb(synthetic(flatdemandstructure=[[{"rate": 2, "max": 10}, {"rate": 3}]]))
    (bill,) = compute_bills(schedule, [at(LA, 2024, 6, 3, 12, kwh=15)], LA)
    # 15 kW: 10 kW × 2 = 20.00, 5 kW × 3 = 15.00; energy 15 × 0.10 = 1.50; total 36.50
    demand = [(line.quantity, line.amount) for line in bill.lines if line.kind == "demand"]
    assert demand == [(Decimal(10), Decimal("20.00")), (Decimal(5), Decimal("15.00"))]
    assert bill.total == Decimal("36.50")


def test_tou_demand_takes_each_periods_own_maximum():
    weekday = [[1 if 16 <= hour <= 20 else 0 for hour in range(24)] for _ in range(12)]
    schedule = parse_urdb(
        synthetic(
            demandratestructure=[[{"rate": 1}], [{"rate": 10}]],
            demandweekdayschedule=weekday,
            demandweekendschedule=flat_grid(),
        )
    )
    intervals = [
        at(LA, 2024, 6, 3, 12, kwh=20),  # Monday noon: off-peak demand 20 kW
        at(LA, 2024, 6, 3, 17, 0, kwh=2, seconds=900),  # 17:00: 8 kW on-peak
        at(LA, 2024, 6, 4, 18, 0, kwh=1, seconds=900),  # 4 kW on-peak, not the max
    ]
    (bill,) = compute_bills(schedule, intervals, LA)
    # off-peak 20 kW × 1 = 20.00; on-peak 8 kW × 10 = 80.00; energy 23 kWh × 0.10 = 2.30
    assert lines_by_label(bill)["Demand, Period 1"] == Decimal("20.00")
    assert lines_by_label(bill)["Demand, Period 2"] == Decimal("80.00")
    assert bill.total == Decimal("102.30")


def test_minimum_charge_raises_the_bill_with_a_visible_adjustment():
    schedule = parse_urdb(synthetic(mincharge=10, minchargeunits="$/month"))
    (bill,) = compute_bills(schedule, [at(LA, 2024, 6, 3, 12, kwh=1)], LA)
    # energy 1 × 0.10 = 0.10 < 10.00: adjustment 9.90, total 10.00
    assert bill.lines[-1].kind == "minimum"
    assert bill.lines[-1].label.startswith("Minimum charge adjustment")
    assert bill.lines[-1].amount == Decimal("9.90")
    assert bill.total == Decimal("10.00")


def test_daily_minimum_charge_counts_the_days_covered():
    schedule = parse_urdb(synthetic(mincharge=0.5, minchargeunits="$/day"))
    intervals = [at(LA, 2024, 6, day, 12, kwh=1) for day in (3, 4, 5)]
    (bill,) = compute_bills(schedule, intervals, LA)
    # minimum 3 days × 0.50 = 1.50; energy 0.30; adjustment 1.20
    assert bill.lines[-1].amount == Decimal("1.20") and bill.total == Decimal("1.50")


def test_a_bill_above_the_minimum_has_no_adjustment():
    schedule = parse_urdb(synthetic(mincharge=1))
    (bill,) = compute_bills(schedule, [at(LA, 2024, 6, 3, 12, kwh=20)], LA)
    assert [line.kind for line in bill.lines] == ["energy"] and bill.total == Decimal("2.00")


def test_autumn_dst_day_puts_both_one_oclock_hours_in_hour_one():
    # Period 1 only at 01:00 local, period 2 only at 02:00 (weekend map: 3 Nov 2024 is a Sunday).
    weekend = [[{1: 1, 2: 2}.get(hour, 0) for hour in range(24)] for _ in range(12)]
    schedule = parse_urdb(
        synthetic(
            energyratestructure=[[{"rate": 0.1}], [{"rate": 0.2}], [{"rate": 0.3}]],
            energyweekendschedule=weekend,
        )
    )
    # 15-minute intervals from 01:00 PDT (08:00Z) to 02:00 PST (10:00Z): eight of them.
    intervals = [at(UTC_ZONE, 2024, 11, 3, 8, 15 * n, kwh=1, seconds=900) for n in range(4)]
    intervals += [at(UTC_ZONE, 2024, 11, 3, 9, 15 * n, kwh=1, seconds=900) for n in range(4)]
    intervals.append(at(UTC_ZONE, 2024, 11, 3, 10, kwh=1, seconds=900))  # 02:00 PST
    (usage,) = aggregate(schedule, intervals, LA)
    assert usage.import_kwh_by_period == {1: Decimal(8), 2: Decimal(1)}


def test_spring_dst_day_skips_from_0145_to_0300():
    weekend = [[3 if hour == 3 else 1 if hour == 1 else 0 for hour in range(24)] for _ in range(12)]
    schedule = parse_urdb(
        synthetic(
            energyratestructure=[
                [{"rate": 0.1}],
                [{"rate": 0.2}],
                [{"rate": 0.3}],
                [{"rate": 0.4}],
            ],
            energyweekendschedule=weekend,
        )
    )
    # 10 March 2024 09:45Z is 01:45 PST; 10:00Z is 03:00 PDT.
    intervals = [
        at(UTC_ZONE, 2024, 3, 10, 9, 45, kwh=1, seconds=900),
        at(UTC_ZONE, 2024, 3, 10, 10, 0, kwh=2, seconds=900),
    ]
    (usage,) = aggregate(schedule, intervals, LA)
    assert usage.import_kwh_by_period == {1: Decimal(1), 3: Decimal(2)}


def test_weekend_schedule_applies_on_saturday_and_sunday():
    schedule = two_period(weekend_period=0)
    intervals = [
        at(LA, 2024, 6, 7, 17, kwh=1),  # Friday 17:00: on-peak
        at(LA, 2024, 6, 8, 17, kwh=1),  # Saturday 17:00: weekend map, off-peak
        at(LA, 2024, 6, 9, 17, kwh=1),  # Sunday
    ]
    (usage,) = aggregate(schedule, intervals, LA)
    assert usage.import_kwh_by_period == {1: Decimal(1), 0: Decimal(2)}


def test_a_month_is_the_local_month_not_the_utc_one():
    schedule = parse_urdb(synthetic())
    # 1 August 2024 03:00Z is 31 July 20:00 in Los Angeles.
    intervals = [at(UTC_ZONE, 2024, 8, 1, 3, kwh=5), at(UTC_ZONE, 2024, 8, 1, 7, kwh=7)]
    july, august = aggregate(schedule, intervals, LA)
    assert (july.month, july.import_kwh, july.days) == (7, Decimal(5), 1)
    assert (august.month, august.import_kwh) == (8, Decimal(7))  # 00:00 PDT on 1 August


def test_intervals_longer_than_an_hour_are_split_into_hours():
    schedule = two_period()
    # A 2-hour interval from 15:00 on a Monday: 15:00 off-peak, 16:00 on-peak, 3 kWh each.
    (usage,) = aggregate(schedule, [at(LA, 2024, 6, 3, 15, kwh=6, seconds=7200)], LA)
    assert usage.import_kwh_by_period == {0: Decimal(3), 1: Decimal(3)}
    assert usage.max_kw == Decimal(3)


def test_schedule_survives_its_json_round_trip():
    schedule = two_period(
        {
            "flatdemandstructure": [[{"rate": 2, "max": 10}, {"rate": 3, "adj": 0.5}]],
            "fixedchargefirstmeter": 0.5,
            "fixedchargeunits": "$/day",
            "mincharge": 3,
        }
    )
    assert TariffSchedule.from_json(schedule.to_json()) == schedule


def test_a_tariff_without_energy_charges_bills_its_fixed_and_demand_charges():
    schedule = parse_urdb(
        {
            "name": "Demand only",
            "flatdemandstructure": [[{"rate": 5}]],
            "fixedchargefirstmeter": 20,
            "fixedchargeunits": "$/month",
        }
    )
    (bill,) = compute_bills(
        schedule, [at(LA, 2024, 6, 3, 12, kwh=4), at(LA, 2024, 6, 3, 13, kwh=-1)], LA
    )
    # fixed 20.00 + 4 kW × 5 = 20.00; total 40.00 (no energy or export lines)
    assert [line.kind for line in bill.lines] == ["fixed", "demand"]
    assert bill.total == Decimal("40.00")
